/* CONV_2D and FULLY_CONNECTED whose weights stay block-compressed in flash (layout blocks-min,
 * toolchain.plan.kernels.generic.packing: the block stream and a 2-bit kind per block): once per call they are
 * expanded into the mve-rows4 layout in scratch, then the dense Helium kernel (munify_mve_matrix.h) runs on them.
 *
 * The expansion costs a few instructions per block once per inference; the dense kernel then costs what it
 * costs on dense weights. On the Cortex-M55 a bo x bi block kernel cannot beat that kernel (VMLADAVA: 16 MACs
 * an instruction over 4 rows sharing each activation load), so this is how compressed weights run at dense
 * speed: flash holds the compressed bytes, the arena the dense matrix for the length of the layer.
 *
 * The layer source defines the macros of munify_mve_matrix.h and the block grid: MVE_BO, MVE_BI (<= 16),
 * MVE_FULL_ROW_BLOCKS, MVE_FULL_COL_BLOCKS, MVE_COL_BLOCKS, MVE_SIGN_BYTES. MVE_BI divides 16.
 */
#ifndef MUNIFY_MVE_UNPACK_H
#define MUNIFY_MVE_UNPACK_H

#include "munify_mve_matrix.h"

#define MVE_ROWS4_BYTES (MVE_GROUPS * MVE_GROUP_BYTES)
/* the expanded weights follow the matrix kernel's own scratch (accumulators, one patch) */
#define MVE_UNPACK_AT ((MVE_SCRATCH_ACC_BYTES + (MVE_COLS + 3) / 4 * 4 + 15) / 16 * 16)

/* where weight (row, col) lives in the mve-rows4 layout */
MUNIFY_MVE_INLINE int32_t mve_rows4_offset(int32_t row, int32_t col)
{
    return (row >> 2) * MVE_GROUP_BYTES + (col >> 4) * 64 + (row & 3) * 16 + (col & 15);
}

MUNIFY_MVE_INLINE int8_t *mve_rows4_at(int8_t *w, int32_t row, int32_t col)
{
    return w + mve_rows4_offset(row, col);
}

/* A block row: bi weights at `at` (bi divides 16, so a block row never leaves its 16-byte step) */
MUNIFY_MVE_INLINE void mve_put_block_row(int8_t *at, int8x16_t v)
{
    vstrbq_p_s8(at, v, vctp8q(MVE_BI));
}

/* bo rows of a unified block from the stream (per row: magnitude, sign bytes); returns the stream after it */
MUNIFY_MVE_INLINE const int8_t *mve_unpack_unified(const int8_t *s, int8_t *at, const int32_t *row_offset)
{
    for (int32_t r = 0; r < MVE_BO; ++r) {
        const int8_t m = *s++;
        uint32_t negative = (uint8_t)*s++; /* bit j: weight j is -m; one predicate bit per byte lane */
        if (MVE_SIGN_BYTES > 1) {
            negative |= (uint32_t)(uint8_t)*s++ << 8;
        }
        const int8x16_t v = vdupq_n_s8(m);
        mve_put_block_row(at + row_offset[r], vpselq_s8(vnegq_s8(v), v, (mve_pred16_t)negative));
    }
    return s;
}

/* A dense block row: where bi bytes are a whole vector of 8-, 16- or 32-bit lanes, a widening load and a
 * narrowing store copy exactly them without setting a predicate */
MUNIFY_MVE_INLINE void mve_copy_block_row(const int8_t *s, int8_t *at)
{
#if MVE_BI == 16
    vst1q_s8(at, vld1q_s8(s));
#elif MVE_BI == 8
    vstrbq_s16(at, vldrbq_s16(s));
#elif MVE_BI == 4
    vstrbq_s32(at, vldrbq_s32(s));
#else
    mve_put_block_row(at, vldrbq_z_s8(s, vctp8q(MVE_BI))); /* no read past the stream */
#endif
}

MUNIFY_MVE_INLINE const int8_t *mve_unpack_dense(const int8_t *s, int8_t *at, const int32_t *row_offset)
{
    for (int32_t r = 0; r < MVE_BO; ++r, s += MVE_BI) {
        mve_copy_block_row(s, at + row_offset[r]);
    }
    return s;
}

/* The 2-bit kinds of consecutive blocks, shifted out of one register and reloaded every 4 blocks */
typedef struct {
    const uint8_t *next;
    uint32_t bits;
    int32_t left;
} mve_kind_reader;

MUNIFY_MVE_INLINE mve_kind_reader mve_kinds_from(const uint8_t *kinds, int32_t block)
{
    const mve_kind_reader k = {kinds + (block >> 2) + 1, (uint32_t)kinds[block >> 2] >> ((block & 3) * 2),
                               4 - (block & 3)};
    return k;
}

MUNIFY_MVE_INLINE uint32_t mve_next_kind(mve_kind_reader *k)
{
    const uint32_t kind = k->bits & 3u;
    k->bits >>= 2;
    if (--k->left == 0) {
        k->bits = *k->next++;
        k->left = 4;
    }
    return kind;
}

MUNIFY_MVE_INLINE const int8_t *mve_unpack_block(const int8_t *s, int8_t *at, const int32_t *row_offset,
                                                 uint32_t kind)
{
    if (kind == 0) { /* BlockKind.DENSE */
        return mve_unpack_dense(s, at, row_offset);
    }
    if (kind == 1) { /* BlockKind.UNIFIED; PRUNED blocks are absent */
        return mve_unpack_unified(s, at, row_offset);
    }
    return s;
}

#define MVE_STEP_BLOCKS (16 / MVE_BI)

/* The full blocks of row block rb, a 16-byte step (64 bytes of mve-rows4) at a time: within a step the block
 * offsets are constants */
MUNIFY_MVE_INLINE const int8_t *mve_unpack_row_block(const int8_t *s, const uint8_t *kinds, int8_t *w, int32_t rb)
{
    int32_t row_offset[MVE_BO];
    for (int32_t r = 0; r < MVE_BO; ++r) {
        row_offset[r] = mve_rows4_offset(rb * MVE_BO + r, 0) - mve_rows4_offset(rb * MVE_BO, 0);
    }
    int8_t *at = mve_rows4_at(w, rb * MVE_BO, 0);
    mve_kind_reader k = mve_kinds_from(kinds, rb * MVE_COL_BLOCKS);
    for (int32_t step = 0; step < MVE_FULL_COL_BLOCKS / MVE_STEP_BLOCKS; ++step, at += 64) {
#pragma GCC unroll 16
        for (int32_t j = 0; j < MVE_STEP_BLOCKS; ++j) {
            s = mve_unpack_block(s, at + j * MVE_BI, row_offset, mve_next_kind(&k));
        }
    }
    for (int32_t j = 0; j < MVE_FULL_COL_BLOCKS % MVE_STEP_BLOCKS; ++j) {
        s = mve_unpack_block(s, at + j * MVE_BI, row_offset, mve_next_kind(&k));
    }
    return s;
}

/* rows [r0, r1) from column c0 on, row after row, byte by byte (the edge blocks) */
MUNIFY_MVE_INLINE const int8_t *mve_unpack_edge(const int8_t *s, int8_t *w, int32_t r0, int32_t r1, int32_t c0)
{
    for (int32_t r = r0; r < r1; ++r) {
        for (int32_t c = c0; c < MVE_COLS; ++c) {
            *mve_rows4_at(w, r, c) = *s++;
        }
    }
    return s;
}

/* the blocks-min weights (stream, kinds) as mve-rows4 at w (MVE_ROWS4_BYTES) */
MUNIFY_MVE_FN void mve_unpack(const int8_t *s, const uint8_t *kinds, int8_t *w)
{
    munify_mve_fill(w, 0, MVE_ROWS4_BYTES); /* pruned blocks and the padding */
    for (int32_t rb = 0; rb < MVE_FULL_ROW_BLOCKS; ++rb) {
        s = mve_unpack_row_block(s, kinds, w, rb);
        s = mve_unpack_edge(s, w, rb * MVE_BO, (rb + 1) * MVE_BO, MVE_FULL_COL_BLOCKS * MVE_BI);
    }
    mve_unpack_edge(s, w, MVE_FULL_ROW_BLOCKS * MVE_BO, MVE_ROWS, 0);
}

/* scratch: the matrix kernel's (accumulators, a patch), then MVE_ROWS4_BYTES of expanded weights */
MUNIFY_MVE_FN void munify_mve_unpack_s8(const int8_t *input, int8_t *output, int8_t *scratch, const int8_t *stream,
                                        const uint8_t *kinds, const int32_t *bias, const int32_t *mult,
                                        const int32_t *shift)
{
    int8_t *weights = scratch + MVE_UNPACK_AT;
    mve_unpack(stream, kinds, weights);
    munify_mve_matrix_s8(input, output, scratch, weights, bias, mult, shift);
}

#endif
