/* FULLY_CONNECTED with 1 x bi blocks (bi 4, 8, 16), one column (batch) at a time. For every row, one assembly
 * pass runs its dense blocks (SXTB16 + SMLAD from the column list; int16 weights and no SXTB16 in
 * dsp-blocks-wide16) and then its unified blocks: with mask bytes one LDM per block
 * loads the record (column | last << 15 | magnitude << 16, masks), with sign bits the masks come through
 * munify_dsp_sign_masks. The dense loop and the record loop end on bit 15 of the row's last column or record
 * (the carry of an LSLS); the sign-bit lists keep a count. Pair records (dsp-blocks-pairs, with int16 dense
 * weights): per column a pair table of the signed sums of every sign pattern, per group of 8 inputs 64 words
 * S(inputs 0-3) | S(inputs 4-7) << 16, built once and read by every row; a record is its entry's offset and
 * the two magnitudes, one LDR and one SMLAD. Layouts and the plain C path:
 * munify_dsp_blocks_scalar.h. */
#ifndef MUNIFY_DSP_FC_BLOCKS_1XN_S8_H
#define MUNIFY_DSP_FC_BLOCKS_1XN_S8_H

#include "munify_dsp_blocks_common.h"

#if MUNIFY_DSP_BO != 1
#error "munify_dsp_fc_blocks_1xn_s8.h is for 1 x bi blocks"
#endif

/* One dense block of the row: r8 = its widened inputs, r1 = weights (advanced), r4 = the row's accumulator. */
#define BLOCKS_DENSE_GROUP(wreg, xa, xb)                                                                     \
    "sxtb16 lr, " wreg "\n\t" "sxtb16 " wreg ", " wreg ", ror #8\n\t" "smlad r4, lr, " xa ", r4\n\t"              \
    "smlad r4, " wreg ", " xb ", r4\n\t"
#if MUNIFY_DSP_DENSE16 /* int16 weights (w0, w2) (w1, w3): the widened input's order, no SXTB16 */
#define BLOCKS_DENSE16_WORDS                                                                                 \
    "smlad r4, r5, r9, r4\n\t" "smlad r4, r6, r10, r4\n\t" "smlad r4, r7, r11, r4\n\t" "smlad r4, lr, r12, r4\n\t"
#if MUNIFY_DSP_BI == 4
#define BLOCKS_DENSE_BODY                                                                                    \
    "ldrd r9, r10, [r8]\n\t" "ldrd r6, r7, [r1], #8\n\t" "smlad r4, r6, r9, r4\n\t" "smlad r4, r7, r10, r4\n\t"
#elif MUNIFY_DSP_BI == 8
#define BLOCKS_DENSE_BODY                                                                                    \
    "ldm r8, {r9, r10, r11, r12}\n\t" "ldm r1!, {r5, r6, r7, lr}\n\t" BLOCKS_DENSE16_WORDS
#else
#define BLOCKS_DENSE_BODY                                                                                    \
    "ldm r8!, {r9, r10, r11, r12}\n\t" "ldm r1!, {r5, r6, r7, lr}\n\t" BLOCKS_DENSE16_WORDS                \
    "ldm r8, {r9, r10, r11, r12}\n\t" "ldm r1!, {r5, r6, r7, lr}\n\t" BLOCKS_DENSE16_WORDS
#endif
#elif MUNIFY_DSP_BI == 4
#define BLOCKS_DENSE_BODY "ldrd r9, r10, [r8]\n\t" "ldr r6, [r1], #4\n\t" BLOCKS_DENSE_GROUP("r6", "r9", "r10")
#elif MUNIFY_DSP_BI == 8
#define BLOCKS_DENSE_BODY                                                                                    \
    "ldm r8, {r9, r10, r11, r12}\n\t" "ldrd r6, r7, [r1], #8\n\t" BLOCKS_DENSE_GROUP("r6", "r9", "r10")        \
    BLOCKS_DENSE_GROUP("r7", "r11", "r12")
#else
#define BLOCKS_DENSE_BODY                                                                                    \
    "ldm r8!, {r9, r10, r11, r12}\n\t" "ldrd r6, r7, [r1], #8\n\t" BLOCKS_DENSE_GROUP("r6", "r9", "r10")       \
    BLOCKS_DENSE_GROUP("r7", "r11", "r12") "ldm r8, {r9, r10, r11, r12}\n\t" "ldrd r6, r7, [r1], #8\n\t"       \
    BLOCKS_DENSE_GROUP("r6", "r9", "r10") BLOCKS_DENSE_GROUP("r7", "r11", "r12")
#endif

/* One row's unified blocks. Records (mask bytes): r1 = records, r6 = unsigned input; r8 the record word, its
 * magnitude multiplied from the top half. Sign bits: r0 = block columns, r1 = sign bytes, r2 = magnitudes,
 * lr = munify_dsp_sign_masks, r6/r7 = unsigned input (+4). */
#if MUNIFY_DSP_SIGN_BITS && MUNIFY_DSP_BI == 4
#define BLOCKS_UNIFIED_LOADS "ldr r9, [r6, r8]\n\t"
#define BLOCKS_UNIFIED_SUM "ldrb r11, [r1], #1\n\t" "ldr r11, [lr, r11, lsl #3]\n\t" "usad8 r9, r9, r11\n\t"
#elif MUNIFY_DSP_SIGN_BITS && MUNIFY_DSP_BI == 8
#define BLOCKS_UNIFIED_LOADS "ldr r9, [r6, r8]\n\t" "ldr r10, [r7, r8]\n\t"
#define BLOCKS_UNIFIED_SUM                                                                                   \
    "ldrb r11, [r1], #1\n\t" "add r11, lr, r11, lsl #3\n\t" "ldrd r11, r12, [r11]\n\t" "usad8 r9, r9, r11\n\t"    \
    "usada8 r9, r10, r12, r9\n\t"
#elif MUNIFY_DSP_SIGN_BITS
#define BLOCKS_UNIFIED_LOADS "add r8, r6, r8\n\t" "ldm r8, {r9, r10, r11, r12}\n\t"
#define BLOCKS_UNIFIED_SUM                                                                                   \
    "ldrb r8, [r1], #1\n\t" "add r8, lr, r8, lsl #3\n\t" "ldr r3, [r8]\n\t" "usad8 r9, r9, r3\n\t"              \
    "ldr r3, [r8, #4]\n\t" "usada8 r9, r10, r3, r9\n\t" "ldrb r8, [r1], #1\n\t" "add r8, lr, r8, lsl #3\n\t"   \
    "ldr r3, [r8]\n\t" "usada8 r9, r11, r3, r9\n\t" "ldr r3, [r8, #4]\n\t" "usada8 r9, r12, r3, r9\n\t"
#elif MUNIFY_DSP_BI == 4
#define BLOCKS_RECORD "ldm r1!, {r8, r11}\n\t" BLOCKS_RECORD_INPUT "ldr r9, [r2]\n\t" "usad8 r9, r9, r11\n\t"
#elif MUNIFY_DSP_BI == 8
#define BLOCKS_RECORD                                                                                        \
    "ldm r1!, {r8, r11, r12}\n\t" BLOCKS_RECORD_INPUT "ldrd r9, r10, [r2]\n\t" "usad8 r9, r9, r11\n\t"        \
    "usada8 r9, r10, r12, r9\n\t"
#else
#define BLOCKS_RECORD                                                                                        \
    "ldm r1!, {r8, r9, r10, r11, r12}\n\t" BLOCKS_RECORD_INPUT "ldm r2, {r0, r2, r5, lr}\n\t"                 \
    "usad8 r0, r0, r9\n\t" "usada8 r0, r2, r10, r0\n\t" "usada8 r0, r5, r11, r0\n\t" "usada8 r9, lr, r12, r0\n\t"
#endif
/* r2 = the block's unsigned inputs; the carry: the row's last unified block. */
#define BLOCKS_RECORD_INPUT "lsls r2, r8, #17\n\t" "add r2, r6, r2, lsr #17\n\t"

#if MUNIFY_DSP_PAIR_RECORDS
/* Pair records (dsp-blocks-pairs): r1 = records (offset, magnitudes), r6 = the pair table, r5 = their count;
 * a record is one table load and one SMLAD (S_lo * m_lo + S_hi * m_hi); count % 4 singly, then 4 a pass. */
#define BLOCKS_UNIFIED_PASS                                                                                  \
    "ldr    r1, [r3, #56]\n\t" /* records */                                                                 \
    "ldr    r6, [r3, #24]\n\t" /* the pair table */                                                          \
    "ands   r7, r5, #3\n\t"                                                                                  \
    "beq    6f\n\t"                                                                                          \
    "5:\n\t"                                                                                                 \
    "ldm    r1!, {r8, r9}\n\t" "ldr    r8, [r6, r8]\n\t" "smlad  r4, r8, r9, r4\n\t"                          \
    "subs   r7, r7, #1\n\t"                                                                                  \
    "bne    5b\n\t"                                                                                          \
    "6:\n\t"                                                                                                 \
    "lsrs   r5, r5, #2\n\t"                                                                                  \
    "beq    8f\n\t"                                                                                          \
    "7:\n\t"                                                                                                 \
    "ldm    r1!, {r0, r2, r7, r8, r9, r10, r11, r12}\n\t"                                                     \
    "ldr    r0, [r6, r0]\n\t" "ldr    r7, [r6, r7]\n\t" "ldr    r9, [r6, r9]\n\t" "ldr    r11, [r6, r11]\n\t"   \
    "smlad  r4, r0, r2, r4\n\t" "smlad  r4, r7, r8, r4\n\t" "smlad  r4, r9, r10, r4\n\t"                      \
    "smlad  r4, r11, r12, r4\n\t"                                                                             \
    "subs   r5, r5, #1\n\t"                                                                                  \
    "bne    7b\n\t"                                                                                          \
    "8:\n\t"                                                                                                 \
    "ldr    r3, [sp]\n\t"                                                                                    \
    "str    r1, [r3, #56]\n\t"
#elif MUNIFY_DSP_RECORDS
#define BLOCKS_UNIFIED_PASS                                                                                  \
    "ldr    r1, [r3, #56]\n\t" /* records */                                                                 \
    "ldr    r6, [r3, #24]\n\t" /* unsigned input */                                                          \
    "3:\n\t" BLOCKS_RECORD                                                                                   \
    "smlabt r4, r9, r8, r4\n\t"                                                                               \
    "bcc    3b\n\t"                                                                                           \
    "ldr    r3, [sp]\n\t"                                                                                     \
    "str    r1, [r3, #56]\n\t"
#else
#define BLOCKS_UNIFIED_PASS                                                                                  \
    "add    r12, r3, #12\n\t"                                                                                 \
    "ldm    r12, {r0, r1, r2}\n\t" /* unified cols, signs, magnitudes */                                      \
    "ldrd   r6, lr, [r3, #24]\n\t" /* unsigned input, sign mask table */                                      \
    "add    r7, r6, #4\n\t"                                                                                   \
    "3:\n\t"                                                                                                  \
    "ldrh   r8, [r0], #2\n\t" BLOCKS_UNIFIED_LOADS BLOCKS_UNIFIED_SUM                                          \
    "ldrsh  r10, [r2], #2\n\t"                                                                                \
    "smlabb r4, r9, r10, r4\n\t"                                                                              \
    "subs   r5, r5, #1\n\t"                                                                                   \
    "bne    3b\n\t"                                                                                           \
    "ldr    r3, [sp]\n\t"                                                                                     \
    "add    r12, r3, #12\n\t"                                                                                 \
    "stm    r12, {r0, r1, r2}\n\t"
#endif

/* acc[r] = bias + unified_bias + the row's dense blocks (SXTB16 + SMLAD) and unified blocks (USAD8 + one
 * multiply), for every row (>= 1). r0 = state (blocks_rows_state, offsets asserted in the common header); the
 * state stays in memory and the loops run in r0-r12 and lr. */
MUNIFY_ASM_FUNCTION blocks_rows(MUNIFY_ASM_ARG blocks_rows_state *state)
{
    __asm volatile("push   {r0, r4-r11, lr}\n\t"
                   "0:\n\t"
                   "ldr    r3, [sp]\n\t"
                   "add    r12, r3, #32\n\t"
                   "ldm    r12, {r5, r6, r7}\n\t" /* counts, bias, unified_bias */
                   "ldr    r4, [r6], #4\n\t"
                   "ldr    r9, [r7], #4\n\t"
                   "add    r4, r4, r9\n\t"
                   "ldr    r10, [r5], #4\n\t"
                   "stm    r12, {r5, r6, r7}\n\t"
                   "lsr    r9, r10, #16\n\t"
                   "str    r9, [r3, #52]\n\t"
                   "uxth   r5, r10\n\t"
                   "cbz    r5, 2f\n\t"
                   "ldm    r3, {r0, r1, r2}\n\t" /* dense cols, weights, widened input */
                   "1:\n\t"
                   "ldrh   r8, [r0], #2\n\t"
                   "lsls   r8, r8, #17\n\t" /* carry: the row's last dense block */
                   "add    r8, r2, r8, lsr #16\n\t" BLOCKS_DENSE_BODY
                   "bcc    1b\n\t"
                   "ldr    r3, [sp]\n\t"
                   "strd   r0, r1, [r3]\n\t"
                   "2:\n\t"
                   "ldr    r5, [r3, #52]\n\t"
                   "cbz    r5, 4f\n\t" BLOCKS_UNIFIED_PASS
                   "4:\n\t"
                   "ldrd   r8, r5, [r3, #44]\n\t" /* acc out, rows left */
                   "str    r4, [r8], #4\n\t"
                   "subs   r5, r5, #1\n\t"
                   "strd   r8, r5, [r3, #44]\n\t"
                   "bne    0b\n\t"
                   "pop    {r0, r4-r11, pc}\n\t");
}

/* The 8 signed sums of one half (4 inputs in the word r3): entry p = x3 + sum_j (bit j of p ? -x_j : x_j),
 * j < 3, in the registers lo0..lo7 = r4, r5, r6, r7, r10, r11, r9, r8 (r12 a temporary). */
#define BLOCKS_PAIR_HALF                                                                                     \
    "sxtb   r4, r3\n\t" "sxtb   r5, r3, ror #8\n\t" "sxtb   r6, r3, ror #16\n\t" "asr    r7, r3, #24\n\t"         \
    "add    r8, r4, r5\n\t" "sub    r9, r4, r5\n\t" "add    r10, r7, r6\n\t" "sub    r11, r7, r6\n\t"           \
    "add    r4, r10, r8\n\t" "sub    r5, r10, r9\n\t" "add    r6, r10, r9\n\t" "sub    r7, r10, r8\n\t"          \
    "add    r10, r11, r8\n\t" "sub    r12, r11, r9\n\t" "add    r9, r11, r9\n\t" "sub    r8, r11, r8\n\t"        \
    "mov    r11, r12\n\t"
/* The 8 entries lo | h << 3 of one hi sum (at [sp, #h * 4]): PKHBT of each lo sum with it. */
#define BLOCKS_PAIR_ROW(h)                                                                                   \
    "ldr    r3, [sp, #" #h " * 4]\n\t"                                                                       \
    "pkhbt  r12, r4, r3, lsl #16\n\t" "pkhbt  lr, r5, r3, lsl #16\n\t" "strd   r12, lr, [r2], #8\n\t"         \
    "pkhbt  r12, r6, r3, lsl #16\n\t" "pkhbt  lr, r7, r3, lsl #16\n\t" "strd   r12, lr, [r2], #8\n\t"         \
    "pkhbt  r12, r10, r3, lsl #16\n\t" "pkhbt  lr, r11, r3, lsl #16\n\t" "strd   r12, lr, [r2], #8\n\t"       \
    "pkhbt  r12, r9, r3, lsl #16\n\t" "pkhbt  lr, r8, r3, lsl #16\n\t" "strd   r12, lr, [r2], #8\n\t"

/* The pair tables of `groups` (>= 1) groups of 8 inputs x into t (dsp-blocks-pairs): per group, entry
 * lo | hi << 3 is the word S(lo) | S(hi) << 16 of the two halves' signed sums (BLOCKS_PAIR_HALF). */
MUNIFY_ASM_FUNCTION blocks_pair_groups(MUNIFY_ASM_ARG const int8_t *x, MUNIFY_ASM_ARG int32_t groups,
                                       MUNIFY_ASM_ARG uint32_t *t)
{
    __asm volatile("push   {r4-r11, lr}\n\t"
                   "1:\n\t"
                   "ldr    r3, [r0, #4]\n\t" BLOCKS_PAIR_HALF
                   "push   {r4, r5, r6, r7, r8, r9, r10, r11}\n\t" /* hi sums by pattern: 0-3, 7, 6, 4, 5 */
                   "ldr    r3, [r0], #8\n\t" BLOCKS_PAIR_HALF
                   BLOCKS_PAIR_ROW(0) BLOCKS_PAIR_ROW(1) BLOCKS_PAIR_ROW(2) BLOCKS_PAIR_ROW(3)
                   BLOCKS_PAIR_ROW(6) BLOCKS_PAIR_ROW(7) BLOCKS_PAIR_ROW(5) BLOCKS_PAIR_ROW(4)
                   "add    sp, sp, #32\n\t"
                   "subs   r1, r1, #1\n\t"
                   "bne    1b\n\t"
                   "pop    {r4-r11, pc}\n\t");
}

/* The pair table of one column (dsp-blocks-pairs), the last partial group padded with zeros. */
MUNIFY_DSP_FN void blocks_pair_table(const int8_t *x, int32_t cols, uint32_t *table)
{
    int32_t full = cols / 8;
    if (full > 0) {
        blocks_pair_groups(x, full, table);
    }
    if (cols % 8) {
        int8_t padded[8] __attribute__((aligned(4))) = {0, 0, 0, 0, 0, 0, 0, 0};
        memcpy(padded, x + 8 * full, (size_t)(cols % 8));
        blocks_pair_groups(padded, 1, table + 64 * full);
    }
}

/* The accumulators of the full rows, in acc[0 .. full rows). */
MUNIFY_DSP_FN void blocks_accumulate(const blocks_column *col, int32_t full_rows, int32_t *acc)
{
    blocks_rows_state state = blocks_rows_state_of(col, full_rows, acc);
    blocks_rows(&state);
}

#include "munify_dsp_blocks_columns.h"

#endif
