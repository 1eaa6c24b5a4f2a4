/* FULLY_CONNECTED, dense int8 weights: 4 rows x 4 inputs per step, 8 SXTB16 + 8 SMLAD.
 *
 * Layout dsp-fc4 (toolchain.plan.dsp.pack_fc_dense), inputs padded with zero weights to a multiple of 4:
 *   for each group of 4 rows: for each group of 4 inputs: row0[4] row1[4] row2[4] row3[4]
 *   then the rows % 4 remaining rows, one after the other, 4 inputs at a time.
 * Scratch: the input widened to int16 pairs, munify_dsp_fc_dense_scratch_size() bytes.
 */
#ifndef MUNIFY_DSP_FC_DENSE_H
#define MUNIFY_DSP_FC_DENSE_H

#include "munify_dsp.h"

/* acc[r] += W(4 rows) . x over `groups` groups of 4 inputs. r0 = weights, r1 = widened input, r2 = groups
 * (>= 1), r3 = acc; the weights pointer is not written back (the caller advances it). */
#define FC4_STEP                                                                                             \
    "ldm    r0!, {r7, r8, r9, r10}\n\t"                                                                      \
    "ldrd   r11, r12, [r1], #8\n\t"                                                                          \
    "sxtb16 lr, r7\n\t"                                                                                      \
    "sxtb16 r7, r7, ror #8\n\t"                                                                              \
    "smlad  r3, lr, r11, r3\n\t"                                                                             \
    "smlad  r3, r7, r12, r3\n\t"                                                                             \
    "sxtb16 lr, r8\n\t"                                                                                      \
    "sxtb16 r8, r8, ror #8\n\t"                                                                              \
    "smlad  r4, lr, r11, r4\n\t"                                                                             \
    "smlad  r4, r8, r12, r4\n\t"                                                                             \
    "sxtb16 lr, r9\n\t"                                                                                      \
    "sxtb16 r9, r9, ror #8\n\t"                                                                              \
    "smlad  r5, lr, r11, r5\n\t"                                                                             \
    "smlad  r5, r9, r12, r5\n\t"                                                                             \
    "sxtb16 lr, r10\n\t"                                                                                     \
    "sxtb16 r10, r10, ror #8\n\t"                                                                            \
    "smlad  r6, lr, r11, r6\n\t"                                                                             \
    "smlad  r6, r10, r12, r6\n\t"

MUNIFY_ASM_FUNCTION fc_dot_4rows(MUNIFY_ASM_ARG const int8_t *weights, MUNIFY_ASM_ARG const int16_t *x,
                              MUNIFY_ASM_ARG int32_t groups, MUNIFY_ASM_ARG int32_t *acc)
{
    __asm volatile("push   {r3-r11, lr}\n\t"
                   "ldm    r3, {r3, r4, r5, r6}\n\t"
                   "tst    r2, #1\n\t"
                   "beq    1f\n\t" FC4_STEP "1:\n\t"
                   "lsrs   r2, r2, #1\n\t"
                   "beq    3f\n\t"
                   "2:\n\t" FC4_STEP FC4_STEP "subs   r2, r2, #1\n\t"
                   "bne    2b\n\t"
                   "3:\n\t"
                   "pop    {r7}\n\t"
                   "stm    r7, {r3, r4, r5, r6}\n\t"
                   "pop    {r4-r11, pc}\n\t");
}

MUNIFY_DSP_FN int32_t fc_dot_1row(const int8_t *weights, const uint32_t *x, uint32_t groups, int32_t acc)
{
    for (; groups > 0u; --groups, weights += 4, x += 2) {
        uint32_t w = munify_dsp_load_word(weights);
        acc = __smlad(__sxtb16(w), x[0], acc);
        acc = __smlad(__sxtb16(munify_dsp_ror8(w)), x[1], acc);
    }
    return acc;
}

MUNIFY_DSP_FN int32_t munify_dsp_fc_dense_scratch_size(const munify_dsp_fc *p)
{
    return 2 * munify_dsp_round_up4(p->cols);
}

MUNIFY_DSP_FN void fc_dense_one(const munify_dsp_fc *p, const int16_t *x, int8_t *output)
{
    int32_t groups = (p->cols + 3) >> 2;
    const int8_t *w = p->weights;
    const munify_dsp_quant q = p->q; /* a local copy: the int8 output stores could alias p->q */
    int32_t full_rows = p->rows & ~3;
    for (int32_t r = 0; r < full_rows; r += 4) {
        int32_t acc[4] = {p->bias[r], p->bias[r + 1], p->bias[r + 2], p->bias[r + 3]};
        fc_dot_4rows(w, x, groups, acc);
        w += 16 * groups;
        for (int32_t i = 0; i < 4; ++i) {
            output[r + i] = munify_dsp_output(acc[i], &q, r + i);
        }
    }
    for (int32_t r = full_rows; r < p->rows; ++r) {
        output[r] = munify_dsp_output(fc_dot_1row(w, (const uint32_t *)(const void *)x, (uint32_t)groups, p->bias[r]), &q, r);
        w += 4 * groups;
    }
}

MUNIFY_DSP_FN void munify_dsp_fc_dense_s8(const munify_dsp_fc *p, const int8_t *input, int8_t *output, int16_t *scratch)
{
    for (int32_t b = 0; b < p->batches; ++b) {
        munify_dsp_widen_pairs(input + b * p->cols, p->cols, (uint32_t *)scratch, 2);
        fc_dense_one(p, scratch, output + b * p->rows);
    }
}

#endif
