/* 2 x 4 and 2 x 8 blocks, one column at a time (FULLY_CONNECTED batches, CONV_2D pixels): the input words of a
 * block are loaded once for both rows of the row pair. Layouts and the plain C path:
 * munify_dsp_blocks_scalar.h. */
#ifndef MUNIFY_DSP_MATRIX_BLOCKS_2XN_S8_H
#define MUNIFY_DSP_MATRIX_BLOCKS_2XN_S8_H

#include "munify_dsp_blocks_common.h"

#if MUNIFY_DSP_BO != 2 || MUNIFY_DSP_BI > 8
#error "munify_dsp_matrix_blocks_2xn_s8.h is for 2 x 4 and 2 x 8 blocks"
#endif

/* In the loops r0-r2 are the cursors,
 * r3 the blocks left, r4/r5 the two rows, r6/r7 the unsigned input (+4), lr the sign mask table. */
#if MUNIFY_DSP_BI == 4
#define BLOCKS2_DENSE                                                                                        \
    "ldrd   r9, r10, [r8]\n\t" "ldrd   r6, r7, [r1], #8\n\t"                                                     \
    "sxtb16 lr, r6\n\t" "sxtb16 r6, r6, ror #8\n\t" "smlad  r4, lr, r9, r4\n\t" "smlad  r4, r6, r10, r4\n\t"     \
    "sxtb16 lr, r7\n\t" "sxtb16 r7, r7, ror #8\n\t" "smlad  r5, lr, r9, r5\n\t" "smlad  r5, r7, r10, r5\n\t"
#define BLOCKS2_LOADS "ldr    r9, [r6, r8]\n\t"
#if MUNIFY_DSP_SIGN_BITS
#define BLOCKS2_SUMS                                                                                         \
    "ldrb   r11, [r1], #1\n\t" "ldr    r11, [lr, r11, lsl #3]\n\t" "ldrb   r8, [r1], #1\n\t"                    \
    "ldr    r8, [lr, r8, lsl #3]\n\t" "usad8  r11, r9, r11\n\t" "usad8  r8, r9, r8\n\t"
#else
#define BLOCKS2_SUMS "ldrd   r11, r8, [r1], #8\n\t" "usad8  r11, r9, r11\n\t" "usad8  r8, r9, r8\n\t"
#endif
#else
#define BLOCKS2_DENSE_ROW(acc)                                                                               \
    "ldrd   r6, r7, [r1], #8\n\t" "sxtb16 lr, r6\n\t" "sxtb16 r6, r6, ror #8\n\t"                                \
    "smlad  " acc ", lr, r9, " acc "\n\t" "smlad  " acc ", r6, r10, " acc "\n\t" "sxtb16 lr, r7\n\t"             \
    "sxtb16 r7, r7, ror #8\n\t" "smlad  " acc ", lr, r11, " acc "\n\t" "smlad  " acc ", r7, r12, " acc "\n\t"
#define BLOCKS2_DENSE "ldm    r8, {r9, r10, r11, r12}\n\t" BLOCKS2_DENSE_ROW("r4") BLOCKS2_DENSE_ROW("r5")
#define BLOCKS2_LOADS "ldr    r9, [r6, r8]\n\t" "ldr    r10, [r7, r8]\n\t"
#if MUNIFY_DSP_SIGN_BITS
#define BLOCKS2_SUMS                                                                                         \
    "ldrb   r11, [r1], #1\n\t" "add    r11, lr, r11, lsl #3\n\t" "ldrd   r11, r12, [r11]\n\t"                   \
    "usad8  r11, r9, r11\n\t" "usada8 r11, r10, r12, r11\n\t" "ldrb   r8, [r1], #1\n\t"                        \
    "add    r8, lr, r8, lsl #3\n\t" "ldrd   r8, r12, [r8]\n\t" "usad8  r8, r9, r8\n\t"                           \
    "usada8 r8, r10, r12, r8\n\t"
#else
#define BLOCKS2_SUMS                                                                                         \
    "ldrd   r11, r12, [r1], #8\n\t" "usad8  r11, r9, r11\n\t" "usada8 r11, r10, r12, r11\n\t"                   \
    "ldrd   r8, r12, [r1], #8\n\t" "usad8  r8, r9, r8\n\t" "usada8 r8, r10, r12, r8\n\t"
#endif
#endif

/* acc[2b], acc[2b + 1] = the rows of every row block b (>= 1). r0 = state (blocks_rows_state, offsets asserted
 * in the common header). */
MUNIFY_ASM_FUNCTION blocks_rows2(MUNIFY_ASM_ARG blocks_rows_state *state)
{
    __asm volatile("push   {r0, r4-r11, lr}\n\t"
                   "0:\n\t"
                   "ldr    r3, [sp]\n\t"
                   "add    r12, r3, #32\n\t"
                   "ldm    r12, {r6, r7, r8}\n\t" /* counts, bias, unified_bias */
                   "ldrd   r4, r5, [r7], #8\n\t"
                   "ldrd   r9, r10, [r8], #8\n\t"
                   "add    r4, r4, r9\n\t"
                   "add    r5, r5, r10\n\t"
                   "ldr    r10, [r6], #4\n\t"
                   "stm    r12, {r6, r7, r8}\n\t"
                   "lsr    r9, r10, #16\n\t"
                   "str    r9, [r3, #52]\n\t"
                   "uxth   r3, r10\n\t"
                   "cbz    r3, 2f\n\t"
                   "ldr    r12, [sp]\n\t"
                   "ldm    r12, {r0, r1, r2}\n\t" /* dense cols, weights, widened input */
                   "1:\n\t"
                   "ldrh   r8, [r0], #2\n\t"
                   "add    r8, r2, r8, lsl #1\n\t" BLOCKS2_DENSE
                   "subs   r3, r3, #1\n\t"
                   "bne    1b\n\t"
                   "ldr    r12, [sp]\n\t"
                   "strd   r0, r1, [r12]\n\t"
                   "2:\n\t"
                   "ldr    r12, [sp]\n\t"
                   "ldr    r3, [r12, #52]\n\t"
                   "cbz    r3, 4f\n\t"
                   "ldrd   r6, lr, [r12, #24]\n\t" /* unsigned input, sign mask table */
                   "add    r7, r6, #4\n\t"
                   "add    r12, r12, #12\n\t"
                   "ldm    r12, {r0, r1, r2}\n\t" /* unified cols, signs, magnitudes */
                   "3:\n\t"
                   "ldrh   r8, [r0], #2\n\t" BLOCKS2_LOADS BLOCKS2_SUMS
                   "ldr    r12, [r2], #4\n\t"
                   "smlabb r4, r11, r12, r4\n\t"
                   "smlabt r5, r8, r12, r5\n\t"
                   "subs   r3, r3, #1\n\t"
                   "bne    3b\n\t"
                   "ldr    r12, [sp]\n\t"
                   "add    r12, r12, #12\n\t"
                   "stm    r12, {r0, r1, r2}\n\t"
                   "4:\n\t"
                   "ldr    r12, [sp]\n\t"
                   "ldrd   r8, r6, [r12, #44]\n\t" /* acc out, row blocks left */
                   "strd   r4, r5, [r8], #8\n\t"
                   "subs   r6, r6, #1\n\t"
                   "strd   r8, r6, [r12, #44]\n\t"
                   "bne    0b\n\t"
                   "pop    {r0, r4-r11, pc}\n\t");
}

MUNIFY_DSP_FN void blocks_accumulate(const blocks_column *col, int32_t full_rows, int32_t *acc)
{
    blocks_rows_state state = blocks_rows_state_of(col, full_rows / 2, acc);
    blocks_rows2(&state);
}

#include "munify_dsp_blocks_columns.h"

MUNIFY_DSP_FN void munify_dsp_conv_blocks_s8(const munify_dsp_blocks *p, const munify_dsp_conv *geometry,
                                             const int8_t *input, int8_t *output, int16_t *scratch)
{
    blocks_conv_by_pixel(p, geometry, input, output, scratch);
}

#endif
