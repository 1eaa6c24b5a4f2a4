/* munify NEON block kernel: CONV_2D and FULLY_CONNECTED over bo x bi blocks (bi 8 or 16); pruned blocks are
 * absent from the weights and from the instruction stream.
 *
 * Layout neon-blocks, per row block (the rows % bo last rows form one more row block, padded with zero rows,
 * all of it dense): counts (dense blocks, unified blocks); per dense block its column and bo x bi int8
 * weights; per unified block its column, bo x bi/8 sign bytes (bit j: weight j is negative) and bo
 * magnitudes. The partial last column block is one more dense block padded with zero weights.
 *
 * Four output pixels run together: their patches are interleaved in 8-byte chunks (chunk c of pixel q at
 * 32 c + 8 q), so one LD1 of two q registers fetches a block's inputs for all four and every weight, sign
 * and magnitude load serves four pixels. A dense 8-weight chunk is 4 SMULL(2) + 4 SADALP, or 2 SDOT with
 * dotprod. A unified block row is magnitude * sum(sign_j * x_j); with the sign mask m_j (0x00 or 0xFF),
 * sign_j * x_j = (x_j ^ m_j) + (m_j != 0): CMTST, 2 EOR, 2 SADDLP, 4 SMLAL by the magnitude (or 2 EOR,
 * 2 SDOT by the magnitude); the magnitude * (negative weights) terms are `unified_bias`, added at pack time.
 */
#ifndef MUNIFY_NEON_BLOCKS_H
#define MUNIFY_NEON_BLOCKS_H

#include "munify_neon.h"

#define MUNIFY_NEON_QUAD 4 /* output pixels per pass */

typedef struct {
    munify_neon_window w;
    int32_t row_blocks;
    const uint16_t *counts;
    const uint16_t *dense_cols;
    const int8_t *dense_weights;
    const uint16_t *unified_cols;
    const uint8_t *unified_signs;
    const int8_t *unified_magnitudes;
    const int32_t *unified_bias; /* row_blocks * bo entries */
    const int32_t *bias;         /* out_c entries, input offset folded in */
    munify_neon_quant q;
} munify_neon_blocks;

/* The partial sums of one row for four pixels: without SDOT one int32x4 per pixel, with SDOT two (pixels
 * A, B in acc[0], C, D in acc[1], two lanes each). */
typedef struct {
    int32x4_t acc[4];
} munify_neon_quad;

MUNIFY_NEON_FN munify_neon_quad munify_neon_quad_start(int32_t bias, const int sdot)
{
    int32x4_t start = vsetq_lane_s32(bias, vdupq_n_s32(0), 0);
    if (sdot) {
        start = vsetq_lane_s32(bias, start, 2); /* pixels A, B (C, D) share a register */
    }
    munify_neon_quad sums = {{start, start, start, start}};
    return sums;
}

/* One 8-weight chunk, dense: x = the four pixels' 8 inputs, w = the weights in both halves. */
MUNIFY_NEON_FN void munify_neon_quad_dense(munify_neon_quad *s, int8x16x2_t x, int8x16_t w, const int sdot)
{
#if defined(__ARM_FEATURE_DOTPROD)
    if (sdot) {
        s->acc[0] = vdotq_s32(s->acc[0], x.val[0], w);
        s->acc[1] = vdotq_s32(s->acc[1], x.val[1], w);
        return;
    }
#else
    (void)sdot;
#endif
    s->acc[0] = vpadalq_s16(s->acc[0], vmull_s8(vget_low_s8(x.val[0]), vget_low_s8(w)));
    s->acc[1] = vpadalq_s16(s->acc[1], vmull_high_s8(x.val[0], w));
    s->acc[2] = vpadalq_s16(s->acc[2], vmull_s8(vget_low_s8(x.val[1]), vget_low_s8(w)));
    s->acc[3] = vpadalq_s16(s->acc[3], vmull_high_s8(x.val[1], w));
}

/* One 8-weight chunk of a unified block row: signs -> its sign byte, magnitude <= 127. */
MUNIFY_NEON_FN void munify_neon_quad_unified(munify_neon_quad *s, int8x16x2_t x, const uint8_t *signs,
                                             int8_t magnitude, const int sdot)
{
    const uint8x16_t bits = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ull));
    const int8x16_t mask = vreinterpretq_s8_u8(vtstq_u8(vld1q_dup_u8(signs), bits));
    const int8x16_t flipped0 = veorq_s8(x.val[0], mask), flipped1 = veorq_s8(x.val[1], mask);
#if defined(__ARM_FEATURE_DOTPROD)
    if (sdot) {
        const int8x16_t m = vdupq_n_s8(magnitude);
        s->acc[0] = vdotq_s32(s->acc[0], flipped0, m);
        s->acc[1] = vdotq_s32(s->acc[1], flipped1, m);
        return;
    }
#else
    (void)sdot;
#endif
    const int16x8_t pairs0 = vpaddlq_s8(flipped0), pairs1 = vpaddlq_s8(flipped1);
    s->acc[0] = vmlal_n_s16(s->acc[0], vget_low_s16(pairs0), magnitude);
    s->acc[1] = vmlal_high_n_s16(s->acc[1], pairs0, magnitude);
    s->acc[2] = vmlal_n_s16(s->acc[2], vget_low_s16(pairs1), magnitude);
    s->acc[3] = vmlal_high_n_s16(s->acc[3], pairs1, magnitude);
}

/* The four pixels' sums of one row: lanes A, B, C, D. */
MUNIFY_NEON_FN int32x4_t munify_neon_quad_sums(const munify_neon_quad *s, const int sdot)
{
    if (sdot) {
        return vpaddq_s32(s->acc[0], s->acc[1]);
    }
    return munify_neon_reduce4(s->acc[0], s->acc[1], s->acc[2], s->acc[3]);
}

MUNIFY_NEON_FN int8x16x2_t munify_neon_quad_inputs(const int8_t *chunks, int32_t column)
{
    const int8_t *chunk = chunks + 4 * column; /* column is a multiple of 8: chunk column / 8 */
    const int8x16x2_t x = {{vld1q_s8(chunk), vld1q_s8(chunk + 16)}}; /* LDP: any two registers */
    return x;
}

/* 8 weights in both halves: one LD1R (AArch64 has no alignment requirement for it). */
MUNIFY_NEON_FN int8x16_t munify_neon_both_halves(const int8_t *w)
{
    return vreinterpretq_s8_s64(vld1q_dup_s64((const int64_t *)(const void *)w));
}

/* acc[q * rows_padded + r] for the four pixels whose chunks are interleaved in `chunks`. */
MUNIFY_NEON_FN void munify_neon_blocks_quad(const munify_neon_blocks *p, const int8_t *chunks, int32_t *acc,
                                            int32_t rows_padded, const int bo, const int bi, const int sdot)
{
    const int8_t *dense = p->dense_weights;
    const uint8_t *signs = p->unified_signs;
    const int8_t *magnitudes = p->unified_magnitudes;
    const uint16_t *dense_col = p->dense_cols, *unified_col = p->unified_cols;
    const int chunks_per_block = bi / 8;
    for (int32_t rb = 0; rb < p->row_blocks; ++rb) {
        const int32_t r0 = rb * bo;
        munify_neon_quad sums[4];
        for (int r = 0; r < bo; ++r) {
            const int32_t row = r0 + r < p->w.out_c ? r0 + r : 0;
            sums[r] = munify_neon_quad_start(p->bias[row] + p->unified_bias[r0 + r], sdot);
        }
        for (int32_t d = p->counts[2 * rb]; d > 0; --d, dense += bo * bi) {
            const int32_t column = *dense_col++;
            for (int c = 0; c < chunks_per_block; ++c) {
                const int8x16x2_t x = munify_neon_quad_inputs(chunks, column + 8 * c);
                for (int r = 0; r < bo; ++r) {
                    munify_neon_quad_dense(&sums[r], x, munify_neon_both_halves(dense + r * bi + 8 * c), sdot);
                }
            }
        }
        for (int32_t u = p->counts[2 * rb + 1]; u > 0; --u, signs += bo * chunks_per_block, magnitudes += bo) {
            const int32_t column = *unified_col++;
            for (int c = 0; c < chunks_per_block; ++c) {
                const int8x16x2_t x = munify_neon_quad_inputs(chunks, column + 8 * c);
                for (int r = 0; r < bo; ++r) {
                    munify_neon_quad_unified(&sums[r], x, signs + r * chunks_per_block + c, magnitudes[r], sdot);
                }
            }
        }
        for (int r = 0; r < bo; ++r) {
            const int32x4_t total = munify_neon_quad_sums(&sums[r], sdot);
            acc[r0 + r] = vgetq_lane_s32(total, 0);
            acc[rows_padded + r0 + r] = vgetq_lane_s32(total, 1);
            acc[2 * rows_padded + r0 + r] = vgetq_lane_s32(total, 2);
            acc[3 * rows_padded + r0 + r] = vgetq_lane_s32(total, 3);
        }
    }
}

/* Chunk c of pixel q to chunks + 32 c + 8 q, for the `depth` bytes of each column. */
MUNIFY_NEON_FN void munify_neon_interleave4(const int8_t *const *columns, int32_t depth, int8_t *chunks)
{
    for (int32_t at = 0; at < depth; at += 8, chunks += 32) {
        const int8x16_t ab = vcombine_s8(vld1_s8(columns[0] + at), vld1_s8(columns[1] + at));
        const int8x16_t cd = vcombine_s8(vld1_s8(columns[2] + at), vld1_s8(columns[3] + at));
        vst1q_s8(chunks, ab);
        vst1q_s8(chunks + 16, cd);
    }
}

/* scratch: 16 * rows_padded bytes of accumulators, 4 * depth bytes of interleaved chunks, 4 * depth of patches */
MUNIFY_NEON_FN void munify_neon_blocks_s8(const munify_neon_blocks *p, const int8_t *input, int8_t *output,
                                          int8_t *scratch, const int bo, const int bi, const int sdot)
{
    const munify_neon_window *w = &p->w;
    const int32_t rows = w->out_c, rows_padded = p->row_blocks * bo, pixels = w->out_h * w->out_w;
    int32_t *acc = (int32_t *)(void *)scratch;
    int8_t *chunks = scratch + 4 * MUNIFY_NEON_QUAD * rows_padded;
    int8_t *patches = chunks + MUNIFY_NEON_QUAD * w->depth;
    for (int32_t n = 0; n < w->batches; ++n) {
        const int8_t *image = input + n * w->in_h * w->in_w * w->in_c;
        int8_t *out = output + n * pixels * rows;
        for (int32_t first = 0; first < pixels; first += MUNIFY_NEON_QUAD) {
            const int8_t *columns[MUNIFY_NEON_QUAD];
            for (int32_t q = 0; q < MUNIFY_NEON_QUAD; ++q) {
                const int32_t pixel = first + q < pixels ? first + q : pixels - 1; /* repeat the last */
                columns[q] = munify_neon_patch(w, image, pixel / w->out_w, pixel % w->out_w, patches + q * w->depth);
            }
            munify_neon_interleave4(columns, w->depth, chunks);
            munify_neon_blocks_quad(p, chunks, acc, rows_padded, bo, bi, sdot);
            for (int32_t q = 0; q < MUNIFY_NEON_QUAD && first + q < pixels; ++q) {
                munify_neon_output_run(acc + q * rows_padded, &p->q, rows, out + (first + q) * rows);
            }
        }
    }
}

#endif
