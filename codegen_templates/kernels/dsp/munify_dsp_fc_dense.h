/* FULLY_CONNECTED, dense int8 weights: 4 rows x 4 inputs per step, 8 SXTB16 + 8 SMLAD.
 *
 * Layout dsp-fc4 (toolchain.plan.kernels.dsp.kernels.pack_fc_dense), inputs padded with zero weights to a
 * multiple of 4:
 *   for each group of 4 rows: for each group of 4 inputs: row0[4] row1[4] row2[4] row3[4]
 *   then the rows % 4 remaining rows, one after the other, 4 inputs at a time.
 * Scratch (munify_dsp_fc_dense_scratch_size): the input widened to int16 pairs, one accumulator per row of a
 * chunk of MUNIFY_DSP_FC_CHUNK rows (requantized before the next chunk, so the scratch does not grow with rows).
 */
#ifndef MUNIFY_DSP_FC_DENSE_H
#define MUNIFY_DSP_FC_DENSE_H

#include "munify_dsp.h"

/* One step: 4 rows x 4 inputs. r0 = weights, r1 = widened input, r3-r6 = accumulators. */
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

/* The state of the assembly loop over all groups of 4 rows. */
typedef struct {
    const int8_t *weights;
    const uint32_t *x; /* the widened input */
    int32_t groups;    /* groups of 4 inputs */
    const int32_t *bias;
    int32_t *acc;
    int32_t row_groups;
} fc_rows_state;

/* acc[r] = bias[r] + W[r] . x for every group of 4 rows (>= 1). r0 = state; in the loop r0 = weights (they run
 * on from group to group), r1 = widened input, r2 = steps left, r3-r6 = the 4 accumulators. */
MUNIFY_ASM_FUNCTION fc_rows_4x4(MUNIFY_ASM_ARG fc_rows_state *state)
{
    __asm volatile("push   {r0, r4-r11, lr}\n\t"
                   "ldr    r0, [r0]\n\t"
                   "0:\n\t"
                   "ldr    r12, [sp]\n\t"
                   "ldrd   r1, r2, [r12, #4]\n\t"
                   "ldr    r7, [r12, #12]\n\t"
                   "ldm    r7!, {r3, r4, r5, r6}\n\t"
                   "str    r7, [r12, #12]\n\t"
                   "tst    r2, #1\n\t"
                   "beq    1f\n\t" FC4_STEP "1:\n\t"
                   "tst    r2, #2\n\t"
                   "beq    2f\n\t" FC4_STEP FC4_STEP "2:\n\t"
                   "lsrs   r2, r2, #2\n\t"
                   "beq    4f\n\t"
                   "3:\n\t" FC4_STEP FC4_STEP FC4_STEP FC4_STEP "subs   r2, r2, #1\n\t"
                   "bne    3b\n\t"
                   "4:\n\t"
                   "ldr    r12, [sp]\n\t"
                   "ldr    r7, [r12, #16]\n\t"
                   "stm    r7!, {r3, r4, r5, r6}\n\t"
                   "str    r7, [r12, #16]\n\t"
                   "ldr    r7, [r12, #20]\n\t"
                   "subs   r7, r7, #1\n\t"
                   "str    r7, [r12, #20]\n\t"
                   "bne    0b\n\t"
                   "pop    {r0, r4-r11, pc}\n\t");
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

#define MUNIFY_DSP_FC_CHUNK 64 /* rows accumulated before they are requantized; a multiple of 4 */

MUNIFY_DSP_FN int32_t munify_dsp_fc_dense_scratch_size(const munify_dsp_fc *p)
{
    return 2 * munify_dsp_round_up4(p->cols) + 4 * (p->rows < MUNIFY_DSP_FC_CHUNK ? p->rows : MUNIFY_DSP_FC_CHUNK);
}

MUNIFY_DSP_FN void fc_dense_one(const munify_dsp_fc *p, const uint32_t *x, int32_t *acc, int8_t *output)
{
    int32_t groups = (p->cols + 3) >> 2;
    const munify_dsp_quant q = p->q; /* a local copy: the int8 output stores could alias p->q */
    int32_t full_rows = p->rows & ~3;
    for (int32_t start = 0; start < full_rows; start += MUNIFY_DSP_FC_CHUNK) {
        int32_t n = full_rows - start < MUNIFY_DSP_FC_CHUNK ? full_rows - start : MUNIFY_DSP_FC_CHUNK;
        fc_rows_state state = {p->weights + start * 4 * groups, x, groups, p->bias + start, acc, n >> 2};
        fc_rows_4x4(&state);
        for (int32_t r = 0; r < n; ++r) {
            output[start + r] = munify_dsp_output(acc[r], &q, start + r);
        }
    }
    const int8_t *w = p->weights + full_rows * 4 * groups;
    for (int32_t r = full_rows; r < p->rows; ++r, w += 4 * groups) {
        output[r] = munify_dsp_output(fc_dot_1row(w, x, (uint32_t)groups, p->bias[r]), &q, r);
    }
}

MUNIFY_DSP_FN void munify_dsp_fc_dense_s8(const munify_dsp_fc *p, const int8_t *input, int8_t *output, int16_t *scratch)
{
    uint32_t *x = (uint32_t *)(void *)scratch;
    int32_t *acc = (int32_t *)(x + munify_dsp_round_up4(p->cols) / 2);
    for (int32_t b = 0; b < p->batches; ++b) {
        munify_dsp_widen_pairs(input + b * p->cols, p->cols, x, 2);
        fc_dense_one(p, x, acc, output + b * p->rows);
    }
}

#endif
