/* CONV_2D with 1 x 4 and 1 x 8 blocks, four output pixels at a time: every block serves four im2col columns (a
 * dense block's weight words are loaded and widened once for the four, a unified block's record fetched once).
 * The widened columns are interleaved per group of 4 inputs: A (x0,x2) (x1,x3), B ..., C ..., D ...; the
 * unsigned columns per block column: A[bi] B[bi] C[bi] D[bi], so one LDM loads two pixels' inputs of a block.
 *
 * Mask bytes (dsp-blocks-wide): one assembly pass per row runs its dense blocks and then its unified records
 * (column | last << 15 | magnitude << 16, masks: one LDM) with the four accumulators kept in registers.
 * Sign bits (dsp-blocks-bits): the dense pass, then a second pass over the rows with unified blocks that
 * expands the sign bytes through munify_dsp_sign_masks. Every loop ends on bit 15 of the row's last column
 * (the carry of an LSLS), so none keeps a counter. Layouts and the plain C path: munify_dsp_blocks_scalar.h. */
#ifndef MUNIFY_DSP_CONV_BLOCKS_1XN_S8_H
#define MUNIFY_DSP_CONV_BLOCKS_1XN_S8_H

#define MUNIFY_DSP_BLOCKS_CONV_COLUMNS 4
#include "munify_dsp_blocks_common.h"

#if MUNIFY_DSP_BO != 1 || MUNIFY_DSP_BI > 8
#error "munify_dsp_conv_blocks_1xn_s8.h is for 1 x 4 and 1 x 8 blocks"
#endif

typedef struct {
    const uint16_t *dense_cols;
    const int8_t *dense_weights;
    const uint32_t *widened;
    const uint16_t *counts;
    const int32_t *bias;
    const int32_t *unified_bias;
    int32_t *acc; /* pixel a's accumulator of the row; b, c, d follow `stride` bytes apart */
    int32_t stride;
    int32_t rows;
    const uint32_t *records;   /* mask bytes: the unified records */
    const uint8_t *unsigned_x; /* mask bytes: the four unsigned columns */
    int32_t unified_count;     /* mask bytes: the current row's unified blocks */
} blocks_quad_state;

_Static_assert(offsetof(blocks_quad_state, dense_cols) == 0 && offsetof(blocks_quad_state, dense_weights) == 4 &&
                   offsetof(blocks_quad_state, widened) == 8 && offsetof(blocks_quad_state, counts) == 12 &&
                   offsetof(blocks_quad_state, bias) == 16 && offsetof(blocks_quad_state, unified_bias) == 20 &&
                   offsetof(blocks_quad_state, acc) == 24 && offsetof(blocks_quad_state, stride) == 28 &&
                   offsetof(blocks_quad_state, rows) == 32 && offsetof(blocks_quad_state, records) == 36 &&
                   offsetof(blocks_quad_state, unsigned_x) == 40 && offsetof(blocks_quad_state, unified_count) == 44,
               "blocks_quad_state: blocks_rows_quad reads these word offsets");

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
/* One unified record for four pixels: r1 = records, r2 = the unsigned columns; r8 the record word (its top half
 * the magnitude), r9/r10 the masks, r0, r3, r11, r12, lr the inputs of two pixels at a time. */
#define BLOCKS_QUAD_RECORD_INPUT "lsls   r3, r8, #17\n\t" "add    r3, r2, r3, lsr #15\n\t"
#if MUNIFY_DSP_BI == 4
#define BLOCKS_QUAD_RECORD                                                                                   \
    "ldm    r1!, {r8, r9}\n\t" BLOCKS_QUAD_RECORD_INPUT "ldm    r3, {r0, r3, r11, r12}\n\t"                    \
    "usad8  r0, r0, r9\n\t" "smlabt r4, r0, r8, r4\n\t" "usad8  r3, r3, r9\n\t" "smlabt r5, r3, r8, r5\n\t"        \
    "usad8  r11, r11, r9\n\t" "smlabt r6, r11, r8, r6\n\t" "usad8  r12, r12, r9\n\t" "smlabt r7, r12, r8, r7\n\t"
#else
#define BLOCKS_QUAD_RECORD_PIXEL(lo, hi, acc)                                                                \
    "usad8  " lo ", " lo ", r9\n\t" "usada8 " lo ", " hi ", r10, " lo "\n\t" "smlabt " acc ", " lo ", r8, " acc "\n\t"
#define BLOCKS_QUAD_RECORD                                                                                   \
    "ldm    r1!, {r8, r9, r10}\n\t" BLOCKS_QUAD_RECORD_INPUT "ldm    r3!, {r0, r11, r12, lr}\n\t"             \
    BLOCKS_QUAD_RECORD_PIXEL("r0", "r11", "r4") BLOCKS_QUAD_RECORD_PIXEL("r12", "lr", "r5")                    \
    "ldm    r3, {r0, r3, r11, r12}\n\t" BLOCKS_QUAD_RECORD_PIXEL("r0", "r3", "r6")                              \
    BLOCKS_QUAD_RECORD_PIXEL("r11", "r12", "r7")
#endif

#if MUNIFY_DSP_RECORDS
/* The row's unified records after its dense blocks, the accumulators still in r4-r7. */
#define BLOCKS_QUAD_UNIFIED_PASS                                                                             \
    "ldr    r0, [r3, #44]\n\t"                                                                                \
    "cbz    r0, 4f\n\t"                                                                                       \
    "ldrd   r1, r2, [r3, #36]\n\t" /* records, unsigned columns */                                            \
    "3:\n\t" BLOCKS_QUAD_RECORD                                                                              \
    "bcc    3b\n\t"                                                                                           \
    "ldr    r3, [sp]\n\t"                                                                                     \
    "str    r1, [r3, #36]\n\t"                                                                                \
    "4:\n\t"
#else
#define BLOCKS_QUAD_UNIFIED_PASS
#endif

/* For every row (>= 1): the four pixels' bias + unified_bias + dense blocks (and, mask bytes, unified
 * records). The dense loop runs until the column with bit 15 set (LSLS puts it in the carry). */
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
                   "ldr    r0, [r8], #4\n\t"      /* dense blocks of the row, unified blocks << 16 */
                   "strd   r8, r9, [r3, #12]\n\t"
                   "str    r10, [r3, #20]\n\t"
                   "lsr    r11, r0, #16\n\t"
                   "str    r11, [r3, #44]\n\t"
                   "mov    r5, r4\n\t"
                   "mov    r6, r4\n\t"
                   "mov    r7, r4\n\t"
                   "lsls   r0, r0, #16\n\t"
                   "beq    2f\n\t"
                   "ldm    r3, {r0, r1, r2}\n\t"  /* dense cols, weights, widened columns */
                   "1:\n\t"
                   "ldrh   r8, [r0], #2\n\t"
                   "lsls   r8, r8, #17\n\t"
                   "add    r8, r2, r8, lsr #14\n\t" BLOCKS_QUAD_DENSE
                   "bcc    1b\n\t"
                   "ldr    r3, [sp]\n\t"
                   "strd   r0, r1, [r3]\n\t"
                   "2:\n\t" BLOCKS_QUAD_UNIFIED_PASS
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

#if !MUNIFY_DSP_RECORDS
/* Unified blocks for four pixels: the unsigned columns are stored per block column, pixel after pixel (bi
 * bytes each), so a block row's four sums share one mask and one magnitude. r9/r10 the mask words, lr the
 * magnitude, r11/r12 one pixel's inputs; the sign mask table is at [sp]. */
#if MUNIFY_DSP_BI == 4
#define BLOCKS_QUAD_MASKS "ldrb r9, [r1], #1\n\t" "ldr r10, [sp]\n\t" "ldr r9, [r10, r9, lsl #3]\n\t"
#else
#define BLOCKS_QUAD_MASKS                                                                                    \
    "ldrb r9, [r1], #1\n\t" "ldr r10, [sp]\n\t" "add r9, r10, r9, lsl #3\n\t" "ldrd r9, r10, [r9]\n\t"
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
    const uint16_t *unified_cols;
    const uint8_t *signs;
    const int16_t *magnitudes;
    const uint8_t *unsigned_x;
    const uint32_t *sign_masks;
    const uint16_t *counts;
    int32_t *acc; /* pixel a's accumulator of the row; b, c, d follow `stride` bytes apart */
    int32_t stride;
    const int32_t *acc_end; /* acc + rows */
} blocks_unified_state;

_Static_assert(offsetof(blocks_unified_state, unified_cols) == 0 && offsetof(blocks_unified_state, signs) == 4 &&
                   offsetof(blocks_unified_state, magnitudes) == 8 &&
                   offsetof(blocks_unified_state, unsigned_x) == 12 &&
                   offsetof(blocks_unified_state, sign_masks) == 16 && offsetof(blocks_unified_state, counts) == 20 &&
                   offsetof(blocks_unified_state, acc) == 24 && offsetof(blocks_unified_state, stride) == 28 &&
                   offsetof(blocks_unified_state, acc_end) == 32,
               "blocks_unified_state: blocks_rows_unified_quad reads these word offsets");

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
#endif

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
        if (p->lists.counts[2 * rb + 1]) {
            return 1;
        }
    }
    return 0;
}

/* Output pixels x[0..3] (the last ones may repeat) through all rows. */

/* Output pixels x[0..3] (the last ones may repeat) through all rows. */
MUNIFY_DSP_FN void blocks_pixel_quad(const blocks_column *col, int32_t unified, const int8_t *const x[4],
                                     int8_t *const out[4])
{
    const munify_dsp_blocks *p = col->p;
    const munify_dsp_block_lists *l = &p->lists;
    const munify_dsp_quant q = p->q;
    for (int32_t i = 0; i < 4; ++i) {
        blocks_widen_column(x[i], p->cols, (uint32_t *)(uintptr_t)col->widened + 2 * i);
    }
    int32_t whole_blocks = p->cols / MUNIFY_DSP_BI;
    if (unified && whole_blocks > 0) {
        for (int32_t i = 0; i < 4; ++i) {
            blocks_unsigned_quad(x[i], whole_blocks, (uint8_t *)(uintptr_t)col->unsigned_x + i * MUNIFY_DSP_BI);
        }
    }
    blocks_quad_state rows = {l->dense_cols, l->dense_weights, col->widened, l->counts, p->bias, l->unified_bias,
                              col->acc, 4 * p->rows, p->rows, l->unified_records, col->unsigned_x, 0};
    blocks_rows_quad(&rows);
#if !MUNIFY_DSP_RECORDS
    if (unified && whole_blocks > 0) {
        blocks_unified_state state = {l->unified_cols, l->unified_signs, l->unified_magnitudes, col->unsigned_x,
                                      munify_dsp_sign_masks[0], l->counts, col->acc, 4 * p->rows,
                                      col->acc + p->rows};
        blocks_rows_unified_quad(&state);
    }
#endif
    for (int32_t i = 0; i < 4; ++i) {
        munify_dsp_output_run(col->acc + i * p->rows, col->requant, col->simple, &q, p->rows, out[i]);
    }
}

#if MUNIFY_DSP_SCALAR
MUNIFY_DSP_FN void blocks_accumulate(const blocks_column *col, int32_t full_rows, int32_t *acc)
{
    (void)col, (void)full_rows, (void)acc;
}
#include "munify_dsp_blocks_columns.h"
#endif

MUNIFY_DSP_FN void munify_dsp_conv_blocks_s8(const munify_dsp_blocks *p, const munify_dsp_conv *geometry,
                                             const int8_t *input, int8_t *output, int16_t *scratch)
{
#if MUNIFY_DSP_SCALAR
    blocks_conv_by_pixel(p, geometry, input, output, scratch);
#else
    uint32_t *widened;
    uint8_t *unsigned_x;
    int8_t *im2col;
    int32_t pixels = geometry->out_h * geometry->out_w;
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
#endif
}

#endif
