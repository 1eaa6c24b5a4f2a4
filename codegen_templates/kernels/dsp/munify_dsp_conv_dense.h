/* CONV_2D, dense int8 weights, through im2col: 2 rows x 2 output pixels x 4 reduction elements per step,
 * 4 SXTB16 + 8 SMLAD (each widened weight is used for both pixels).
 *
 * Layout dsp-conv2 (toolchain.plan.dsp.pack_conv_dense), reduction k = KH*KW*I padded with zero weights to a
 * multiple of 4, rows padded with a zero row to an even count:
 *   for each pair of rows: for each group of 4 reduction elements: row0[4] row1[4]
 * Scratch (munify_dsp_conv_dense_scratch_size): the requantization table (one munify_dsp_requant per output
 * channel), two widened columns interleaved per group of 4 (colA (x0,x2) (x1,x3), colB (x0,x2) (x1,x3): one
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

MUNIFY_DSP_FN int32_t munify_dsp_conv_dense_scratch_size(const munify_dsp_conv *p)
{
    int32_t k = munify_dsp_round_up4(p->kernel_h * p->kernel_w * p->in_c);
    return (int32_t)sizeof(munify_dsp_requant) * p->out_c + 4 * k + (p->pointwise ? 0 : k);
}

/* Output pixels a and b (b may repeat a for an odd last pixel) through all output channels. */
MUNIFY_DSP_FN void conv_pixel_pair(const munify_dsp_conv *p, const munify_dsp_requant *requant,
                                   const uint32_t *columns, int8_t *out_a, int8_t *out_b)
{
    int32_t groups = munify_dsp_round_up4(p->kernel_h * p->kernel_w * p->in_c) >> 2;
    const munify_dsp_quant q = p->q; /* a local copy: the int8 output stores could alias p->q */
    const int8_t *w = p->weights;
    for (int32_t r = 0; r < p->out_c; r += 2, w += 8 * groups) {
        int32_t second = r + 1 < p->out_c;
        int32_t acc[4] = {p->bias[r], p->bias[r], second ? p->bias[r + 1] : 0, second ? p->bias[r + 1] : 0};
        conv_dot_2x2(w, columns, groups, acc);
        out_a[r] = munify_dsp_output_fast(acc[0], &requant[r], &q);
        out_b[r] = munify_dsp_output_fast(acc[1], &requant[r], &q);
        if (second) {
            out_a[r + 1] = munify_dsp_output_fast(acc[2], &requant[r + 1], &q);
            out_b[r + 1] = munify_dsp_output_fast(acc[3], &requant[r + 1], &q);
        }
    }
}

MUNIFY_DSP_FN void munify_dsp_conv_dense_s8(const munify_dsp_conv *p, const int8_t *input, int8_t *output,
                                            int16_t *scratch)
{
    int32_t k = p->kernel_h * p->kernel_w * p->in_c;
    munify_dsp_requant *requant = (munify_dsp_requant *)(void *)scratch;
    uint32_t *columns = (uint32_t *)(requant + p->out_c);
    int8_t *im2col = (int8_t *)(columns + munify_dsp_round_up4(k));
    int32_t pixels = p->out_h * p->out_w;
    munify_dsp_prepare_requant(&p->q, p->out_c, requant);
    for (int32_t pixel = 0; pixel < pixels; pixel += 2) {
        int32_t other = pixel + 1 < pixels ? pixel + 1 : pixel;
        munify_dsp_widen_pairs(munify_dsp_conv_patch(p, input, pixel / p->out_w, pixel % p->out_w, im2col), k, columns, 4);
        munify_dsp_widen_pairs(munify_dsp_conv_patch(p, input, other / p->out_w, other % p->out_w, im2col), k, columns + 2,
                               4);
        conv_pixel_pair(p, requant, columns, output + pixel * p->out_c, output + other * p->out_c);
    }
}

#endif
