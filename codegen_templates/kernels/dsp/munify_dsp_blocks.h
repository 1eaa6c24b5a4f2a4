/* FULLY_CONNECTED and CONV_2D over a block-structured weight: bo x bi micro-blocks (bi = 4, 8 or 16) that are
 * dense, unified (signs kept, one magnitude per block row) or pruned (absent).
 *
 * Dense blocks: SXTB16 + SMLAD against the widened input. Unified blocks, "sign-mask": the input is kept
 * once more as unsigned bytes u = x + 128; with a byte mask m (0xFF where the weight is negative),
 * USAD8(u, m) = sum over the block of sign * x + 128 * positives + 127 * negatives, so one USAD8 (plus
 * USADA8 per further 4 inputs) and one multiply by the magnitude give the block row's contribution; the
 * constant goes into `unified_bias`. Pruned blocks cost nothing.
 *
 * Specialised per layer at compile time: define MUNIFY_DSP_BO, MUNIFY_DSP_BI and MUNIFY_DSP_SIGN_BITS
 * (0: bi mask bytes per unified block row; 1: bi sign bits, expanded through munify_dsp_sign_masks) before
 * including this header, and MUNIFY_DSP_DENSE16 1 for dsp-blocks-wide16 (FC, 1 x bi: dense weights int16).
 *
 * Layout dsp-blocks-wide / dsp-blocks-bits (toolchain.plan.dsp.pack_blocks), over the full row blocks:
 *   counts              uint16 [row_blocks][2]: dense blocks, unified blocks of the row block
 *   dense_cols          uint16 per dense block: its first input column; with 1 x bi blocks, bit 15 set on the
 *                       last dense block of each row (the assembly loops end on it; columns stay below 32768)
 *   dense_weights       int8   per dense block: bo x bi, row-major; dsp-blocks-wide16: int16, for every 4
 *                       weights w0, w2, w1, w3 (the SXTB16 order of the widened input)
 *   unified_cols        uint16 per unified block; CONV_2D with 1 x 4 / 1 x 8 blocks (pixel quads): bit 15 set
 *                       on the last of each row
 *   unified_signs       uint8  per unified block: bo x bi mask bytes (wide) or bo x ceil(bi/8) sign bytes (bits)
 *   unified_magnitudes  int16  per unified block: bo
 *   tail_weights        int8   the rows % bo last rows, each cols long padded with zeros to a multiple of 4
 *   unified_bias        int32  per row: -magnitude * (128 * positives + 127 * negatives) summed over its blocks
 * The partial last column block of each row block is listed as one more dense block, padded with zero weights
 * to bi (the widened input is zero up to cols rounded up to bi).
 * 1 x bi rows, 2 x 4 and 2 x 8 row pairs and (conv, 1 x 4 / 1 x 8) pixel quads run assembly loops; other
 * shapes the C loops.
 * Scratch (munify_dsp_blocks_scratch_size): requantization table, then for each column in flight (four for
 * conv pixel quads, else room for two) one accumulator per row, one widened and one unsigned column, and
 * (im2col convolutions) one im2col patch.
 */
#ifndef MUNIFY_DSP_BLOCKS_H
#define MUNIFY_DSP_BLOCKS_H

#include "munify_dsp.h"

#if !defined(MUNIFY_DSP_BO) || !defined(MUNIFY_DSP_BI) || !defined(MUNIFY_DSP_SIGN_BITS)
#error "define MUNIFY_DSP_BO, MUNIFY_DSP_BI and MUNIFY_DSP_SIGN_BITS before including munify_dsp_blocks.h"
#endif
#if MUNIFY_DSP_BI % 4 != 0 || MUNIFY_DSP_BI > 16
#error "munify_dsp_blocks.h handles 4, 8 and 16 wide blocks"
#endif

#if MUNIFY_DSP_BO == 1 && MUNIFY_DSP_BI <= 8
#define BLOCKS_PIXEL_QUADS 1
#define BLOCKS_CONV_COLUMNS 4
#else
#define BLOCKS_CONV_COLUMNS 2
#endif
#ifndef MUNIFY_DSP_DENSE16
#define MUNIFY_DSP_DENSE16 0
#endif
#if MUNIFY_DSP_DENSE16 && MUNIFY_DSP_BO != 1
#error "int16 dense weights (dsp-blocks-wide16) are for 1 x bi blocks"
#endif
#define MUNIFY_DSP_SIGN_BYTES (MUNIFY_DSP_SIGN_BITS ? (MUNIFY_DSP_BI + 7) / 8 : MUNIFY_DSP_BI)

/* Inputs rounded up to whole blocks: the partial last block is stored padded with zero weights. */
static inline int32_t blocks_padded_cols(int32_t cols)
{
    return (cols + MUNIFY_DSP_BI - 1) / MUNIFY_DSP_BI * MUNIFY_DSP_BI;
}

extern const uint32_t munify_dsp_sign_masks[256][2];

typedef struct {
    int32_t rows, cols;
    const uint16_t *counts;
    const uint16_t *dense_cols;
    const int8_t *dense_weights;
    const uint16_t *unified_cols;
    const uint8_t *unified_signs;
    const int16_t *unified_magnitudes;
    const int8_t *tail_weights;
    const int32_t *unified_bias;
    const int32_t *bias;
    munify_dsp_quant q;
} munify_dsp_blocks;

typedef struct {
    const munify_dsp_blocks *p;
    const munify_dsp_requant *requant;
    const uint32_t *widened; /* the column widened to int16 pairs */
    const uint8_t *unsigned_x; /* the column as x + 128 */
    int32_t *acc; /* one accumulator per row (four for pixel quads) */
    int32_t simple; /* the table allows munify_dsp_output_run's assembly path */
} blocks_column;

/* The mask word g (4 inputs) of one unified block row. */
static inline uint32_t blocks_mask_word(const uint8_t *signs, int32_t g)
{
#if MUNIFY_DSP_SIGN_BITS
    return munify_dsp_sign_masks[signs[g >> 1]][g & 1];
#else
    uint32_t w;
    memcpy(&w, signs + 4 * g, sizeof w);
    return w;
#endif
}

/* The cursors over the packed block lists; they advance row block by row block. */
typedef struct {
    const int8_t *dense_weights;
    const uint16_t *dense_cols;
    const uint16_t *unified_cols;
    const uint8_t *signs;
    const int16_t *magnitudes;
} blocks_cursor;

/* The state of the assembly row loops (word offsets are part of the contract with the assembly); the cursors
 * walk the packed lists from row block to row block. */
typedef struct {
    const uint16_t *dense_cols;
    const int8_t *dense_weights;
    const uint32_t *widened;
    const uint16_t *unified_cols;
    const uint8_t *signs;
    const int16_t *magnitudes;
    const uint8_t *unsigned_x;
    const uint32_t *sign_masks;
    const uint16_t *counts;
    const int32_t *bias;
    const int32_t *unified_bias;
    int32_t *acc;
    int32_t rows;
    int32_t unified_count;
} blocks_rows_state;

#if MUNIFY_DSP_BO == 1
/* One row's dense blocks: r0 = block columns (uint16), r1 = weights, r2 = widened input, r3 = {acc, blocks
 * (>= 1)}; the cursors come back in state[2..3]. */
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
#else
static inline void blocks_dense(const blocks_column *col, blocks_cursor *cur, int32_t count, int32_t *acc)
{
    const int8_t *w = cur->dense_weights;
    const uint16_t *cols = cur->dense_cols;
    for (; count > 0; --count) {
        const uint32_t *xw = col->widened + (*cols++ >> 1);
        for (int32_t r = 0; r < MUNIFY_DSP_BO; ++r) {
            int32_t a = acc[r];
            for (int32_t g = 0; g < MUNIFY_DSP_BI / 4; ++g, w += 4) {
                uint32_t word = munify_dsp_load_word(w);
                a = __smlad(__sxtb16(word), xw[2 * g], a);
                a = __smlad(__sxtb16(munify_dsp_ror8(word)), xw[2 * g + 1], a);
            }
            acc[r] = a;
        }
    }
    cur->dense_weights = w;
    cur->dense_cols = cols;
}

#endif

#if MUNIFY_DSP_BO == 1
/* One row's unified blocks, sign-mask: r0 = block columns (uint16), r1 = mask bytes or sign bytes, r2 =
 * magnitudes (int16), r3 = {acc, blocks (>= 1), unsigned input, sign mask table}; the cursors come back in
 * state[3..5]. Sign bits are expanded with munify_dsp_sign_masks (lr), r3 is a temporary inside the loop. */
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
#define BLOCKS_UNIFIED_SUM "ldr r11, [r1], #4\n\t" "usad8 r9, r9, r11\n\t"
#define BLOCKS_UNIFIED_LOADS "ldr r9, [r6, r8]\n\t"
#elif MUNIFY_DSP_BI == 8
#define BLOCKS_UNIFIED_LOADS "ldr r9, [r6, r8]\n\t" "ldr r10, [r7, r8]\n\t"
#define BLOCKS_UNIFIED_SUM "ldrd r11, r12, [r1], #8\n\t" "usad8 r9, r9, r11\n\t" "usada8 r9, r10, r12, r9\n\t"
#else
#define BLOCKS_UNIFIED_LOADS "add r8, r6, r8\n\t" "ldm r8, {r9, r10, r11, r12}\n\t"
#define BLOCKS_UNIFIED_SUM                                                                                   \
    "ldr r8, [r1], #4\n\t" "usad8 r9, r9, r8\n\t" "ldr r8, [r1], #4\n\t" "usada8 r9, r10, r8, r9\n\t"          \
    "ldr r8, [r1], #4\n\t" "usada8 r9, r11, r8, r9\n\t" "ldr r8, [r1], #4\n\t" "usada8 r9, r12, r8, r9\n\t"
#endif

/* acc[r] = bias + unified_bias + the row's dense blocks (SXTB16 + SMLAD) and unified blocks (USAD8 + one
 * multiply), for every row (>= 1). r0 = state; the state (word offsets in the comments) stays in memory and
 * the loops run in r0-r12 and lr. */
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
                   "cbz    r5, 4f\n\t"
                   "add    r12, r3, #12\n\t"
                   "ldm    r12, {r0, r1, r2}\n\t" /* unified cols, signs, magnitudes */
                   "ldrd   r6, lr, [r3, #24]\n\t" /* unsigned input, sign mask table */
                   "add    r7, r6, #4\n\t"
                   "3:\n\t"
                   "ldrh   r8, [r0], #2\n\t" BLOCKS_UNIFIED_LOADS BLOCKS_UNIFIED_SUM
                   "ldrsh  r10, [r2], #2\n\t"
                   "smlabb r4, r9, r10, r4\n\t"
                   "subs   r5, r5, #1\n\t"
                   "bne    3b\n\t"
                   "ldr    r3, [sp]\n\t"
                   "add    r12, r3, #12\n\t"
                   "stm    r12, {r0, r1, r2}\n\t"
                   "4:\n\t"
                   "ldrd   r8, r5, [r3, #44]\n\t" /* acc out, rows left */
                   "str    r4, [r8], #4\n\t"
                   "subs   r5, r5, #1\n\t"
                   "strd   r8, r5, [r3, #44]\n\t"
                   "bne    0b\n\t"
                   "pop    {r0, r4-r11, pc}\n\t");
}

#else
static inline void blocks_unified(const blocks_column *col, blocks_cursor *cur, int32_t count, int32_t *acc)
{
    const uint8_t *signs = cur->signs;
    const int16_t *mags = cur->magnitudes;
    const uint16_t *cols = cur->unified_cols;
    for (; count > 0; --count) {
        const uint8_t *u = col->unsigned_x + *cols++;
        uint32_t uw[MUNIFY_DSP_BI / 4];
        memcpy(uw, u, sizeof uw);
        for (int32_t r = 0; r < MUNIFY_DSP_BO; ++r, signs += MUNIFY_DSP_SIGN_BYTES) {
            uint32_t sum = __usad8(uw[0], blocks_mask_word(signs, 0));
            for (int32_t g = 1; g < MUNIFY_DSP_BI / 4; ++g) {
                sum = __usada8(uw[g], blocks_mask_word(signs, g), sum);
            }
            acc[r] = __smlabb((int32_t)sum, *mags++, acc[r]);
        }
    }
    cur->signs = signs;
    cur->magnitudes = mags;
    cur->unified_cols = cols;
}

#endif

#if MUNIFY_DSP_BO == 1
/* The accumulators of the full row blocks, in acc[0 .. full rows). */
MUNIFY_DSP_FN void blocks_accumulate(const blocks_column *col, int32_t full_rows, int32_t *acc)
{
    const munify_dsp_blocks *p = col->p;
    blocks_rows_state state = {p->dense_cols, p->dense_weights, col->widened, p->unified_cols, p->unified_signs,
                               p->unified_magnitudes, col->unsigned_x, munify_dsp_sign_masks[0], p->counts,
                               p->bias, p->unified_bias, acc, full_rows, 0};
    blocks_rows(&state);
}
#elif MUNIFY_DSP_BO == 2 && MUNIFY_DSP_BI <= 8
/* 2 x bi blocks: the input words of a block are loaded once for both rows. In the loops r0-r2 are the cursors,
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

/* acc[2b], acc[2b + 1] = the rows of every row block b (>= 1). r0 = state. */
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
    const munify_dsp_blocks *p = col->p;
    blocks_rows_state state = {p->dense_cols, p->dense_weights, col->widened, p->unified_cols, p->unified_signs,
                               p->unified_magnitudes, col->unsigned_x, munify_dsp_sign_masks[0], p->counts,
                               p->bias, p->unified_bias, acc, full_rows / 2, 0};
    blocks_rows2(&state);
}
#else
MUNIFY_DSP_FN void blocks_accumulate(const blocks_column *col, int32_t full_rows, int32_t *acc)
{
    const munify_dsp_blocks *p = col->p;
    blocks_cursor cur = {p->dense_weights, p->dense_cols, p->unified_cols, p->unified_signs, p->unified_magnitudes};
    const uint16_t *counts = p->counts;
    for (int32_t r0 = 0; r0 < full_rows; r0 += MUNIFY_DSP_BO, counts += 2) {
        for (int32_t r = 0; r < MUNIFY_DSP_BO; ++r) {
            acc[r0 + r] = p->bias[r0 + r] + p->unified_bias[r0 + r];
        }
        blocks_dense(col, &cur, counts[0], acc + r0);
        blocks_unified(col, &cur, counts[1], acc + r0);
    }
}
#endif

/* All rows of one column into out[0 .. rows); acc holds one int32 per row. */
MUNIFY_DSP_FN void blocks_column_rows(const blocks_column *col, int8_t *out)
{
    int32_t *acc = col->acc;
    const munify_dsp_blocks *p = col->p;
    const munify_dsp_quant q = p->q;
    int32_t full_rows = p->rows - p->rows % MUNIFY_DSP_BO;
    if (full_rows > 0) {
        blocks_accumulate(col, full_rows, acc);
    }
    const int8_t *tail = p->tail_weights;
    for (int32_t r = 0; r < full_rows; ++r) {
        out[r] = munify_dsp_output(acc[r], &q, r);
    }
    int32_t groups = munify_dsp_round_up4(p->cols) >> 2;
    for (int32_t r = full_rows; r < p->rows; ++r) {
        int32_t a = p->bias[r];
        for (int32_t g = 0; g < groups; ++g, tail += 4) {
            uint32_t word = munify_dsp_load_word(tail);
            a = __smlad(__sxtb16(word), col->widened[2 * g], a);
            a = __smlad(__sxtb16(munify_dsp_ror8(word)), col->widened[2 * g + 1], a);
        }
        out[r] = munify_dsp_output(a, &q, r);
    }
}

/* The unsigned copy x + 128 of n inputs (x ^ 0x80 per byte). */
MUNIFY_DSP_FN void blocks_unsigned(const int8_t *x, int32_t n, uint8_t *u)
{
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t w = munify_dsp_load_word(x + i) ^ 0x80808080u;
        memcpy(u + i, &w, sizeof w);
    }
    for (; i < n; ++i) {
        u[i] = (uint8_t)(x[i] ^ 0x80);
    }
}

/* Columns in flight: FC and the C loops keep room for two, conv pixel quads for four. */
MUNIFY_DSP_FN int32_t munify_dsp_blocks_scratch_size(const munify_dsp_blocks *p, int32_t conv, int32_t im2col)
{
    int32_t k = blocks_padded_cols(p->cols);
    int32_t columns = conv ? BLOCKS_CONV_COLUMNS : 2;
    return (int32_t)(sizeof(munify_dsp_requant) + (size_t)columns * sizeof(int32_t)) * p->rows + 3 * columns * k +
           (im2col ? columns * k : 0);
}

/* One column (FC batch or conv pixel) through all rows. */
MUNIFY_DSP_FN void blocks_run_column(blocks_column *col, const int8_t *x, int8_t *out, uint32_t *widened,
                                     uint8_t *unsigned_x)
{
    munify_dsp_widen_pairs(x, col->p->cols, widened, 2);
    blocks_unsigned(x, col->p->cols, unsigned_x);
    blocks_column_rows(col, out);
}

/* Scratch: requantization table, then `columns` accumulators per row, widened columns, unsigned columns and
 * (im2col) patches. */
MUNIFY_DSP_FN blocks_column blocks_prepare(const munify_dsp_blocks *p, int32_t columns, int32_t pixel_runs,
                                           int16_t *scratch, uint32_t **widened, uint8_t **unsigned_x,
                                           int8_t **im2col)
{
    munify_dsp_requant *requant = (munify_dsp_requant *)(void *)scratch;
    int32_t *acc = (int32_t *)(requant + p->rows);
    int32_t k = blocks_padded_cols(p->cols);
    int32_t widened_words = columns * k / 2;
    *widened = (uint32_t *)(acc + columns * p->rows);
    *unsigned_x = (uint8_t *)(*widened + widened_words);
    *im2col = (int8_t *)(*unsigned_x + columns * k);
    /* The padded last block reads the widened input up to padded_cols; widening writes up to cols rounded up
     * to 4 (per column), so the words after that stay zero. */
    int32_t written_words = munify_dsp_round_up4(p->cols) / 2;
    memset(*widened + written_words, 0, (size_t)(widened_words - written_words) * sizeof(uint32_t));
    int32_t simple = 0;
    if (pixel_runs) { /* a column uses each row's requantization once, pixel runs over and over */
        simple = munify_dsp_prepare_requant(&p->q, p->rows, requant);
    }
    blocks_column col = {p, requant, *widened, *unsigned_x, acc, simple};
    return col;
}

MUNIFY_DSP_FN void munify_dsp_fc_blocks_s8(const munify_dsp_blocks *p, int32_t batches, const int8_t *input,
                                           int8_t *output, int16_t *scratch)
{
    uint32_t *widened;
    uint8_t *unsigned_x;
    int8_t *im2col;
    blocks_column col = blocks_prepare(p, 2, 0, scratch, &widened, &unsigned_x, &im2col);
    for (int32_t b = 0; b < batches; ++b) {
        blocks_run_column(&col, input + b * p->cols, output + b * p->rows, widened, unsigned_x);
    }
}

#ifdef BLOCKS_PIXEL_QUADS
/* Conv with 1 x 4 and 1 x 8 blocks: every block serves four output pixels at a time (a dense block's weight
 * words are loaded and widened once for four columns, a unified block's mask and magnitude fetched once).
 * The widened columns are interleaved per group of 4 inputs: A (x0,x2) (x1,x3), B ..., C ..., D ...; the
 * unsigned columns per block column: A[bi] B[bi] C[bi] D[bi]. */
typedef struct {
    const uint16_t *dense_cols;  /* 0 */
    const int8_t *dense_weights; /* 4 */
    const uint32_t *widened;     /* 8 */
    const uint16_t *counts;      /* 12 */
    const int32_t *bias;         /* 16 */
    const int32_t *unified_bias; /* 20 */
    int32_t *acc;                /* 24: pixel a's accumulator of the row; b, c, d follow `stride` bytes apart */
    int32_t stride;              /* 28 */
    int32_t rows;                /* 32 */
} blocks_quad_state;

/* 4 inputs of a dense block for 4 pixels: r3 = weight word, lr/r3 its SXTB16 halves, r8 the widened groups. */
#define BLOCKS_QUAD_GROUP                                                                                    \
    "ldr    r3, [r1], #4\n\t" "sxtb16 lr, r3\n\t" "sxtb16 r3, r3, ror #8\n\t"                                  \
    "ldm    r8!, {r9, r10, r11, r12}\n\t" "smlad  r4, lr, r9, r4\n\t" "smlad  r4, r3, r10, r4\n\t"             \
    "smlad  r5, lr, r11, r5\n\t" "smlad  r5, r3, r12, r5\n\t" "ldm    r8!, {r9, r10, r11, r12}\n\t"            \
    "smlad  r6, lr, r9, r6\n\t" "smlad  r6, r3, r10, r6\n\t" "smlad  r7, lr, r11, r7\n\t"                      \
    "smlad  r7, r3, r12, r7\n\t"
#if MUNIFY_DSP_BI == 4
#define BLOCKS_QUAD_DENSE BLOCKS_QUAD_GROUP
#else
#define BLOCKS_QUAD_DENSE BLOCKS_QUAD_GROUP BLOCKS_QUAD_GROUP
#endif

/* For every row (>= 1): the four pixels' bias + unified_bias + dense blocks. The dense loop runs until the
 * column with bit 15 set (LSLS puts it in the carry), so it needs no counter. */
MUNIFY_ASM_FUNCTION blocks_rows_quad(MUNIFY_ASM_ARG blocks_quad_state *state)
{
    __asm volatile("push   {r0, r4-r11, lr}\n\t"
                   "0:\n\t"
                   "ldr    r3, [sp]\n\t"
                   "ldrd   r8, r9, [r3, #12]\n\t" /* counts, bias */
                   "ldr    r10, [r3, #20]\n\t"    /* unified_bias */
                   "ldr    r4, [r9], #4\n\t"
                   "ldr    r11, [r10], #4\n\t"
                   "add    r4, r4, r11\n\t"
                   "ldrh   r0, [r8], #4\n\t"      /* dense blocks of the row */
                   "strd   r8, r9, [r3, #12]\n\t"
                   "str    r10, [r3, #20]\n\t"
                   "mov    r5, r4\n\t"
                   "mov    r6, r4\n\t"
                   "mov    r7, r4\n\t"
                   "cmp    r0, #0\n\t"
                   "beq    2f\n\t"
                   "ldm    r3, {r0, r1, r2}\n\t"  /* dense cols, weights, widened columns */
                   "1:\n\t"
                   "ldrh   r8, [r0], #2\n\t"
                   "lsls   r8, r8, #17\n\t"
                   "add    r8, r2, r8, lsr #14\n\t" BLOCKS_QUAD_DENSE
                   "bcc    1b\n\t"
                   "ldr    r3, [sp]\n\t"
                   "strd   r0, r1, [r3]\n\t"
                   "2:\n\t"
                   "ldrd   r8, r9, [r3, #24]\n\t" /* acc of pixel a, stride */
                   "str    r4, [r8]\n\t"
                   "str    r5, [r8, r9]\n\t"
                   "add    r10, r8, r9, lsl #1\n\t"
                   "str    r6, [r10]\n\t"
                   "str    r7, [r10, r9]\n\t"
                   "add    r8, r8, #4\n\t"
                   "str    r8, [r3, #24]\n\t"
                   "ldr    r10, [r3, #32]\n\t"
                   "subs   r10, r10, #1\n\t"
                   "str    r10, [r3, #32]\n\t"
                   "bne    0b\n\t"
                   "pop    {r0, r4-r11, pc}\n\t");
}

/* Unified blocks for four pixels: the unsigned columns are stored per block column, pixel after pixel (bi
 * bytes each), so a block row's four sums share one mask and one magnitude. r9/r10 the mask words, lr the
 * magnitude, r11/r12 one pixel's inputs; the sign mask table is at [sp]. */
#if MUNIFY_DSP_SIGN_BITS && MUNIFY_DSP_BI == 4
#define BLOCKS_QUAD_MASKS "ldrb r9, [r1], #1\n\t" "ldr r10, [sp]\n\t" "ldr r9, [r10, r9, lsl #3]\n\t"
#elif MUNIFY_DSP_SIGN_BITS
#define BLOCKS_QUAD_MASKS                                                                                    \
    "ldrb r9, [r1], #1\n\t" "ldr r10, [sp]\n\t" "add r9, r10, r9, lsl #3\n\t" "ldrd r9, r10, [r9]\n\t"
#elif MUNIFY_DSP_BI == 4
#define BLOCKS_QUAD_MASKS "ldr r9, [r1], #4\n\t"
#else
#define BLOCKS_QUAD_MASKS "ldrd r9, r10, [r1], #8\n\t"
#endif
#if MUNIFY_DSP_BI == 4
#define BLOCKS_QUAD_PIXEL(offset, acc)                                                                       \
    "ldr    r11, [r8, #" offset "]\n\t" "usad8  r11, r11, r9\n\t" "smlabb " acc ", r11, lr, " acc "\n\t"
#define BLOCKS_QUAD_UNIFIED                                                                                  \
    BLOCKS_QUAD_PIXEL("0", "r4") BLOCKS_QUAD_PIXEL("4", "r5") BLOCKS_QUAD_PIXEL("8", "r6") BLOCKS_QUAD_PIXEL("12", "r7")
#else
#define BLOCKS_QUAD_PIXEL(offset, acc)                                                                       \
    "ldrd   r11, r12, [r8, #" offset "]\n\t" "usad8  r11, r11, r9\n\t" "usada8 r11, r12, r10, r11\n\t"            \
    "smlabb " acc ", r11, lr, " acc "\n\t"
#define BLOCKS_QUAD_UNIFIED                                                                                  \
    BLOCKS_QUAD_PIXEL("0", "r4") BLOCKS_QUAD_PIXEL("8", "r5") BLOCKS_QUAD_PIXEL("16", "r6") BLOCKS_QUAD_PIXEL("24", "r7")
#endif

typedef struct {
    const uint16_t *unified_cols; /* 0 */
    const uint8_t *signs;         /* 4 */
    const int16_t *magnitudes;    /* 8 */
    const uint8_t *unsigned_x;    /* 12 */
    const uint32_t *sign_masks;   /* 16 */
    const uint16_t *counts;       /* 20 */
    int32_t *acc;                 /* 24: pixel a's accumulator of the row; b, c, d follow `stride` bytes apart */
    int32_t stride;               /* 28 */
    const int32_t *acc_end;       /* 32: acc + rows */
} blocks_unified_state;

/* For every row (>= 1) with unified blocks: the four pixels' accumulators += its unified blocks (USAD8 against
 * the sign mask, one multiply by the magnitude). The loop ends on the row's flagged last column; the cursors
 * stay in r0-r3 from row to row. */
MUNIFY_ASM_FUNCTION blocks_rows_unified_quad(MUNIFY_ASM_ARG blocks_unified_state *state)
{
    __asm volatile("push   {r0, r4-r11, lr}\n\t"
                   "ldr    r12, [r0, #16]\n\t"
                   "push   {r12}\n\t"             /* [sp] sign mask table, [sp, #4] state */
                   "ldr    r2, [r0, #12]\n\t"     /* unsigned columns */
                   "ldr    r3, [r0, #8]\n\t"      /* magnitudes */
                   "ldr    r1, [r0, #4]\n\t"      /* signs */
                   "ldr    r0, [r0]\n\t"          /* unified cols */
                   "0:\n\t"
                   "ldr    r12, [sp, #4]\n\t"
                   "ldr    r6, [r12, #20]\n\t"
                   "ldr    r7, [r6], #4\n\t"
                   "str    r6, [r12, #20]\n\t"
                   "lsrs   r7, r7, #16\n\t"       /* unified blocks of the row */
                   "beq    4f\n\t"
                   "ldrd   r8, r9, [r12, #24]\n\t" /* acc of pixel a, stride */
                   "ldr    r4, [r8]\n\t"
                   "ldr    r5, [r8, r9]\n\t"
                   "add    r10, r8, r9, lsl #1\n\t"
                   "ldr    r6, [r10]\n\t"
                   "ldr    r7, [r10, r9]\n\t"
                   "3:\n\t"
                   "ldrh   r8, [r0], #2\n\t"
                   "lsls   r8, r8, #17\n\t"       /* carry: the row's last unified block */
                   "add    r8, r2, r8, lsr #15\n\t" BLOCKS_QUAD_MASKS
                   "ldrsh  lr, [r3], #2\n\t" BLOCKS_QUAD_UNIFIED
                   "bcc    3b\n\t"
                   "ldr    r12, [sp, #4]\n\t"
                   "ldrd   r8, r9, [r12, #24]\n\t"
                   "str    r4, [r8]\n\t"
                   "str    r5, [r8, r9]\n\t"
                   "add    r10, r8, r9, lsl #1\n\t"
                   "str    r6, [r10]\n\t"
                   "str    r7, [r10, r9]\n\t"
                   "4:\n\t"
                   "ldr    r8, [r12, #24]\n\t"
                   "add    r8, r8, #4\n\t"
                   "str    r8, [r12, #24]\n\t"
                   "ldr    r9, [r12, #32]\n\t"
                   "cmp    r8, r9\n\t"
                   "bne    0b\n\t"
                   "add    sp, sp, #4\n\t"
                   "pop    {r0, r4-r11, pc}\n\t");
}

/* One column's unsigned copy x + 128 into its place among the four: `blocks` (>= 1) whole blocks of bi
 * inputs (unified blocks never reach the partial last block), each 4 * bi bytes after the one before. */
#if MUNIFY_DSP_BI == 4
#define BLOCKS_UNSIGNED_BLOCK "ldr r3, [r0], #4\n\t" "eor r3, r3, #0x80808080\n\t" "str r3, [r2], #16\n\t"
#else
#define BLOCKS_UNSIGNED_BLOCK                                                                                \
    "ldr r3, [r0], #4\n\t" "ldr r12, [r0], #4\n\t" "eor r3, r3, #0x80808080\n\t" "eor r12, r12, #0x80808080\n\t" \
    "strd r3, r12, [r2], #32\n\t"
#endif
MUNIFY_ASM_FUNCTION blocks_unsigned_quad(MUNIFY_ASM_ARG const int8_t *x, MUNIFY_ASM_ARG int32_t blocks,
                                         MUNIFY_ASM_ARG uint8_t *u)
{
    __asm volatile("1:\n\t" BLOCKS_UNSIGNED_BLOCK
                   "subs   r1, r1, #1\n\t"
                   "bne    1b\n\t"
                   "bx     lr\n\t");
}

/* Widens `groups` (>= 1) whole groups of 4 inputs into every 8th word pair of the quad-interleaved columns
 * (munify_dsp_widen_pairs with stride 8, two groups per pass). */
MUNIFY_ASM_FUNCTION blocks_widen_quad(MUNIFY_ASM_ARG const int8_t *x, MUNIFY_ASM_ARG int32_t groups,
                                      MUNIFY_ASM_ARG uint32_t *out)
{
    __asm volatile("lsrs   r1, r1, #1\n\t"
                   "bcc    1f\n\t"
                   "ldr    r3, [r0], #4\n\t"
                   "sxtb16 r12, r3\n\t"
                   "sxtb16 r3, r3, ror #8\n\t"
                   "strd   r12, r3, [r2], #32\n\t"
                   "1:\n\t"
                   "cbz    r1, 3f\n\t"
                   "2:\n\t"
                   "ldr    r3, [r0], #4\n\t"
                   "sxtb16 r12, r3\n\t"
                   "sxtb16 r3, r3, ror #8\n\t"
                   "strd   r12, r3, [r2], #32\n\t"
                   "ldr    r3, [r0], #4\n\t"
                   "sxtb16 r12, r3\n\t"
                   "sxtb16 r3, r3, ror #8\n\t"
                   "strd   r12, r3, [r2], #32\n\t"
                   "subs   r1, r1, #1\n\t"
                   "bne    2b\n\t"
                   "3:\n\t"
                   "bx     lr\n\t");
}

/* One column into its place in the quad-interleaved widened columns (a partial last group padded with 0). */
MUNIFY_DSP_FN void blocks_widen_column(const int8_t *x, int32_t n, uint32_t *out)
{
    int32_t full = n >> 2;
    if (full > 0) {
        blocks_widen_quad(x, full, out);
    }
    if (n & 3) {
        munify_dsp_widen_pairs(x + 4 * full, n & 3, out + 8 * full, 8);
    }
}

/* Whether any row block lists a unified block (else the quads skip the unsigned columns and unified passes). */
MUNIFY_DSP_FN int32_t blocks_any_unified(const munify_dsp_blocks *p)
{
    for (int32_t rb = 0; rb < p->rows; ++rb) {
        if (p->counts[2 * rb + 1]) {
            return 1;
        }
    }
    return 0;
}

/* Output pixels x[0..3] (the last ones may repeat) through all rows. */
MUNIFY_DSP_FN void blocks_pixel_quad(const blocks_column *col, int32_t unified, const int8_t *const x[4],
                                     int8_t *const out[4])
{
    const munify_dsp_blocks *p = col->p;
    const munify_dsp_quant q = p->q;
    for (int32_t i = 0; i < 4; ++i) {
        blocks_widen_column(x[i], p->cols, (uint32_t *)(uintptr_t)col->widened + 2 * i);
    }
    blocks_quad_state dense = {p->dense_cols, p->dense_weights, col->widened, p->counts, p->bias,
                               p->unified_bias, col->acc, 4 * p->rows, p->rows};
    blocks_rows_quad(&dense);
    int32_t whole_blocks = p->cols / MUNIFY_DSP_BI;
    if (unified && whole_blocks > 0) {
        for (int32_t i = 0; i < 4; ++i) {
            blocks_unsigned_quad(x[i], whole_blocks, (uint8_t *)(uintptr_t)col->unsigned_x + i * MUNIFY_DSP_BI);
        }
        blocks_unified_state state = {p->unified_cols, p->unified_signs, p->unified_magnitudes, col->unsigned_x,
                                      munify_dsp_sign_masks[0], p->counts, col->acc, 4 * p->rows,
                                      col->acc + p->rows};
        blocks_rows_unified_quad(&state);
    }
    for (int32_t i = 0; i < 4; ++i) {
        munify_dsp_output_run(col->acc + i * p->rows, col->requant, col->simple, &q, p->rows, out[i]);
    }
}
#endif

MUNIFY_DSP_FN void munify_dsp_conv_blocks_s8(const munify_dsp_blocks *p, const munify_dsp_conv *geometry,
                                             const int8_t *input, int8_t *output, int16_t *scratch)
{
    uint32_t *widened;
    uint8_t *unsigned_x;
    int8_t *im2col;
    int32_t pixels = geometry->out_h * geometry->out_w;
#ifdef BLOCKS_PIXEL_QUADS
    blocks_column col = blocks_prepare(p, 4, 1, scratch, &widened, &unsigned_x, &im2col);
    int32_t k = blocks_padded_cols(p->cols);
    int32_t unified = blocks_any_unified(p);
    for (int32_t pixel = 0; pixel < pixels; pixel += 4) {
        const int8_t *x[4];
        int8_t *out[4];
        for (int32_t i = 0; i < 4; ++i) {
            int32_t at = pixel + i < pixels ? pixel + i : pixels - 1;
            out[i] = output + at * p->rows;
            x[i] = at == pixel + i ? munify_dsp_conv_patch(geometry, input, at / geometry->out_w,
                                                           at % geometry->out_w, im2col + i * k)
                                   : x[i - 1];
        }
        blocks_pixel_quad(&col, unified, x, out);
    }
#else
    blocks_column col = blocks_prepare(p, 2, 0, scratch, &widened, &unsigned_x, &im2col);
    for (int32_t pixel = 0; pixel < pixels; ++pixel) {
        const int8_t *x = munify_dsp_conv_patch(geometry, input, pixel / geometry->out_w, pixel % geometry->out_w,
                                                im2col);
        blocks_run_column(&col, x, output + pixel * p->rows, widened, unsigned_x);
    }
#endif
}

#endif
