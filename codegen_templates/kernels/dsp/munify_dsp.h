/* munify DSP kernels for Cortex-M cores with the DSP extension (M4, M7, M33, M55).
 *
 * All kernels are int8 in / int8 out with int32 accumulators and the TFLite Micro requantization
 * (MultiplyByQuantizedMultiplier with double rounding), bit-exact with toolchain.ir.reference.
 * The bias has the input-offset term folded in (bias - input_zp * row sum of the weights), so the kernels
 * multiply the raw int8 inputs and padding taps read the input zero point.
 * Weights are packed by toolchain.plan.kernels.dsp.kernels; each kernel documents its packed layout.
 * Inputs are widened once per vector to int16 pairs so the inner loops are SMLAD (dense), USAD8/USADA8
 * (unified sign-mask) or table loads (unified LUT).
 *
 * The kernels are header-only (static functions), one header per kernel, included by the generated layer
 * sources (one translation unit per layer); the code generator copies them beside the model.
 */
#ifndef MUNIFY_DSP_H
#define MUNIFY_DSP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arm_acle.h>

#if !defined(__ARM_FEATURE_DSP)
#error "munify DSP kernels need a core with the DSP extension (-mcpu=cortex-m4/m7/m33/m55)"
#endif

#define MUNIFY_DSP_FN __attribute__((unused)) static

/* Inner loops are naked functions in Thumb-2 assembly: gcc 12 schedules the ACLE intrinsics 1.4-1.7x worse.
 * Their arguments arrive in r0-r3 (AAPCS) and are only read by the assembly. */
#define MUNIFY_ASM_FUNCTION __attribute__((naked, noinline, unused)) static void
#define MUNIFY_ASM_ARG __attribute__((unused))

/* Assembly text: dst = max(dst, src), signed (a pool window's maximum; a lower activation bound). */
#define MUNIFY_DSP_MAX(dst, src) "cmp    " dst ", " src "\n\t" "it     lt\n\t" "movlt  " dst ", " src "\n\t"
#define MUNIFY_DSP_MAX4(a, b, c, d) MUNIFY_DSP_MAX(a, b) MUNIFY_DSP_MAX(a, c) MUNIFY_DSP_MAX(a, d)

/* Requantization of one layer: output = clamp(MBQM(acc, multiplier[c], shift[c]) + output_offset). */
typedef struct {
    int32_t output_offset; /* output zero point */
    int32_t act_min;
    int32_t act_max;
    const int32_t *multiplier; /* per output channel, or one entry */
    const int32_t *shift;      /* TFLite convention: > 0 shifts left */
    int32_t channel_mask;      /* -1 per channel, 0 per tensor (every channel reads entry 0) */
} munify_dsp_quant;

/* FULLY_CONNECTED, all blocks dense. */
typedef struct {
    int32_t rows;          /* output features */
    int32_t cols;          /* input features */
    int32_t batches;
    const int8_t *weights; /* layout dsp-fc4 */
    const int32_t *bias;   /* rows entries, input offset folded in */
    munify_dsp_quant q;
} munify_dsp_fc;

/* CONV_2D through im2col (or straight from the input when pointwise), all blocks dense.
 * Filter [O, KH, KW, I] viewed as [O, KH*KW*I]. */
typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t pad_value;     /* input zero point */
    int32_t pointwise;     /* 1x1, no padding: the input pixel is the column */
    const int8_t *weights; /* layout dsp-conv2 */
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
    const int8_t *pad_row; /* `channels` bytes of the input zero point, read by padding taps */
    const int8_t *weights; /* layout dsp-dw */
    const int32_t *bias;
    munify_dsp_quant q;
} munify_dsp_depthwise;

/* SaturatingRoundingDoublingHighMul(acc, multiplier): the truncating division by 2^31 of the nudged product
 * equals an arithmetic shift of (product + 2^30) for both signs. While 2 * acc fits in int32 that is one
 * SMMULR of 2 * acc; otherwise the 64-bit sum. The multiplier is never INT32_MIN, so it never saturates. */
static inline int32_t munify_dsp_high_mul(int32_t acc, int32_t multiplier)
{
    int32_t doubled;
    if (__builtin_expect(__builtin_add_overflow(acc, acc, &doubled), 0)) {
        return (int32_t)(((int64_t)acc * multiplier + (1 << 30)) >> 31);
    }
    int32_t high;
    __asm("smmulr %0, %1, %2" : "=r"(high) : "r"(doubled), "r"(multiplier));
    return high;
}

/* Clamp to the activation range after saturating to int8; the comparisons vanish when the range is the whole
 * int8 range and the kernel is specialised with constant parameters. */
static inline int8_t munify_dsp_clamp(int32_t v, const munify_dsp_quant *q)
{
    v = __ssat(v, 8);
    if (q->act_min > -128 && v < q->act_min) {
        v = q->act_min;
    }
    if (q->act_max < 127 && v > q->act_max) {
        v = q->act_max;
    }
    return (int8_t)v;
}

/* TFLite Micro MultiplyByQuantizedMultiplier: RoundingDivideByPOT by r > 0 is (x + 2^(r-1) - (x < 0)) >> r.
 * Left shifts (multipliers above 1) are rare and take the branch. */
static inline int32_t munify_dsp_requantize(int32_t acc, int32_t multiplier, int32_t shift)
{
    if (__builtin_expect(shift > 0, 0)) {
        acc = (int32_t)((uint32_t)acc << shift);
        shift = 0;
    }
    int32_t high = munify_dsp_high_mul(acc, multiplier);
    int32_t right = -shift;
    int32_t nudge = (1 << right) >> 1;
    int32_t negative = right > 0 ? (int32_t)((uint32_t)high >> 31) : 0;
    return (high + nudge - negative) >> right;
}

static inline int8_t munify_dsp_output(int32_t acc, const munify_dsp_quant *q, int32_t channel)
{
    channel &= q->channel_mask;
    return munify_dsp_clamp(munify_dsp_requantize(acc, q->multiplier[channel], q->shift[channel]) + q->output_offset,
                            q);
}

/* One output channel's requantization with every per-channel decision taken in advance, so the per-output
 * path has no branch: RoundingDivideByPOT(x, right) = (x + nudge - (x < 0 when right > 0)) >> right, where
 * the sign bit comes from an LSR by sign_shift = 31, or by 32 (which yields 0) when right is 0. */
typedef struct {
    int32_t multiplier;
    int32_t nudge;
    int32_t right;
    int32_t left;
    int32_t sign_shift;
} munify_dsp_requant;

/* Fills the table; returns 1 when every channel shifts right and none left (munify_dsp_output_run's fast path). */
MUNIFY_DSP_FN int32_t munify_dsp_prepare_requant(const munify_dsp_quant *q, int32_t channels, munify_dsp_requant *table)
{
    int32_t simple = 1;
    for (int32_t c = 0; c < channels; ++c) {
        int32_t index = c & q->channel_mask;
        int32_t shift = q->shift[index];
        int32_t right = shift > 0 ? 0 : -shift;
        table[c].multiplier = q->multiplier[index];
        table[c].left = shift > 0 ? shift : 0;
        table[c].nudge = right > 0 ? 1 << (right - 1) : 0;
        table[c].right = right;
        table[c].sign_shift = right > 0 ? 31 : 32;
        simple &= right > 0;
    }
    return simple;
}

static inline int8_t munify_dsp_output_fast(int32_t acc, const munify_dsp_requant *rq, const munify_dsp_quant *q)
{
    acc = (int32_t)((uint32_t)acc << rq->left);
    int32_t high = munify_dsp_high_mul(acc, rq->multiplier);
    uint32_t negative;
    __asm("lsr %0, %1, %2" : "=r"(negative) : "r"(high), "r"(rq->sign_shift));
    return munify_dsp_clamp(((high + rq->nudge - (int32_t)negative) >> rq->right) + q->output_offset, q);
}

/* The requantization of n accumulators in assembly, for tables where every channel shifts right only. */
typedef struct {
    const int32_t *acc;
    const munify_dsp_requant *table;
    int8_t *out;
    int32_t count; /* >= 1 */
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
} munify_dsp_output_state;

_Static_assert(offsetof(munify_dsp_output_state, acc) == 0 && offsetof(munify_dsp_output_state, table) == 4 &&
                   offsetof(munify_dsp_output_state, out) == 8 && offsetof(munify_dsp_output_state, count) == 12 &&
                   offsetof(munify_dsp_output_state, output_offset) == 16 &&
                   offsetof(munify_dsp_output_state, act_min) == 20 && offsetof(munify_dsp_output_state, act_max) == 24,
               "munify_dsp_output_state: the output loops read these word offsets");
_Static_assert(offsetof(munify_dsp_requant, multiplier) == 0 && offsetof(munify_dsp_requant, nudge) == 4 &&
                   offsetof(munify_dsp_requant, right) == 8 && offsetof(munify_dsp_requant, left) == 12 &&
                   offsetof(munify_dsp_requant, sign_shift) == 16 && sizeof(munify_dsp_requant) == 20,
               "munify_dsp_requant: the output loops load an entry with one LDM of five words");

/* One output up to SSAT, r4 = acc, r1 = table entry (advanced), r2 = output offset; result in r11. The
 * overflow path (2 * acc does not fit) is at the local label 8, which returns to 2. */
#define MUNIFY_OUTPUT_HEAD(step)                                                                             \
    "ldr    r4, [r0], #" step "\n\t"                                                                         \
    "ldm    r1!, {r5, r6, r7, r10, r11}\n\t" /* r10, r11 (left, sign_shift) are scratch here */            \
    "adds   r10, r4, r4\n\t"                                                                                \
    "bvs    8f\n\t"                                                                                         \
    "smmulr r10, r10, r5\n\t"                                                                               \
    "2:\n\t"                                                                                                \
    "add    r11, r10, r6\n\t"                                                                               \
    "sub    r11, r11, r10, lsr #31\n\t"                                                                     \
    "asr    r11, r11, r7\n\t"                                                                               \
    "add    r11, r11, r2\n\t"                                                                               \
    "ssat   r11, #8, r11\n\t"
#define MUNIFY_OUTPUT_TAIL(loop)                                                                             \
    "strb   r11, [r3], #1\n\t"                                                                              \
    "subs   r12, r12, #1\n\t"                                                                               \
    "bne    " loop "\n\t"                                                                                    \
    "pop    {r4-r11, pc}\n\t"
#define MUNIFY_OUTPUT_OVERFLOW                                                                               \
    "8:\n\t"                                                                                                \
    "smull  r10, r11, r4, r5\n\t"                                                                           \
    "adds   r10, r10, #0x40000000\n\t"                                                                      \
    "adc    r11, r11, #0\n\t"                                                                               \
    "lsr    r10, r10, #31\n\t"                                                                              \
    "orr    r10, r10, r11, lsl #1\n\t"                                                                      \
    "b      2b\n\t"

/* Per output: the table entry, SMMULR of 2 * acc (the 64-bit sum when 2 * acc overflows), then
 * (high + nudge - (high < 0)) >> right, the offset, SSAT, and only the activation bounds inside int8. The
 * accumulators are `step` bytes apart. */
#define MUNIFY_OUTPUT_LOOPS(step)                                                                            \
    "push   {r4-r11, lr}\n\t"                                                                                \
    "ldr    r2, [r0, #16]\n\t"                                                                               \
    "ldrd   r8, r9, [r0, #20]\n\t"                                                                           \
    "ldm    r0, {r0, r1, r3, r12}\n\t"                                                                       \
    "cmp    r9, #127\n\t"                                                                                    \
    "bne    30f\n\t"                                                                                         \
    "cmn    r8, #128\n\t"                                                                                    \
    "bne    20f\n\t"                                                                                         \
    "10:\n\t" MUNIFY_OUTPUT_HEAD(step) MUNIFY_OUTPUT_TAIL("10b") MUNIFY_OUTPUT_OVERFLOW                        \
    "20:\n\t" MUNIFY_OUTPUT_HEAD(step)                                                                         \
    "cmp    r11, r8\n\t"                                                                                     \
    "it     lt\n\t"                                                                                          \
    "movlt  r11, r8\n\t" MUNIFY_OUTPUT_TAIL("20b") MUNIFY_OUTPUT_OVERFLOW                                       \
    "30:\n\t" MUNIFY_OUTPUT_HEAD(step)                                                                         \
    "cmp    r11, r8\n\t"                                                                                     \
    "it     lt\n\t"                                                                                          \
    "movlt  r11, r8\n\t"                                                                                     \
    "cmp    r11, r9\n\t"                                                                                     \
    "it     gt\n\t"                                                                                          \
    "movgt  r11, r9\n\t" MUNIFY_OUTPUT_TAIL("30b") MUNIFY_OUTPUT_OVERFLOW

MUNIFY_ASM_FUNCTION munify_dsp_output_simple(MUNIFY_ASM_ARG const munify_dsp_output_state *state)
{
    __asm volatile(MUNIFY_OUTPUT_LOOPS("4"));
}

/* The same over every 4th accumulator (the pixel-interleaved accumulators of the conv pixel quads). */
MUNIFY_ASM_FUNCTION munify_dsp_output_simple_quad(MUNIFY_ASM_ARG const munify_dsp_output_state *state)
{
    __asm volatile(MUNIFY_OUTPUT_LOOPS("16"));
}

/* The output offset into every channel's rounding nudge: nudge + (offset << right), for tables that only shift
 * right and layers whose accumulators never take the overflow path (the plan's requant_folds_offset, which
 * the kernels see as MUNIFY_DSP_REQUANT_FOLDED): ((x + nudge - (x < 0)) >> right) + offset is then
 * (x + nudge + (offset << right) - (x < 0)) >> right. */
MUNIFY_DSP_FN void munify_dsp_fold_offset(munify_dsp_requant *table, int32_t rows, int32_t offset)
{
    for (int32_t r = 0; r < rows; ++r) {
        table[r].nudge = (int32_t)((uint32_t)table[r].nudge + ((uint32_t)offset << table[r].right));
    }
}

/* out[c] = requantized acc[c] for c < n (n >= 1), with the table of munify_dsp_prepare_requant. */
MUNIFY_DSP_FN void munify_dsp_output_run(const int32_t *acc, const munify_dsp_requant *table, int32_t simple,
                                         const munify_dsp_quant *q, int32_t n, int8_t *out)
{
    if (simple) {
        const munify_dsp_output_state state = {acc, table, out, n, q->output_offset, q->act_min, q->act_max};
        munify_dsp_output_simple(&state);
        return;
    }
    for (int32_t c = 0; c < n; ++c) {
        out[c] = munify_dsp_output_fast(acc[c], &table[c], q);
    }
}

/* out[c] = requantized acc[4 * c] for c < n (n >= 1). */
MUNIFY_DSP_FN void munify_dsp_output_run_quad(const int32_t *acc, const munify_dsp_requant *table, int32_t simple,
                                              const munify_dsp_quant *q, int32_t n, int8_t *out)
{
    if (simple) {
        const munify_dsp_output_state state = {acc, table, out, n, q->output_offset, q->act_min, q->act_max};
        munify_dsp_output_simple_quad(&state);
        return;
    }
    for (int32_t c = 0; c < n; ++c) {
        out[c] = munify_dsp_output_fast(acc[4 * c], &table[c], q);
    }
}

static inline uint32_t munify_dsp_load_word(const int8_t *p)
{
    uint32_t w;
    memcpy(&w, p, sizeof w); /* LDR: these cores allow unaligned word loads */
    return w;
}

static inline uint32_t munify_dsp_ror8(uint32_t w)
{
    return (w >> 8) | (w << 24);
}

static inline int32_t munify_dsp_round_up4(int32_t n)
{
    return (n + 3) & ~3;
}

/* Widen n int8 values (padded with zeros to a multiple of 4) to int16 in the SXTB16 order of the packed
 * weights: for every 4 inputs the words (x0, x2) and (x1, x3); consecutive groups `stride` words apart. */
MUNIFY_DSP_FN void munify_dsp_widen_pairs(const int8_t *x, int32_t n, uint32_t *out, int32_t stride)
{
    int32_t full = n >> 2;
    for (int32_t g = 0; g < full; ++g, out += stride) {
        uint32_t w = munify_dsp_load_word(x + 4 * g);
        out[0] = __sxtb16(w);
        out[1] = __sxtb16(munify_dsp_ror8(w));
    }
    int32_t rest = n & 3;
    if (rest) {
        int8_t tail[4] = {0, 0, 0, 0};
        memcpy(tail, x + 4 * full, (size_t)rest);
        uint32_t w = munify_dsp_load_word(tail);
        out[0] = __sxtb16(w);
        out[1] = __sxtb16(munify_dsp_ror8(w));
    }
}

/* The input patch of output pixel (oy, ox): straight from the input when pointwise, else gathered. */
MUNIFY_DSP_FN const int8_t *munify_dsp_conv_patch(const munify_dsp_conv *p, const int8_t *input, int32_t oy,
                                                 int32_t ox, int8_t *im2col)
{
    int32_t iy0 = oy * p->stride_h - p->pad_top;
    int32_t ix0 = ox * p->stride_w - p->pad_left;
    if (p->pointwise) {
        return input + (iy0 * p->in_w + ix0) * p->in_c;
    }
    int8_t *dst = im2col;
    int32_t row_bytes = p->kernel_w * p->in_c;
    int32_t whole_rows = p->dilation_w == 1 && ix0 >= 0 && ix0 + p->kernel_w <= p->in_w;
    for (int32_t ky = 0; ky < p->kernel_h; ++ky) {
        int32_t iy = iy0 + ky * p->dilation_h;
        if (iy < 0 || iy >= p->in_h) {
            memset(dst, p->pad_value, (size_t)row_bytes);
            dst += row_bytes;
        } else if (whole_rows) { /* the kernel row lies inside the input: one copy */
            memcpy(dst, input + (iy * p->in_w + ix0) * p->in_c, (size_t)row_bytes);
            dst += row_bytes;
        } else {
            for (int32_t kx = 0; kx < p->kernel_w; ++kx, dst += p->in_c) {
                int32_t ix = ix0 + kx * p->dilation_w;
                if (ix < 0 || ix >= p->in_w) {
                    memset(dst, p->pad_value, (size_t)p->in_c);
                } else {
                    memcpy(dst, input + (iy * p->in_w + ix) * p->in_c, (size_t)p->in_c);
                }
            }
        }
    }
    return im2col;
}

#endif
