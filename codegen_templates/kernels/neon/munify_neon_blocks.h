/* munify NEON block kernel: CONV_2D and FULLY_CONNECTED over bo x bi blocks (bi 8 or 16); pruned blocks are
 * absent from the weights and from the instruction stream.
 *
 * Layout neon-blocks, per row block (the rows % bo last rows form one more row block, padded with zero rows,
 * all of it dense): counts (dense blocks, unified blocks); per dense block its column and bo x bi int8
 * weights; per unified block its column, bo x bi/8 sign bytes (bit j: weight j is negative) and bo
 * magnitudes. The partial last column block is one more dense block padded with zero weights.
 *
 * A unified block row is magnitude * sum(sign_j * x_j). With the sign mask m_j (0x00 or 0xFF),
 * sign_j * x_j = (x_j ^ m_j) + (m_j != 0), so it is EOR + SADDLP and one SMLAL by the magnitude; the
 * magnitude * (negative weights) terms are `unified_bias`, added per row at pack time.
 */
#ifndef MUNIFY_NEON_BLOCKS_H
#define MUNIFY_NEON_BLOCKS_H

#include "munify_neon.h"

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

MUNIFY_NEON_FN int32x4_t munify_neon_dense_block(int32x4_t acc, const int8_t *x, const int8_t *w, const int bi)
{
    if (bi == 8) {
        return vpadalq_s16(acc, vmull_s8(vld1_s8(x), vld1_s8(w)));
    }
    const int8x16_t xv = vld1q_s8(x), wv = vld1q_s8(w);
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(xv), vget_low_s8(wv)));
    return vpadalq_s16(acc, vmull_high_s8(xv, wv));
}

MUNIFY_NEON_FN int32x4_t munify_neon_unified_block(int32x4_t acc, const int8_t *x, const uint8_t *signs,
                                                   int16_t magnitude, const int bi)
{
    const uint8x8_t bits = vcreate_u8(0x8040201008040201ull);
    if (bi == 8) {
        const uint8x8_t mask = vtst_u8(vdup_n_u8(signs[0]), bits);
        const int8x8_t flipped = veor_s8(vld1_s8(x), vreinterpret_s8_u8(mask));
        return vmlal_n_s16(acc, vpaddl_s8(flipped), magnitude);
    }
    const uint8x16_t mask = vtstq_u8(vcombine_u8(vdup_n_u8(signs[0]), vdup_n_u8(signs[1])), vcombine_u8(bits, bits));
    const int16x8_t pairs = vpaddlq_s8(veorq_s8(vld1q_s8(x), vreinterpretq_s8_u8(mask)));
    acc = vmlal_n_s16(acc, vget_low_s16(pairs), magnitude);
    return vmlal_high_n_s16(acc, pairs, magnitude);
}

/* Accumulators (bias not yet added) of every row for one column x. */
MUNIFY_NEON_FN void munify_neon_blocks_column(const munify_neon_blocks *p, const int8_t *x, int32_t *acc,
                                              const int bo, const int bi)
{
    const int8_t *dense = p->dense_weights;
    const uint8_t *signs = p->unified_signs;
    const int8_t *magnitudes = p->unified_magnitudes;
    const uint16_t *dense_col = p->dense_cols, *unified_col = p->unified_cols;
    const int sign_bytes = bi / 8;
    for (int32_t rb = 0; rb < p->row_blocks; ++rb, acc += bo) {
        int32x4_t sums[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
        for (int32_t d = p->counts[2 * rb]; d > 0; --d, dense += bo * bi) {
            const int8_t *column = x + *dense_col++;
            for (int r = 0; r < bo; ++r) {
                sums[r] = munify_neon_dense_block(sums[r], column, dense + r * bi, bi);
            }
        }
        for (int32_t u = p->counts[2 * rb + 1]; u > 0; --u, signs += bo * sign_bytes, magnitudes += bo) {
            const int8_t *column = x + *unified_col++;
            for (int r = 0; r < bo; ++r) {
                sums[r] = munify_neon_unified_block(sums[r], column, signs + r * sign_bytes, magnitudes[r], bi);
            }
        }
        for (int r = 0; r < bo; ++r) {
            acc[r] = vaddvq_s32(sums[r]);
        }
    }
}

/* scratch: 4 * row_blocks * bo bytes of accumulators, then `depth` bytes of patch */
MUNIFY_NEON_FN void munify_neon_blocks_s8(const munify_neon_blocks *p, const int8_t *input, int8_t *output,
                                          int8_t *scratch, const int bo, const int bi)
{
    const munify_neon_window *w = &p->w;
    int32_t *acc = (int32_t *)(void *)scratch;
    int8_t *im2col = scratch + 4 * p->row_blocks * bo;
    const int32_t rows = w->out_c;
    for (int32_t n = 0; n < w->batches; ++n) {
        const int8_t *image = input + n * w->in_h * w->in_w * w->in_c;
        int8_t *out = output + n * w->out_h * w->out_w * rows;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            for (int32_t ox = 0; ox < w->out_w; ++ox, out += rows) {
                munify_neon_blocks_column(p, munify_neon_patch(w, image, oy, ox, im2col), acc, bo, bi);
                for (int32_t r = 0; r < rows; ++r) {
                    acc[r] += p->bias[r] + p->unified_bias[r];
                }
                munify_neon_output_run(acc, &p->q, rows, out);
            }
        }
    }
}

#endif
