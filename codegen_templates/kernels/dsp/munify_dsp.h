/* munify DSP kernels for Cortex-M cores with the DSP extension (M4, M7, M33, M55).
 *
 * All kernels are int8 in / int8 out with int32 accumulators and the TFLite Micro requantization
 * (MultiplyByQuantizedMultiplier with double rounding), bit-exact with toolchain.ir.reference.
 * Weights are packed by toolchain.plan.dsp; each kernel documents its packed layout.
 * Inputs are widened once per vector to int16 pairs (x + input_offset) so the inner loops are
 * SMLAD (dense), USAD8/USADA8 (unified sign-mask) or table loads (unified LUT).
 */
#ifndef MUNIFY_DSP_H
#define MUNIFY_DSP_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__ARM_FEATURE_DSP)
#error "munify DSP kernels need a core with the DSP extension (-mcpu=cortex-m4/m7/m33/m55)"
#endif

/* Inner loops are naked functions in Thumb-2 assembly: gcc 12 schedules the ACLE intrinsics 1.4-1.7x worse.
 * Their arguments arrive in r0-r3 (AAPCS) and are only read by the assembly. */
#define MUNIFY_ASM_FUNCTION __attribute__((naked, noinline)) static void
#define MUNIFY_ASM_ARG __attribute__((unused))

/* Requantization of one layer: output = clamp(MBQM(acc, multiplier[c], shift[c]) + output_offset). */
typedef struct {
    int32_t input_offset;  /* -input zero point, in [-127, 128] */
    int32_t output_offset; /* output zero point */
    int32_t act_min;
    int32_t act_max;
    const int32_t *multiplier; /* per output channel */
    const int32_t *shift;      /* per output channel, TFLite convention: > 0 shifts left */
} munify_dsp_quant;

/* FULLY_CONNECTED (and 1x1 convolution of one pixel), all blocks dense. */
typedef struct {
    int32_t rows;          /* output features */
    int32_t cols;          /* input features */
    int32_t batches;
    const int8_t *weights; /* pack_fc_dense: rows in groups of 4, interleaved per 4 inputs */
    const int32_t *bias;   /* rows entries */
    munify_dsp_quant q;
} munify_dsp_fc;

/* CONV_2D through im2col, all blocks dense. Filter [O, KH, KW, I] viewed as [O, KH*KW*I]. */
typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    const int8_t *weights; /* pack_conv_dense: rows in pairs, interleaved per 4 reduction elements */
    const int32_t *bias;
    munify_dsp_quant q;
} munify_dsp_conv;

/* DEPTHWISE_CONV_2D with depth multiplier 1. */
typedef struct {
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    const int16_t *weights; /* pack_depthwise: [KH*KW][channels rounded up to 4], int16, (c0,c2,c1,c3) order */
    const int32_t *bias;
    munify_dsp_quant q;
} munify_dsp_depthwise;

/* FULLY_CONNECTED over a block-structured weight (dense, unified and pruned 1 x bi blocks, bi = 4 or 8).
 * Each row has a list of dense blocks and a list of unified blocks; pruned blocks are simply absent.
 * The bias is pre-adjusted by the plan for the constant terms of the sign-mask trick (see pack_fc_blocks). */
typedef struct {
    int32_t rows, cols, batches;
    int32_t block_cols;          /* bi: 4 or 8 */
    const uint16_t *row_counts;  /* per row: number of dense blocks, number of unified blocks */
    const uint16_t *dense_index; /* input group of each dense block, in units of bi inputs */
    const int8_t *dense_weights; /* bi int8 weights per dense block */
    const uint16_t *unified_index;
    const uint8_t *unified_masks; /* bi bytes per unified block: 0xFF where the weight is negative */
    const uint8_t *unified_signs; /* or, when unified_masks is NULL: one sign byte per unified block (bi = 8) */
    const int16_t *unified_magnitudes;
    const int32_t *bias;
    munify_dsp_quant q;
} munify_dsp_fc_blocks;

void munify_dsp_fc_dense_s8(const munify_dsp_fc *p, const int8_t *input, int8_t *output, int16_t *scratch);
int32_t munify_dsp_fc_dense_scratch_size(const munify_dsp_fc *p);

void munify_dsp_conv_dense_s8(const munify_dsp_conv *p, const int8_t *input, int8_t *output, int16_t *scratch);
int32_t munify_dsp_conv_dense_scratch_size(const munify_dsp_conv *p);

void munify_dsp_depthwise_s8(const munify_dsp_depthwise *p, const int8_t *input, int8_t *output);

void munify_dsp_fc_blocks_s8(const munify_dsp_fc_blocks *p, const int8_t *input, int8_t *output, int16_t *scratch);
int32_t munify_dsp_fc_blocks_scratch_size(const munify_dsp_fc_blocks *p);

/* TFLite Micro MultiplyByQuantizedMultiplier. The truncating division by 2^31 of the nudged product equals
 * an arithmetic shift of (product + 2^30) for both signs, so SaturatingRoundingDoublingHighMul is one SMULL
 * and an add; the multiplier is never INT32_MIN, so it never saturates. */
static inline int32_t munify_dsp_requantize(int32_t acc, int32_t multiplier, int32_t shift)
{
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    int64_t product = (int64_t)(int32_t)((uint32_t)acc << left) * multiplier;
    int32_t high = (int32_t)((product + (1 << 30)) >> 31);
    if (right > 0) {
        high = (high + (1 << (right - 1)) - (high < 0)) >> right;
    }
    return high;
}

static inline int8_t munify_dsp_output(int32_t acc, const munify_dsp_quant *q, int32_t channel)
{
    int32_t v = munify_dsp_requantize(acc, q->multiplier[channel], q->shift[channel]) + q->output_offset;
    v = v < q->act_min ? q->act_min : v;
    return (int8_t)(v > q->act_max ? q->act_max : v);
}

/* Shared helpers (dsp_common.c). */

/* Widen n int8 values (n rounded up to 4 with zeros) to int16 x + offset, in the SXTB16 pair order of the
 * weights: for every 4 inputs, the words (x0, x2) and (x1, x3). */
void munify_dsp_widen_pairs(const int8_t *x, int32_t n, int32_t offset, int16_t *out);

#endif
