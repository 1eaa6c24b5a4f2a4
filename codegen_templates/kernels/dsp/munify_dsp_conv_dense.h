/* CONV_2D, dense int8 weights, through im2col: 2 rows x 2 output pixels x 4 reduction elements per step,
 * 4 SXTB16 + 8 SMLAD (each widened weight is used for both pixels).
 *
 * Layout dsp-conv2 (toolchain.plan.kernels.dsp.kernels.pack_conv_dense), reduction k = KH*KW*I padded with
 * zero weights to a multiple of 4, rows padded with a zero row to an even count:
 *   for each pair of rows: for each group of 4 reduction elements: row0[4] row1[4]
 * Scratch (munify_dsp_conv_dense_scratch_size): the requantization table (one munify_dsp_requant per output
 * channel), two accumulators per output channel, two widened columns interleaved per group of 4 (colA (x0,x2) (x1,x3), colB (x0,x2) (x1,x3): one
 * LDM), then the int8 im2col column.
 */
#ifndef MUNIFY_DSP_CONV_DENSE_H
#define MUNIFY_DSP_CONV_DENSE_H

#include "munify_dsp.h"

/* r0 = weights of a row pair, r1 = interleaved columns, r2 = groups (>= 1), r3 = acc[4] =
 * {row0 colA, row0 colB, row1 colA, row1 colB}. */
#define CONV2X2_STEP                                                                                         \
    "ldm    r1!, {r9, r10, r11, r12}\n\t"                                                                    \
    "ldrd   r7, r8, [r0], #8\n\t"                                                                            \
    "sxtb16 lr, r7\n\t"                                                                                      \
    "sxtb16 r7, r7, ror #8\n\t"                                                                              \
    "smlad  r3, lr, r9, r3\n\t"                                                                              \
    "smlad  r4, lr, r11, r4\n\t"                                                                             \
    "smlad  r3, r7, r10, r3\n\t"                                                                             \
    "smlad  r4, r7, r12, r4\n\t"                                                                             \
    "sxtb16 lr, r8\n\t"                                                                                      \
    "sxtb16 r8, r8, ror #8\n\t"                                                                              \
    "smlad  r5, lr, r9, r5\n\t"                                                                              \
    "smlad  r6, lr, r11, r6\n\t"                                                                             \
    "smlad  r5, r8, r10, r5\n\t"                                                                             \
    "smlad  r6, r8, r12, r6\n\t"

MUNIFY_ASM_FUNCTION conv_dot_2x2(MUNIFY_ASM_ARG const int8_t *weights, MUNIFY_ASM_ARG const uint32_t *columns,
                                 MUNIFY_ASM_ARG int32_t groups, MUNIFY_ASM_ARG int32_t *acc)
{
    __asm volatile("push   {r3-r11, lr}\n\t"
                   "ldm    r3, {r3, r4, r5, r6}\n\t"
                   "tst    r2, #1\n\t"
                   "beq    1f\n\t" CONV2X2_STEP "1:\n\t"
                   "lsrs   r2, r2, #1\n\t"
                   "beq    3f\n\t"
                   "2:\n\t" CONV2X2_STEP CONV2X2_STEP "subs   r2, r2, #1\n\t"
                   "bne    2b\n\t"
                   "3:\n\t"
                   "pop    {r7}\n\t"
                   "stm    r7, {r3, r4, r5, r6}\n\t"
                   "pop    {r4-r11, pc}\n\t");
}

/* The state of the assembly loop over the row pairs of one pixel pair. */
typedef struct {
    const int8_t *weights;
    const uint32_t *columns;
    int32_t groups;
    const int32_t *bias;
    int32_t *acc_a; /* row r of pixel a */
    int32_t *acc_b;
    int32_t row_pairs;
} conv_rows_state;

/* Every full row pair (>= 1) of one pixel pair; the weights run on from pair to pair. r0 = state; in the
 * loop r0 = weights, r1 = columns, r2 = groups left, r3-r6 = accumulators as in conv_dot_2x2. */
MUNIFY_ASM_FUNCTION conv_rows_2x2(MUNIFY_ASM_ARG conv_rows_state *state)
{
    __asm volatile("push   {r0, r4-r11, lr}\n\t"
                   "ldr    r0, [r0]\n\t"
                   "0:\n\t"
                   "ldr    r12, [sp]\n\t"
                   "ldrd   r1, r2, [r12, #4]\n\t"
                   "ldr    r7, [r12, #12]\n\t"
                   "ldrd   r3, r5, [r7], #8\n\t"
                   "str    r7, [r12, #12]\n\t"
                   "mov    r4, r3\n\t"
                   "mov    r6, r5\n\t"
                   "tst    r2, #1\n\t"
                   "beq    1f\n\t" CONV2X2_STEP "1:\n\t"
                   "tst    r2, #2\n\t"
                   "beq    2f\n\t" CONV2X2_STEP CONV2X2_STEP "2:\n\t"
                   "lsrs   r2, r2, #2\n\t"
                   "beq    4f\n\t"
                   "3:\n\t" CONV2X2_STEP CONV2X2_STEP CONV2X2_STEP CONV2X2_STEP "subs   r2, r2, #1\n\t"
                   "bne    3b\n\t"
                   "4:\n\t"
                   "ldr    r12, [sp]\n\t"
                   "ldrd   r7, r8, [r12, #16]\n\t"
                   "strd   r3, r5, [r7], #8\n\t"
                   "strd   r4, r6, [r8], #8\n\t"
                   "strd   r7, r8, [r12, #16]\n\t"
                   "ldr    r7, [r12, #24]\n\t"
                   "subs   r7, r7, #1\n\t"
                   "str    r7, [r12, #24]\n\t"
                   "bne    0b\n\t"
                   "pop    {r0, r4-r11, pc}\n\t");
}

#ifndef MUNIFY_DSP_REQUANT_FOLDED
#define MUNIFY_DSP_REQUANT_FOLDED 0
#endif

#if MUNIFY_DSP_REQUANT_FOLDED
/* Both pixels' outputs of every channel from one table entry whose nudge carries the output offset
 * (munify_dsp_fold_offset): no overflow check, no offset ADD; 19 instructions a channel (25 with a lower
 * bound) against two 14 of munify_dsp_output_run. acc: pixel a's rows, then pixel b's. */
typedef struct {
    const int32_t *acc;
    const munify_dsp_requant *table;
    int8_t *out_a;
    int32_t rows; /* >= 1 */
    int32_t b_minus_a; /* out_b - out_a */
    int32_t act_min;
} conv_pair_output_state;

_Static_assert(offsetof(conv_pair_output_state, acc) == 0 && offsetof(conv_pair_output_state, table) == 4 &&
                   offsetof(conv_pair_output_state, out_a) == 8 && offsetof(conv_pair_output_state, rows) == 12 &&
                   offsetof(conv_pair_output_state, b_minus_a) == 16 &&
                   offsetof(conv_pair_output_state, act_min) == 20,
               "conv_pair_output_state: conv_outputs_pair reads these word offsets");

/* One output: r4 its accumulator, r5-r7 the entry; SSAT, `clamp`, stored to `dst`. */
#define CONV_PAIR_OUTPUT(load, clamp, dst)                                                                   \
    load "add    r10, r4, r4\n\t" "smmulr r10, r10, r5\n\t" "add    r11, r10, r6\n\t"                          \
    "sub    r11, r11, r10, lsr #31\n\t" "asr    r11, r11, r7\n\t" "ssat   r11, #8, r11\n\t" clamp              \
    "strb   r11, " dst "\n\t"
#define CONV_PAIR_OUTPUTS(clamp)                                                                             \
    "push   {r4-r11, lr}\n\t"                                                                                \
    "ldr    r9, [r0, #20]\n\t"                                                                               \
    "ldr    r2, [r0, #16]\n\t"                                                                               \
    "ldm    r0, {r0, r1, r3, r12}\n\t" /* acc, table, out a, rows */                                         \
    "add    r8, r0, r12, lsl #2\n\t"   /* pixel b's accumulators */                                          \
    "add    r12, r3, r12\n\t"                                                                                \
    "1:\n\t"                                                                                                 \
    "ldm    r1!, {r5, r6, r7, r10, r11}\n\t"                                                                 \
    CONV_PAIR_OUTPUT("ldr    r4, [r8], #4\n\t", clamp, "[r3, r2]")                                           \
    CONV_PAIR_OUTPUT("ldr    r4, [r0], #4\n\t", clamp, "[r3], #1")                                           \
    "cmp    r3, r12\n\t"                                                                                     \
    "bne    1b\n\t"                                                                                          \
    "pop    {r4-r11, pc}\n\t"

MUNIFY_ASM_FUNCTION conv_outputs_pair(MUNIFY_ASM_ARG const conv_pair_output_state *state)
{
    __asm volatile(CONV_PAIR_OUTPUTS(""));
}

MUNIFY_ASM_FUNCTION conv_outputs_pair_min(MUNIFY_ASM_ARG const conv_pair_output_state *state)
{
    __asm volatile(CONV_PAIR_OUTPUTS(MUNIFY_DSP_MAX("r11", "r9")));
}

/* A fused pool window (toolchain.plan.fusion): per channel the maximum of pixels a, b, c, d (acc: their rows one
 * after the other, `rows` apart) from one table entry: r0 / r8 a's / d's accumulators, r2 the bytes from a to b.
 * The state's b_minus_a is unused. */
#define CONV_WINDOW_OUTPUTS(clamp)                                                                           \
    "push   {r4-r11, lr}\n\t"                                                                                \
    "ldr    r9, [r0, #20]\n\t"                                                                               \
    "ldm    r0, {r0, r1, r3, r12}\n\t" /* acc, table, out, rows */                                           \
    "lsl    r2, r12, #2\n\t"                                                                                 \
    "add    r8, r0, r2\n\t"                                                                                  \
    "add    r8, r8, r2, lsl #1\n\t"                                                                          \
    "add    r12, r3, r12\n\t"                                                                                \
    "1:\n\t"                                                                                                 \
    "ldr    r5, [r0, r2]\n\t"                                                                                \
    "ldr    r6, [r0, r2, lsl #1]\n\t"                                                                        \
    "ldr    r7, [r8], #4\n\t"                                                                                \
    "ldr    r4, [r0], #4\n\t"                                                                                \
    MUNIFY_DSP_MAX4("r4", "r5", "r6", "r7")                                                                  \
    "ldm    r1!, {r5, r6, r7, r10, r11}\n\t"                                                                 \
    CONV_PAIR_OUTPUT("", clamp, "[r3], #1")                                                                    \
    "cmp    r3, r12\n\t"                                                                                     \
    "bne    1b\n\t"                                                                                          \
    "pop    {r4-r11, pc}\n\t"

MUNIFY_ASM_FUNCTION conv_outputs_window(MUNIFY_ASM_ARG const conv_pair_output_state *state)
{
    __asm volatile(CONV_WINDOW_OUTPUTS(""));
}

MUNIFY_ASM_FUNCTION conv_outputs_window_min(MUNIFY_ASM_ARG const conv_pair_output_state *state)
{
    __asm volatile(CONV_WINDOW_OUTPUTS(MUNIFY_DSP_MAX("r11", "r9")));
}
#endif

MUNIFY_DSP_FN int32_t munify_dsp_conv_dense_scratch_size(const munify_dsp_conv *p)
{
    int32_t k = munify_dsp_round_up4(p->kernel_h * p->kernel_w * p->in_c);
    return (int32_t)(sizeof(munify_dsp_requant) + 2 * sizeof(int32_t)) * p->out_c + 4 * k + (p->pointwise ? 0 : k);
}

/* The accumulators of pixels a and b (the interleaved columns) for every output channel into acc_a, acc_b. */
MUNIFY_DSP_FN void conv_pair_accumulate(const munify_dsp_conv *p, const uint32_t *columns, int32_t *acc_a,
                                        int32_t *acc_b)
{
    int32_t groups = munify_dsp_round_up4(p->kernel_h * p->kernel_w * p->in_c) >> 2;
    int32_t full = p->out_c & ~1;
    if (full > 0) {
        conv_rows_state state = {p->weights, columns, groups, p->bias, acc_a, acc_b, full >> 1};
        conv_rows_2x2(&state);
    }
    if (full < p->out_c) { /* the odd last row, paired with the zero row of the layout */
        int32_t last[4] = {p->bias[full], p->bias[full], 0, 0};
        conv_dot_2x2(p->weights + full * 4 * groups, columns, groups, last);
        acc_a[full] = last[0];
        acc_b[full] = last[1];
    }
}

/* Output pixels a and b (b may repeat a for an odd last pixel) through all output channels; `folded`: the
 * table's nudges carry the output offset (conv_outputs_pair). */
MUNIFY_DSP_FN void conv_pixel_pair(const munify_dsp_conv *p, const munify_dsp_requant *requant, int32_t simple,
                                   int32_t folded, const uint32_t *columns, int32_t *acc, int8_t *out_a,
                                   int8_t *out_b)
{
    const munify_dsp_quant q = p->q; /* a local copy: the int8 output stores could alias p->q */
    int32_t *acc_a = acc, *acc_b = acc + p->out_c;
    conv_pair_accumulate(p, columns, acc_a, acc_b);
#if MUNIFY_DSP_REQUANT_FOLDED
    if (folded) {
        const conv_pair_output_state state = {acc, requant, out_a, p->out_c, (int32_t)(out_b - out_a), q.act_min};
        if (q.act_min == -128) {
            conv_outputs_pair(&state);
        } else {
            conv_outputs_pair_min(&state);
        }
        return;
    }
#endif
    (void)folded;
    munify_dsp_output_run(acc_a, requant, simple, &q, p->out_c, out_a);
    munify_dsp_output_run(acc_b, requant, simple, &q, p->out_c, out_b);
}

MUNIFY_DSP_FN void munify_dsp_conv_dense_s8(const munify_dsp_conv *p, const int8_t *input, int8_t *output,
                                            int16_t *scratch)
{
    int32_t k = p->kernel_h * p->kernel_w * p->in_c;
    munify_dsp_requant *requant = (munify_dsp_requant *)(void *)scratch;
    int32_t *acc = (int32_t *)(requant + p->out_c);
    uint32_t *columns = (uint32_t *)(acc + 2 * p->out_c);
    int8_t *im2col = (int8_t *)(columns + munify_dsp_round_up4(k));
    int32_t pixels = p->out_h * p->out_w;
    int32_t simple = munify_dsp_prepare_requant(&p->q, p->out_c, requant);
    int32_t folded = MUNIFY_DSP_REQUANT_FOLDED && simple && p->q.act_max == 127;
    if (folded) {
        munify_dsp_fold_offset(requant, p->out_c, p->q.output_offset);
    }
    for (int32_t pixel = 0; pixel < pixels; pixel += 2) {
        int32_t other = pixel + 1 < pixels ? pixel + 1 : pixel;
        munify_dsp_widen_pairs(munify_dsp_conv_patch(p, input, pixel / p->out_w, pixel % p->out_w, im2col), k,
                               columns, 4);
        munify_dsp_widen_pairs(munify_dsp_conv_patch(p, input, other / p->out_w, other % p->out_w, im2col), k,
                               columns + 2, 4);
        conv_pixel_pair(p, requant, simple, folded, columns, acc, output + pixel * p->out_c,
                        output + other * p->out_c);
    }
}

/* ---- fused with the 2x2 / stride 2 MAX_POOL_2D after it (toolchain.plan.fusion) -------------------------
 * A pool window is two pixel pairs, (2py, 2px) (2py, 2px + 1) then the row below, each run as any pair; per
 * channel the maximum of the four accumulators is requantized once (exact: the requantization and the clamps
 * never decrease with the accumulator). Scratch: four accumulators per channel instead of two. */
MUNIFY_DSP_FN int32_t munify_dsp_conv_dense_pool_scratch_size(const munify_dsp_conv *p)
{
    return munify_dsp_conv_dense_scratch_size(p) + 2 * (int32_t)sizeof(int32_t) * p->out_c;
}

/* The window's four accumulators of every channel (acc: pixel a's, b's, c's, d's rows) into out[0 .. out_c). */
MUNIFY_DSP_FN void conv_window_outputs(const munify_dsp_conv *p, const munify_dsp_requant *requant, int32_t simple,
                                       int32_t folded, int32_t *acc, int8_t *out)
{
    const munify_dsp_quant q = p->q; /* a local copy: the int8 output stores could alias p->q */
#if MUNIFY_DSP_REQUANT_FOLDED
    if (folded) {
        const conv_pair_output_state state = {acc, requant, out, p->out_c, 0, q.act_min};
        if (q.act_min == -128) {
            conv_outputs_window(&state);
        } else {
            conv_outputs_window_min(&state);
        }
        return;
    }
#endif
    (void)folded;
    for (int32_t c = 0; c < p->out_c; ++c) {
        for (int32_t i = 1; i < 4; ++i) {
            acc[c] = acc[c + i * p->out_c] > acc[c] ? acc[c + i * p->out_c] : acc[c];
        }
    }
    munify_dsp_output_run(acc, requant, simple, &q, p->out_c, out);
}

/* Output [pool_h, pool_w, out_c]: the pool of the conv's output, pixels the pool does not read never computed. */
MUNIFY_DSP_FN void munify_dsp_conv_dense_pool_s8(const munify_dsp_conv *p, int32_t pool_h, int32_t pool_w,
                                                 const int8_t *input, int8_t *output, int16_t *scratch)
{
    int32_t k = p->kernel_h * p->kernel_w * p->in_c;
    munify_dsp_requant *requant = (munify_dsp_requant *)(void *)scratch;
    int32_t *acc = (int32_t *)(requant + p->out_c);
    uint32_t *columns = (uint32_t *)(acc + 4 * p->out_c);
    int8_t *im2col = (int8_t *)(columns + munify_dsp_round_up4(k));
    int32_t simple = munify_dsp_prepare_requant(&p->q, p->out_c, requant);
    int32_t folded = MUNIFY_DSP_REQUANT_FOLDED && simple && p->q.act_max == 127;
    if (folded) {
        munify_dsp_fold_offset(requant, p->out_c, p->q.output_offset);
    }
    int8_t *out = output;
    for (int32_t py = 0; py < pool_h; ++py) {
        for (int32_t px = 0; px < pool_w; ++px, out += p->out_c) {
            for (int32_t half = 0; half < 2; ++half) {
                int32_t oy = 2 * py + half;
                munify_dsp_widen_pairs(munify_dsp_conv_patch(p, input, oy, 2 * px, im2col), k, columns, 4);
                munify_dsp_widen_pairs(munify_dsp_conv_patch(p, input, oy, 2 * px + 1, im2col), k, columns + 2, 4);
                conv_pair_accumulate(p, columns, acc + 2 * half * p->out_c, acc + (2 * half + 1) * p->out_c);
            }
            conv_window_outputs(p, requant, simple, folded, acc, out);
        }
    }
}

#endif
