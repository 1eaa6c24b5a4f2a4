/* FULLY_CONNECTED and CONV_2D over a block-structured weight: bo x bi micro-blocks (bi = 4, 8 or 16) that are
 * dense, unified (signs kept, one magnitude per block row) or pruned (absent). What every block kernel family
 * shares: the layer struct, scratch, the unsigned and widened inputs. The layouts are defined, in plain C, by
 * munify_dsp_blocks_scalar.h.
 *
 * Dense blocks: SXTB16 + SMLAD against the widened input. Unified blocks, "sign-mask": the input is kept
 * once more as unsigned bytes u = x + 128; with a byte mask m (0xFF where the weight is negative),
 * USAD8(u, m) = sum over the block of sign * x + 128 * positives + 127 * negatives, so one USAD8 (plus
 * USADA8 per further 4 inputs) and one multiply by the magnitude give the block row's contribution; the
 * constant goes into `unified_bias`. Pruned blocks cost nothing.
 *
 * One header per family, chosen by munify_dsp_blocks.h (or included directly):
 *   munify_dsp_fc_blocks_1xn_s8.h      1 x bi, FULLY_CONNECTED
 *   munify_dsp_conv_blocks_1xn_s8.h    1 x bi, CONV_2D: four output pixels per pass (1 x 16 as two 1 x 8)
 *   munify_dsp_matrix_blocks_2xn_s8.h  2 x 4 and 2 x 8: row pairs, FC and CONV_2D
 *   munify_dsp_matrix_blocks_mxn_s8.h  other bo x bi: C loops
 * Specialised per layer at compile time: MUNIFY_DSP_BO, MUNIFY_DSP_BI, MUNIFY_DSP_SIGN_BITS (0: mask bytes,
 * 1: sign bits expanded through munify_dsp_sign_masks), MUNIFY_DSP_DENSE16 (1: dsp-blocks-wide16) and
 * MUNIFY_DSP_SCALAR (1: the plain C path of munify_dsp_blocks_scalar.h instead of the assembly).
 * Scratch (munify_dsp_blocks_scratch_size): requantization table, then for each column in flight (four for
 * conv pixel quads, else room for two) one accumulator per row, one widened and one unsigned column, and
 * (im2col convolutions) one im2col patch; the pixel quads then a row head per row (flags, bias x 4) and an end head.
 */
#ifndef MUNIFY_DSP_BLOCKS_COMMON_H
#define MUNIFY_DSP_BLOCKS_COMMON_H

#include <stddef.h>

#include "munify_dsp.h"
#include "munify_dsp_blocks_scalar.h"

#if !defined(MUNIFY_DSP_BO) || !defined(MUNIFY_DSP_BI) || !defined(MUNIFY_DSP_SIGN_BITS)
#error "define MUNIFY_DSP_BO, MUNIFY_DSP_BI and MUNIFY_DSP_SIGN_BITS before including a DSP block kernel"
#endif
#if MUNIFY_DSP_BI % 4 != 0 || MUNIFY_DSP_BI > 16
#error "the DSP block kernels handle 4, 8 and 16 wide blocks"
#endif
#ifndef MUNIFY_DSP_DENSE16
#define MUNIFY_DSP_DENSE16 0
#endif
#if MUNIFY_DSP_DENSE16 && MUNIFY_DSP_BO != 1
#error "int16 dense weights (dsp-blocks-wide16) are for 1 x bi blocks"
#endif
#ifndef MUNIFY_DSP_SCALAR
#define MUNIFY_DSP_SCALAR 0
#endif
#ifndef MUNIFY_DSP_BLOCKS_CONV_COLUMNS
#define MUNIFY_DSP_BLOCKS_CONV_COLUMNS 2 /* conv columns in flight; the pixel quads define 4 */
#endif
#ifndef MUNIFY_DSP_BLOCKS_ROW_BYTES
#define MUNIFY_DSP_BLOCKS_ROW_BYTES 0 /* the pixel quads keep a row head per row after the columns */
#endif
#ifndef MUNIFY_DSP_SIGN_RECORDS
#define MUNIFY_DSP_SIGN_RECORDS 0 /* the conv pixel quads with sign bits define 1 */
#endif
#ifndef MUNIFY_DSP_TABLE_RECORDS
#define MUNIFY_DSP_TABLE_RECORDS 0 /* 1: dsp-blocks-table (the conv pixel quads only) */
#endif
#ifndef MUNIFY_DSP_ROW_STREAM
#define MUNIFY_DSP_ROW_STREAM 0 /* 1: the conv pixel quads read row_stream */
#endif
#ifndef MUNIFY_DSP_PAIR_RECORDS
#define MUNIFY_DSP_PAIR_RECORDS 0 /* 1: dsp-blocks-pairs (FULLY_CONNECTED 1 x bi) */
#endif
#define MUNIFY_DSP_PAIR_GROUP_BYTES 256 /* a pair table's 64 int16-pair entries per group of 8 inputs */
/* Table bytes per block (entries of 4 pixels x int16): 1 x 4 8 sign patterns, 1 x 8 16 + 8 (munify_dsp_blocks_scalar.h) */
#define MUNIFY_DSP_TABLE_BLOCK_BYTES (MUNIFY_DSP_LAYOUT_BI == 4 ? 64 : 192)
#define MUNIFY_DSP_SIGN_BYTES (MUNIFY_DSP_SIGN_BITS ? (MUNIFY_DSP_BI + 7) / 8 : MUNIFY_DSP_BI)
#define MUNIFY_DSP_RECORDS (MUNIFY_DSP_BO == 1 && !MUNIFY_DSP_SIGN_BITS) /* unified_records, not cols/signs */

/* Inputs rounded up to whole blocks: the partial last block is stored padded with zero weights. */
static inline int32_t blocks_padded_cols(int32_t cols)
{
    return (cols + MUNIFY_DSP_BI - 1) / MUNIFY_DSP_BI * MUNIFY_DSP_BI;
}

extern const uint32_t munify_dsp_sign_masks[256][2];

typedef struct {
    int32_t rows, cols;
    munify_dsp_block_lists lists;
    const int32_t *bias;
    munify_dsp_quant q;
} munify_dsp_blocks;

#ifndef MUNIFY_DSP_LAYOUT_BI
#define MUNIFY_DSP_LAYOUT_BI MUNIFY_DSP_BI /* the packed block width (the pixel quads store 1 x 16 as 1 x 8) */
#endif
static const munify_dsp_block_shape blocks_shape = {MUNIFY_DSP_BO, MUNIFY_DSP_LAYOUT_BI, MUNIFY_DSP_SIGN_BITS,
                                                    MUNIFY_DSP_DENSE16, MUNIFY_DSP_SIGN_RECORDS,
                                                    MUNIFY_DSP_TABLE_RECORDS, MUNIFY_DSP_PAIR_RECORDS,
                                                    MUNIFY_DSP_ROW_STREAM};

typedef struct {
    const munify_dsp_blocks *p;
    const munify_dsp_requant *requant;
    const uint32_t *widened;   /* the column widened to int16 pairs */
    const uint8_t *unsigned_x; /* the column as x + 128 */
    int32_t *acc;              /* one accumulator per row (four for pixel quads) */
    int32_t simple;            /* the table allows munify_dsp_output_run's assembly path */
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

/* The state of the one-column assembly row loops (1 x bi and 2 x bi); the cursors walk the packed lists from
 * row block to row block. The assembly reads it at the offsets asserted below. */
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
    const uint32_t *records;
} blocks_rows_state;

_Static_assert(offsetof(blocks_rows_state, dense_cols) == 0 && offsetof(blocks_rows_state, dense_weights) == 4 &&
                   offsetof(blocks_rows_state, widened) == 8 && offsetof(blocks_rows_state, unified_cols) == 12 &&
                   offsetof(blocks_rows_state, signs) == 16 && offsetof(blocks_rows_state, magnitudes) == 20 &&
                   offsetof(blocks_rows_state, unsigned_x) == 24 && offsetof(blocks_rows_state, sign_masks) == 28 &&
                   offsetof(blocks_rows_state, counts) == 32 && offsetof(blocks_rows_state, bias) == 36 &&
                   offsetof(blocks_rows_state, unified_bias) == 40 && offsetof(blocks_rows_state, acc) == 44 &&
                   offsetof(blocks_rows_state, rows) == 48 && offsetof(blocks_rows_state, unified_count) == 52 &&
                   offsetof(blocks_rows_state, records) == 56,
               "blocks_rows_state: the assembly row loops read these word offsets");

static inline blocks_rows_state blocks_rows_state_of(const blocks_column *col, int32_t row_steps, int32_t *acc)
{
    const munify_dsp_block_lists *l = &col->p->lists;
    blocks_rows_state state = {l->dense_cols, l->dense_weights, col->widened, l->unified_cols, l->unified_signs,
                               l->unified_magnitudes, col->unsigned_x, munify_dsp_sign_masks[0], l->counts,
                               col->p->bias, l->unified_bias, acc, row_steps, 0, l->unified_records};
    return state;
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

/* The unsigned columns, or (table records) the pixel quads' tables, or (pair records) one column's pair table. */
static inline int32_t blocks_unsigned_bytes(int32_t k, int32_t columns)
{
    if (MUNIFY_DSP_PAIR_RECORDS) {
        return (k + 7) / 8 * MUNIFY_DSP_PAIR_GROUP_BYTES;
    }
    return MUNIFY_DSP_TABLE_RECORDS ? k / MUNIFY_DSP_LAYOUT_BI * MUNIFY_DSP_TABLE_BLOCK_BYTES : columns * k;
}

/* Whether any row block lists a unified block (else the quads skip the unsigned columns and unified passes,
 * the pair records their table). */
MUNIFY_DSP_FN int32_t blocks_any_unified(const munify_dsp_blocks *p)
{
    for (int32_t rb = 0; rb < p->rows / MUNIFY_DSP_BO; ++rb) {
        if (p->lists.counts[2 * rb + 1]) {
            return 1;
        }
    }
    return 0;
}

/* Columns in flight: FC and the C loops keep room for two, conv pixel quads for four. */
MUNIFY_DSP_FN int32_t munify_dsp_blocks_scratch_size(const munify_dsp_blocks *p, int32_t conv, int32_t im2col)
{
    int32_t k = blocks_padded_cols(p->cols);
    int32_t columns = conv ? MUNIFY_DSP_BLOCKS_CONV_COLUMNS : 2;
    int32_t row_heads = conv ? MUNIFY_DSP_BLOCKS_ROW_BYTES * (p->rows + 1) : 0; /* and the end head */
    return (int32_t)(sizeof(munify_dsp_requant) + (size_t)columns * sizeof(int32_t)) * p->rows + 2 * columns * k +
           blocks_unsigned_bytes(k, columns) + (im2col ? columns * k : 0) + row_heads;
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
    *im2col = (int8_t *)(*unsigned_x + blocks_unsigned_bytes(k, columns));
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

#endif
