/* The block layouts of the DSP block kernels, read by plain C: no DSP instruction, no assembly, any compiler.
 *
 * This is the scalar path beside every ISA path of munify_dsp_*_blocks_*_s8.h (selected there with
 * MUNIFY_DSP_SCALAR 1) and the executable definition of the layouts dsp-blocks-wide, dsp-blocks-wide16 and
 * dsp-blocks-bits (toolchain.plan.kernels.dsp.kernels.pack_blocks, docs/FORMAT.md), over the full row blocks:
 *   counts              uint16 [row_blocks][2]: dense blocks, unified blocks of the row block
 *   dense_cols          uint16 per dense block: its first input column; with 1 x bi blocks, bit 15 set on the
 *                       last dense block of each row (the assembly loops end on it; columns stay below 32768)
 *   dense_weights       int8   per dense block: bo x bi, row-major; dsp-blocks-wide16: int16, for every 4
 *                       weights w0, w2, w1, w3 (the SXTB16 order of the widened input)
 *   unified_records     uint32 (1 x bi blocks, mask bytes) per unified block: the word column | last << 15 |
 *                       magnitude << 16 (last: the row's last unified block), then bi mask bytes (0xFF where
 *                       the weight is negative); one LDM loads a record.
 *                       CONV_2D 1 x bi with sign bits: one word per unified block, signs | step << 8 |
 *                       last << 15 | magnitude << 16, step = block columns after the row's previous unified
 *                       block (the first: after column 0), at most 127; longer gaps pass through fillers of
 *                       magnitude 0 (counted in counts).
 *                       CONV_2D 1 x bi table records (dsp-blocks-table): 1 x 4: the word offset | magnitude
 *                       << 16 (int16); 1 x 8: two records at a time, the words offset(inputs 0-3) |
 *                       offset(inputs 4-7) << 16 of each, then m | m' << 16 (int16), an odd count's first
 *                       record alone: its offset word, then the magnitude (int32); offset = column / bi * (64 or 192) + signs * 8 (+ 128 for inputs
 *                       4-7), bit j of the 4 signs set when weight j is negative; when the block's last weight
 *                       is negative all its signs are flipped and the magnitude negated (the byte offsets of
 *                       signed sums in the pixel quads' tables; no unified_bias)
 *                       FULLY_CONNECTED 1 x bi pair records (dsp-blocks-pairs): per group g of 8 inputs that a
 *                       unified block covers, the words g * 256 + (lo | hi << 3) * 4 and m_lo | m_hi << 16
 *                       (int16), lo / hi the patterns of the inputs 0-3 / 4-7: bit j (j < 3) set when weight j
 *                       is negative; when weight 3 of a half is negative its signs are flipped and its
 *                       magnitude negated; a half no unified block covers has magnitude 0 (no unified_bias)
 *   unified_cols        uint16 per unified block (the other layouts)
 *   unified_signs       uint8  per unified block: bo x bi mask bytes (wide, bo > 1) or bo x ceil(bi/8) sign
 *                       bytes, bit j set when weight j is negative (bits)
 *   unified_magnitudes  int16  per unified block: bo
 *   tail_weights        int8   the rows % bo last rows, each cols long padded with zeros to a multiple of 4
 *   unified_bias        int32  per row: -magnitude * (128 * positives + 127 * negatives) summed over its blocks
 *   row_stream          uint32 CONV_2D 1 x bi (the pixel quads, whose dense_cols, dense_weights and
 *                       unified_records stay empty), row after row: its dense blocks, with int16 weights
 *                       (dsp-blocks-wide16) per block its column word (column | last << 15) and its weights,
 *                       with int8 weights the row's dense_cols halfwords (padded to a word) and then its
 *                       blocks' weights, weights as dense_weights lays them out; then (table records, when the
 *                       row has any) their count, then the row's unified records; one pointer walks all rows
 * The partial last column block of each row block is listed as one more dense block, padded with zero weights
 * to bi. CONV_2D 1 x 16 blocks are stored as 1 x 8 blocks (two per 1 x 16 block, of its kind). A unified
 * block row adds magnitude * SAD(u, mask), u = x + 128 as unsigned bytes: the sum of
 * |u_j - mask_j| is sign * x summed plus 128 per positive and 127 per negative weight, which unified_bias
 * takes back.
 */
#ifndef MUNIFY_DSP_BLOCKS_SCALAR_H
#define MUNIFY_DSP_BLOCKS_SCALAR_H

#include <stdint.h>

#define MUNIFY_DSP_BLOCK_COLUMN_MASK 0x7FFF /* bit 15 of a column flags the row's last block */

/* The packed arrays of one block-structured weight. */
typedef struct {
    const uint16_t *counts;
    const uint16_t *dense_cols;
    const int8_t *dense_weights; /* int16 in dsp-blocks-wide16 */
    const uint32_t *unified_records;
    const uint16_t *unified_cols;
    const uint8_t *unified_signs;
    const int16_t *unified_magnitudes;
    const int8_t *tail_weights;
    const int32_t *unified_bias;
    const uint32_t *row_stream; /* the CONV_2D pixel quads: every row's dense blocks, then its records */
} munify_dsp_block_lists;

typedef struct {
    int32_t bo, bi;
    int32_t sign_bits; /* dsp-blocks-bits */
    int32_t dense16;   /* dsp-blocks-wide16 */
    int32_t sign_records; /* CONV_2D 1 x bi with sign bits: unified_records hold sign records */
    int32_t table_records; /* CONV_2D 1 x bi with mask bytes: unified_records hold table records */
    int32_t pair_records;  /* FULLY_CONNECTED 1 x bi (dsp-blocks-pairs): unified_records hold pair records */
    int32_t row_stream;    /* CONV_2D 1 x bi: row_stream instead of dense_cols, dense_weights, unified_records */
} munify_dsp_block_shape;

/* sum_j (bit j of signs ? -1 : 1) * x[j] over 4 inputs: one entry of the table records' tables. */
static inline int32_t munify_dsp_scalar_signed_sum(const int8_t *x, int32_t signs)
{
    int32_t sum = 0;
    for (int32_t j = 0; j < 4; ++j) {
        sum += (signs >> j) & 1 ? -x[j] : x[j];
    }
    return sum;
}

/* A table record's contribution: `offsets` its offset word, `magnitude` its magnitude, offsets as
 * toolchain.plan.kernels.dsp.kernels._table_record. */
static inline int32_t munify_dsp_scalar_table_record(const int8_t *x, int32_t bi, uint32_t offsets, int32_t magnitude)
{
    uint32_t lo = offsets & 0xFFFF, hi = offsets >> 16;
    if (bi == 4) {
        return magnitude * munify_dsp_scalar_signed_sum(x + 4 * (lo / 64), (int32_t)(lo % 64 / 8));
    }
    const int8_t *block = x + 8 * (lo / 192);
    return magnitude * (munify_dsp_scalar_signed_sum(block, (int32_t)(lo % 192 / 8)) +
                        munify_dsp_scalar_signed_sum(block + 4, (int32_t)((hi % 192 - 128) / 8)));
}

/* The record(s) at `records` of a row's record b of n, their contribution added to acc; returns the words read.
 * 1 x 4: one word offset | magnitude << 16. 1 x 8: an odd count's first record [offsets, magnitude], then two
 * at a time [offsets, offsets', m | m' << 16] (b advanced past the second). */
static inline int32_t munify_dsp_scalar_table_records(const int8_t *x, int32_t bi, const uint32_t *records,
                                                      int32_t *b, int32_t n, int32_t *acc)
{
    if (bi == 4) {
        *acc += munify_dsp_scalar_table_record(x, 4, records[0] & 0xFFFF, (int16_t)(records[0] >> 16));
        return 1;
    }
    if (*b == 0 && n % 2) {
        *acc += munify_dsp_scalar_table_record(x, 8, records[0], (int32_t)records[1]);
        return 2;
    }
    *acc += munify_dsp_scalar_table_record(x, 8, records[0], (int16_t)(records[2] & 0xFFFF)) +
            munify_dsp_scalar_table_record(x, 8, records[1], (int16_t)(records[2] >> 16));
    ++*b;
    return 3;
}

static inline int32_t munify_dsp_scalar_input(const int8_t *x, int32_t cols, int32_t j)
{
    return j < cols ? x[j] : 0; /* the padded last block and the padded tail rows read zeros */
}

/* x[at + 3] + sum_j (bit j of pattern ? -1 : 1) * x[at + j], j < 3: one half of a pair-table entry. */
static inline int32_t munify_dsp_scalar_pair_half(const int8_t *x, int32_t cols, int32_t at, int32_t pattern)
{
    int32_t sum = munify_dsp_scalar_input(x, cols, at + 3);
    for (int32_t j = 0; j < 3; ++j) {
        int32_t v = munify_dsp_scalar_input(x, cols, at + j);
        sum += (pattern >> j) & 1 ? -v : v;
    }
    return sum;
}

/* A pair record's contribution (dsp-blocks-pairs, toolchain.plan.kernels.dsp.kernels._pair_records): the words
 * g * 256 + (lo | hi << 3) * 4 and m_lo | m_hi << 16 (int16). */
static inline int32_t munify_dsp_scalar_pair_record(const int8_t *x, int32_t cols, const uint32_t *record)
{
    int32_t at = (int32_t)(record[0] / 256) * 8, entry = (int32_t)(record[0] % 256 / 4);
    int32_t m_lo = (int16_t)(record[1] & 0xFFFF), m_hi = (int16_t)(record[1] >> 16);
    return m_lo * munify_dsp_scalar_pair_half(x, cols, at, entry & 7) +
           m_hi * munify_dsp_scalar_pair_half(x, cols, at + 4, entry >> 3);
}

/* sum over n inputs of |(x + 128) - mask|, the mask byte 0xFF where the weight is negative. */
static inline int32_t munify_dsp_scalar_sad(const int8_t *x, const uint8_t *signs, int32_t n, int32_t sign_bits)
{
    int32_t sum = 0;
    for (int32_t j = 0; j < n; ++j) {
        int32_t negative = sign_bits ? (signs[j >> 3] >> (j & 7)) & 1 : signs[j] == 0xFF;
        int32_t u = x[j] + 128;
        sum += negative ? 255 - u : u;
    }
    return sum;
}

/* Weight (r, j) of the dense block whose weights start at `block` (int16 in dsp-blocks-wide16). */
static inline int32_t munify_dsp_scalar_dense_weight(const int8_t *block, munify_dsp_block_shape s, int32_t r,
                                                     int32_t j)
{
    static const uint8_t sxtb16_order[4] = {0, 2, 1, 3}; /* widened input order: w0, w2, w1, w3 */
    int32_t at = r * s.bi;
    if (s.dense16) {
        const int16_t *w16 = (const int16_t *)(const void *)block;
        for (int32_t p = 0; p < 4; ++p) {
            if (sxtb16_order[p] == (j & 3)) {
                return w16[at + (j & ~3) + p];
            }
        }
    }
    return block[at + j];
}

/* acc[0 .. rows) = bias + the matrix times one column x (cols int8 inputs). */
static inline void munify_dsp_blocks_accumulate_scalar(const munify_dsp_block_lists *l, munify_dsp_block_shape s,
                                                       int32_t rows, int32_t cols, const int32_t *bias,
                                                       const int8_t *x, int32_t *acc)
{
    const uint16_t *counts = l->counts, *dense_cols = l->dense_cols, *unified_cols = l->unified_cols;
    const uint8_t *signs = l->unified_signs;
    const int16_t *magnitudes = l->unified_magnitudes;
    const uint32_t *records = l->unified_records, *stream = l->row_stream;
    int32_t sign_bytes = s.sign_bits ? (s.bi + 7) / 8 : s.bi;
    int32_t block_bytes = s.bo * s.bi * (s.dense16 ? 2 : 1);
    int32_t full_rows = rows - rows % s.bo, dense_block = 0;
    for (int32_t r0 = 0; r0 < full_rows; r0 += s.bo, counts += 2) {
        for (int32_t r = 0; r < s.bo; ++r) {
            acc[r0 + r] = bias[r0 + r] + l->unified_bias[r0 + r];
        }
        const uint16_t *stream_cols = (const uint16_t *)(const void *)stream; /* int8 weights: the row's columns */
        if (s.row_stream && !s.dense16) {
            stream += (2 * counts[0] + 3) / 4;
        }
        for (int32_t b = 0; b < counts[0]; ++b, ++dense_block) {
            int32_t col;
            const int8_t *weights;
            if (s.row_stream) { /* int16 weights: the column word, then the block's weights */
                col = (s.dense16 ? (int32_t)*stream++ : stream_cols[b]) & MUNIFY_DSP_BLOCK_COLUMN_MASK;
                weights = (const int8_t *)(const void *)stream;
                stream += block_bytes / 4;
            } else {
                col = *dense_cols++ & MUNIFY_DSP_BLOCK_COLUMN_MASK;
                weights = l->dense_weights + dense_block * block_bytes;
            }
            for (int32_t r = 0; r < s.bo; ++r) {
                for (int32_t j = 0; j < s.bi; ++j) {
                    acc[r0 + r] += munify_dsp_scalar_dense_weight(weights, s, r, j) *
                                   munify_dsp_scalar_input(x, cols, col + j);
                }
            }
        }
        if (s.row_stream) { /* the row's records follow its dense blocks (table records: after their count) */
            records = stream + (s.table_records && counts[1] ? 1 : 0);
        }
        int32_t step_col = 0;
        for (int32_t b = 0; b < counts[1]; ++b) {
            if (s.pair_records) {
                acc[r0] += munify_dsp_scalar_pair_record(x, cols, records);
                records += 2;
                continue;
            }
            if (s.table_records) {
                records += munify_dsp_scalar_table_records(x, s.bi, records, &b, counts[1], &acc[r0]);
                continue;
            }
            if (s.sign_records) {
                uint32_t word = *records++;
                uint8_t signs_byte = (uint8_t)(word & 0xFF);
                step_col += (int32_t)((word >> 8) & 0x7F) * s.bi;
                acc[r0] += (int32_t)(word >> 16) * munify_dsp_scalar_sad(x + step_col, &signs_byte, s.bi, 1);
                continue;
            }
            if (s.bo == 1 && !s.sign_bits) {
                uint32_t word = *records++;
                int32_t col = (int32_t)(word & MUNIFY_DSP_BLOCK_COLUMN_MASK);
                acc[r0] += (int32_t)(word >> 16) *
                           munify_dsp_scalar_sad(x + col, (const uint8_t *)(const void *)records, s.bi, 0);
                records += s.bi / 4;
                continue;
            }
            int32_t col = *unified_cols++ & MUNIFY_DSP_BLOCK_COLUMN_MASK;
            for (int32_t r = 0; r < s.bo; ++r, signs += sign_bytes) {
                acc[r0 + r] += *magnitudes++ * munify_dsp_scalar_sad(x + col, signs, s.bi, s.sign_bits);
            }
        }
        if (s.row_stream) {
            stream = records;
        }
    }
    int32_t padded = (cols + 3) / 4 * 4;
    for (int32_t r = full_rows; r < rows; ++r) {
        acc[r] = bias[r];
        for (int32_t j = 0; j < cols; ++j) {
            acc[r] += l->tail_weights[(r - full_rows) * padded + j] * x[j];
        }
    }
}

#endif
