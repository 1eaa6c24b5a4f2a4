/* munify NEON block kernel: CONV_2D and FULLY_CONNECTED over bo x bi blocks (bi 8 or 16); pruned blocks are
 * absent from the weights and from the instruction stream.
 *
 * Layout neon-blocks, per row block (the rows % bo last rows form one more row block, padded with zero rows,
 * all of it dense): counts (dense blocks, unified blocks); per dense block its column and bo x bi int8
 * weights; per unified block its column, bo x bi/8 sign bytes (bit j: weight j is negative) and bo
 * magnitudes. The partial last column block is one more dense block padded with zero weights.
 *
 * P output pixels run together (8, or 4 with bo 4): their patches are interleaved in 8-byte chunks (chunk c
 * of pixel q at 8 (P c + q)), so P / 2 q-register loads fetch a block's inputs for all of them and every
 * weight, sign and magnitude load serves P pixels. A dense 8-weight chunk is P SMULL(2) + P SADALP. A unified
 * block row is magnitude * sum(sign_j * x_j); with the sign mask m_j (0x00 or 0xFF), sign_j * x_j = (x_j ^ m_j)
 * + (m_j != 0): CMTST, then per pixel pair EOR, SADDLP and 2 SMLAL by the magnitude; the magnitude * (negative
 * weights) terms are `unified_bias`, added at pack time.
 *
 * With dotprod (quads): 16 pixels a pass, their chunks transposed to 4 pixels x 4 inputs a q register (chunk c
 * of pixels 4g .. 4g + 3, inputs 4h .. 4h + 3 at 16 (8 c + 2 g + h)), so a block row of 8 weights is one
 * 8-byte load and 8 SDOT by element (lane h of the weights) into 4 accumulators whose lanes are the pixels:
 * the two LD1 of four registers, the column and the loop step are shared by 16 pixels, and no pairwise
 * reduction is left. A unified block row rebuilds its 8 weights, (m ^ mask) - mask, and runs as dense
 * (`unified_bias` unused). A row's 16 sums are requantized in their registers into 16 bytes (one per pixel),
 * and 4 rows x 16 pixels go out by one ST4 of a lane per pixel: the store transposes, no sum is stored alone.
 *
 * Sign-pattern tables (layout neon-blocks-tables: bo 1 or 2, bi 8; 16 pixels a pass): with the magnitude
 * factored out, a unified block row is m * (T_lo[s & 15] + T_hi[s >> 4]) for its sign byte s, where T_h[p]
 * holds the 16 pixels' signed sums of inputs 4h .. 4h + 3 under sign pattern p (int16). A column's tables
 * are built once a pass (per 8 pixels: LD4, 4 UZP, 8 SXTL, 2 x (22 ADD/SUB, 16 stores)) and shared by every
 * row with a unified block there, so a unified block row costs, for 16 pixels, one lookup (its column's table and
 * the entries of its sign nibbles, 2 bytes), two table entries, 2 ADD and 4 SMLAL by the magnitude, whatever its signs. Dense
 * blocks run in two halves of 8 pixels as above.
 *
 * Fused with a 2x2 / stride 2 MAX_POOL_2D (munify_neon_blocks_pool_s8, toolchain.plan.fusion): a pass's pixels are
 * whole pool windows, pixel 4 v + k the k-th of window v (4 windows a pass of 16, 2 of 8, 1 of 4); each row's
 * maximum of a window's four accumulators is requantized once into the pool's output (with SDOT quads, sums[g]
 * is window g, so 3 SMAXP give a row's four windows in one register). Exact: the requantization never decreases
 * with the accumulator when every shift is right (the plan fuses only then).
 */
#ifndef MUNIFY_NEON_BLOCKS_H
#define MUNIFY_NEON_BLOCKS_H

#include "munify_neon.h"

/* Output pixels per pass: 8 while the accumulators of bo rows fit the 32 vector registers, else 4. */
#define MUNIFY_NEON_MAX_PIXELS 8
/* Loops over pixels, rows of a block and chunks run a constant few times: unrolled, their sums stay in registers */
#define MUNIFY_NEON_UNROLL _Pragma("GCC unroll 8")
#define MUNIFY_NEON_PIXELS(bo) ((bo) <= 2 ? 8 : 4)
/* with dotprod (munify_neon_quads_pass): 16, MUNIFY_NEON_QUAD_PIXELS */
#define MUNIFY_NEON_PASS_PIXELS(bo, sdot) ((sdot) ? 16 : MUNIFY_NEON_PIXELS(bo))
#define MUNIFY_NEON_MIN_PASS 4 /* fewer output pixels (FULLY_CONNECTED) run one at a time, 16 weights a step */

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
    const uint16_t *table_cols;  /* neon-blocks-tables: the column of each sign-pattern table, */
    int32_t n_tables;
    const uint16_t *unified_lookups; /* and per unified block row its table and its two entries */
} munify_neon_blocks;

/* Pixels a pass of the table kernel (neon-blocks-tables), and the int16 entries of one column's tables:
 * 2 halves x 16 sign patterns x 16 pixels */
#define MUNIFY_NEON_TABLE_PIXELS 16
#define MUNIFY_NEON_TABLE_WORDS (2 * 16 * MUNIFY_NEON_TABLE_PIXELS)

/* The partial sums of one row for up to 8 pixels: without SDOT one int32x4 per pixel, with SDOT one per pixel
 * pair (two lanes each). */
typedef struct {
    int32x4_t acc[MUNIFY_NEON_MAX_PIXELS];
} munify_neon_sums;

/* The inputs of one 8-wide chunk for every pixel: register j holds pixels 2j and 2j + 1. */
typedef struct {
    int8x16_t pair[MUNIFY_NEON_MAX_PIXELS / 2];
} munify_neon_chunk;

MUNIFY_NEON_FN void munify_neon_sums_start(munify_neon_sums *s, int32_t bias, const int sdot)
{
    int32x4_t start = vsetq_lane_s32(bias, vdupq_n_s32(0), 0);
    if (sdot) {
        start = vsetq_lane_s32(bias, start, 2); /* two pixels share a register */
    }
    const munify_neon_sums all = {{start, start, start, start, start, start, start, start}};
    *s = all; /* the unused ones vanish */
}

/* The chunks of `pixels` pixels at `at` (chunk-interleaved: pixel q at 8 q) */
MUNIFY_NEON_FN munify_neon_chunk munify_neon_chunk_read(const int8_t *at, const int pixels)
{
    munify_neon_chunk x;
    if (pixels == 8) { /* one LD1 of four registers */
        const int8x16x4_t v = vld1q_s8_x4(at);
        MUNIFY_NEON_UNROLL
        for (int j = 0; j < 4; ++j) {
            x.pair[j] = v.val[j];
        }
        return x;
    }
    const int8x16x2_t v = vld1q_s8_x2(at);
    x.pair[0] = v.val[0];
    x.pair[1] = v.val[1];
    return x;
}

MUNIFY_NEON_FN munify_neon_chunk munify_neon_chunk_load(const int8_t *chunks, int32_t column, const int pixels)
{
    return munify_neon_chunk_read(chunks + pixels * column, pixels); /* column is a multiple of 8: chunk column / 8 */
}

/* One 8-weight chunk, dense: w = the weights in both halves. */
MUNIFY_NEON_FN void munify_neon_sums_dense(munify_neon_sums *s, const munify_neon_chunk *x, int8x16_t w,
                                           const int pixels, const int sdot)
{
    MUNIFY_NEON_UNROLL
    for (int j = 0; j < pixels / 2; ++j) {
#if defined(__ARM_FEATURE_DOTPROD)
        if (sdot) {
            s->acc[j] = vdotq_s32(s->acc[j], x->pair[j], w);
            continue;
        }
#else
        (void)sdot;
#endif
        s->acc[2 * j] = vpadalq_s16(s->acc[2 * j], vmull_s8(vget_low_s8(x->pair[j]), vget_low_s8(w)));
        s->acc[2 * j + 1] = vpadalq_s16(s->acc[2 * j + 1], vmull_high_s8(x->pair[j], w));
    }
}

/* One 8-weight chunk of a unified block row: signs -> its sign byte, magnitude <= 127. */
MUNIFY_NEON_FN void munify_neon_sums_unified(munify_neon_sums *s, const munify_neon_chunk *x, const uint8_t *signs,
                                             int8_t magnitude, const int pixels)
{
    const uint8x16_t bits = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ull));
    const int8x16_t mask = vreinterpretq_s8_u8(vtstq_u8(vld1q_dup_u8(signs), bits));
    MUNIFY_NEON_UNROLL
    for (int j = 0; j < pixels / 2; ++j) {
        const int8x16_t flipped = veorq_s8(x->pair[j], mask);
        const int16x8_t pairs = vpaddlq_s8(flipped);
        s->acc[2 * j] = vmlal_n_s16(s->acc[2 * j], vget_low_s16(pairs), magnitude);
        s->acc[2 * j + 1] = vmlal_high_n_s16(s->acc[2 * j + 1], pairs, magnitude);
    }
}

/* The row's sum for pixels 4g .. 4g + 3. */
MUNIFY_NEON_FN int32x4_t munify_neon_sums_four(const munify_neon_sums *s, int g, const int sdot)
{
    if (sdot) {
        return vpaddq_s32(s->acc[2 * g], s->acc[2 * g + 1]);
    }
    return munify_neon_reduce4(s->acc[4 * g], s->acc[4 * g + 1], s->acc[4 * g + 2], s->acc[4 * g + 3]);
}

/* 8 weights in both halves: one LD1R (AArch64 has no alignment requirement for it). */
MUNIFY_NEON_FN int8x16_t munify_neon_both_halves(const int8_t *w)
{
    return vreinterpretq_s8_s64(vld1q_dup_s64((const int64_t *)(const void *)w));
}

/* table[16 p] = sum_j (bit j of p ? -x_j : x_j) for the 16 sign patterns p of 4 inputs (lanes: 8 pixels;
 * an entry holds the 16 pixels of a pass, this half writes 8 of them) */
MUNIFY_NEON_FN void munify_neon_half_table(int16x8_t x0, int16x8_t x1, int16x8_t x2, int16x8_t x3, int16_t *table)
{
    const int16x8_t twice[4] = {vaddq_s16(x0, x0), vaddq_s16(x1, x1), vaddq_s16(x2, x2), vaddq_s16(x3, x3)};
    int16x8_t t[16];
    t[0] = vaddq_s16(vaddq_s16(x0, x1), vaddq_s16(x2, x3));
    _Pragma("GCC unroll 4")
    for (int j = 0; j < 4; ++j) {
        _Pragma("GCC unroll 8")
        for (int p = 0; p < (1 << j); ++p) {
            t[p + (1 << j)] = vsubq_s16(t[p], twice[j]);
        }
    }
    _Pragma("GCC unroll 16")
    for (int p = 0; p < 16; ++p) {
        vst1q_s16(table + MUNIFY_NEON_TABLE_PIXELS * p, t[p]);
    }
}

/* The tables of the 8-input column whose 16 pixels' chunks are the 128 bytes at `chunk`: 16 entries of its
 * inputs 0-3, then 16 of its inputs 4-7. */
MUNIFY_NEON_FN void munify_neon_table(const int8_t *chunk, int16_t *table)
{
    MUNIFY_NEON_UNROLL
    for (int half = 0; half < 2; ++half) {
        const int8x16x4_t v = vld4q_s8(chunk + 64 * half); /* lane i of val[t]: pixel i / 2, input 4 (i % 2) + t */
        const int8x16_t x01 = vuzp1q_s8(v.val[0], v.val[1]), x23 = vuzp1q_s8(v.val[2], v.val[3]);
        const int8x16_t x45 = vuzp2q_s8(v.val[0], v.val[1]), x67 = vuzp2q_s8(v.val[2], v.val[3]);
        int16_t *at = table + 8 * half;
        munify_neon_half_table(vmovl_s8(vget_low_s8(x01)), vmovl_high_s8(x01), vmovl_s8(vget_low_s8(x23)),
                               vmovl_high_s8(x23), at);
        munify_neon_half_table(vmovl_s8(vget_low_s8(x45)), vmovl_high_s8(x45), vmovl_s8(vget_low_s8(x67)),
                               vmovl_high_s8(x67), at + MUNIFY_NEON_TABLE_WORDS / 2);
    }
}

/* The two table entries a lookup names: tables + MUNIFY_NEON_TABLE_WORDS * (bits 0-6) + MUNIFY_NEON_TABLE_PIXELS
 * * (bits 7-10, then bits 11-15), in six instructions (gcc 12 needs nine) */
MUNIFY_NEON_FN void munify_neon_entries(const int16_t *tables, uint64_t lookup, const int16_t **entry)
{
    uint64_t field;
    const int16_t *table;
    __asm__("ubfiz %[f], %[v], #10, #7\n\t"
            "add   %[t], %[tables], %[f]\n\t"
            "ubfx  %[f], %[v], #7, #4\n\t"
            "add   %[lo], %[t], %[f], lsl #5\n\t"
            "ubfx  %[f], %[v], #11, #5\n\t"
            "add   %[hi], %[t], %[f], lsl #5"
            : [f] "=&r"(field), [t] "=&r"(table), [lo] "=&r"(entry[0]), [hi] "=&r"(entry[1])
            : [v] "r"(lookup), [tables] "r"(tables));
}

/* The bo unified rows of one block by their lookups (table, low-nibble entry, 16 + high nibble: see
 * toolchain.plan neon-blocks-tables): the two entries summed; sums[4 r + g] += pixels 4g .. 4g + 3 of row r, times the magnitude. */
MUNIFY_NEON_FN void munify_neon_table_rows(int32x4_t *sums, const int16_t *tables, const uint16_t *lookups,
                                           const int8_t *magnitudes, const int bo)
{
    MUNIFY_NEON_UNROLL
    for (int r = 0; r < bo; ++r) {
        const int16_t *entry[2];
        munify_neon_entries(tables, lookups[r], entry);
        const int16x8x2_t low = vld1q_s16_x2(entry[0]), high = vld1q_s16_x2(entry[1]);
        const int16x8_t s0 = vaddq_s16(low.val[0], high.val[0]), s1 = vaddq_s16(low.val[1], high.val[1]);
        const int16_t m = magnitudes[r];
        sums[4 * r] = vmlal_n_s16(sums[4 * r], vget_low_s16(s0), m);
        sums[4 * r + 1] = vmlal_high_n_s16(sums[4 * r + 1], s0, m);
        sums[4 * r + 2] = vmlal_n_s16(sums[4 * r + 2], vget_low_s16(s1), m);
        sums[4 * r + 3] = vmlal_high_n_s16(sums[4 * r + 3], s1, m);
    }
}

/* Lanes 0..3 of `total` to acc[(first + i) * rows_padded] */
MUNIFY_NEON_FN void munify_neon_scatter4(int32_t *acc, int32x4_t total, int32_t rows_padded)
{
    acc[0] = vgetq_lane_s32(total, 0);
    acc[rows_padded] = vgetq_lane_s32(total, 1);
    acc[2 * rows_padded] = vgetq_lane_s32(total, 2);
    acc[3 * rows_padded] = vgetq_lane_s32(total, 3);
}

/* acc[q * rows_padded + r] for the 16 pixels whose chunks are interleaved in `chunks` (neon-blocks-tables):
 * the unified block rows by their tables, then the dense blocks in two halves of 8 pixels. */
MUNIFY_NEON_FN void munify_neon_tables_pass(const munify_neon_blocks *p, const int8_t *chunks,
                                            const int16_t *tables, int32_t *acc, int32_t rows_padded, const int bo,
                                            const int sdot)
{
    const int8_t *dense = p->dense_weights, *magnitudes = p->unified_magnitudes;
    const uint16_t *dense_col = p->dense_cols, *lookups = p->unified_lookups;
    for (int32_t rb = 0; rb < p->row_blocks; ++rb) {
        const int32_t r0 = rb * bo;
        int32x4_t by_table[8];
        MUNIFY_NEON_UNROLL
        for (int i = 0; i < 4 * bo; ++i) {
            by_table[i] = vdupq_n_s32(0);
        }
        _Pragma("GCC unroll 2")
        for (int32_t u = p->counts[2 * rb + 1]; u > 0; --u, lookups += bo, magnitudes += bo) {
            munify_neon_table_rows(by_table, tables, lookups, magnitudes, bo);
        }
        const int32_t n_dense = p->counts[2 * rb];
        MUNIFY_NEON_UNROLL
        for (int half = 0; half < 2; ++half) {
            munify_neon_sums sums[2];
            MUNIFY_NEON_UNROLL
            for (int r = 0; r < bo; ++r) {
                munify_neon_sums_start(&sums[r], p->bias[r0 + r < p->w.out_c ? r0 + r : 0], sdot);
            }
            const int8_t *w = dense;
            for (int32_t d = 0; d < n_dense; ++d, w += 8 * bo) {
                /* chunk c of pixel q at 8 (16 c + q): this half's 8 pixels are 64 bytes from 16 * column */
                const munify_neon_chunk x = munify_neon_chunk_read(chunks + 16 * dense_col[d] + 64 * half, 8);
                MUNIFY_NEON_UNROLL
                for (int r = 0; r < bo; ++r) {
                    munify_neon_sums_dense(&sums[r], &x, munify_neon_both_halves(w + 8 * r), 8, sdot);
                }
            }
            MUNIFY_NEON_UNROLL
            for (int r = 0; r < bo; ++r) {
                MUNIFY_NEON_UNROLL
                for (int g = 0; g < 2; ++g) {
                    const int32x4_t total = vaddq_s32(munify_neon_sums_four(&sums[r], g, sdot),
                                                      by_table[4 * r + 2 * half + g]);
                    munify_neon_scatter4(acc + (8 * half + 4 * g) * rows_padded + r0 + r, total, rows_padded);
                }
            }
        }
        dense += n_dense * 8 * bo;
        dense_col += n_dense;
    }
}

/* acc[q * rows_padded + r] for the `pixels` pixels whose chunks are interleaved in `chunks`. */
MUNIFY_NEON_FN void munify_neon_blocks_pass(const munify_neon_blocks *p, const int8_t *chunks, int32_t *acc,
                                            int32_t rows_padded, const int bo, const int bi, const int pixels)
{
    const int sdot = 0; /* the dotprod path is munify_neon_quads_pass */
    const int8_t *dense = p->dense_weights;
    const uint8_t *signs = p->unified_signs;
    const int8_t *magnitudes = p->unified_magnitudes;
    const uint16_t *dense_col = p->dense_cols, *unified_col = p->unified_cols;
    const int chunks_per_block = bi / 8;
    for (int32_t rb = 0; rb < p->row_blocks; ++rb) {
        const int32_t r0 = rb * bo;
        munify_neon_sums sums[4];
        MUNIFY_NEON_UNROLL
        for (int r = 0; r < bo; ++r) {
            const int32_t row = r0 + r < p->w.out_c ? r0 + r : 0;
            munify_neon_sums_start(&sums[r], p->bias[row] + p->unified_bias[r0 + r], sdot);
        }
        for (int32_t d = p->counts[2 * rb]; d > 0; --d, dense += bo * bi) {
            const int32_t column = *dense_col++;
            MUNIFY_NEON_UNROLL
            for (int c = 0; c < chunks_per_block; ++c) {
                const munify_neon_chunk x = munify_neon_chunk_load(chunks, column + 8 * c, pixels);
                MUNIFY_NEON_UNROLL
                for (int r = 0; r < bo; ++r) {
                    munify_neon_sums_dense(&sums[r], &x, munify_neon_both_halves(dense + r * bi + 8 * c), pixels,
                                           sdot);
                }
            }
        }
        for (int32_t u = p->counts[2 * rb + 1]; u > 0; --u, signs += bo * chunks_per_block, magnitudes += bo) {
            const int32_t column = *unified_col++;
            MUNIFY_NEON_UNROLL
            for (int c = 0; c < chunks_per_block; ++c) {
                const munify_neon_chunk x = munify_neon_chunk_load(chunks, column + 8 * c, pixels);
                MUNIFY_NEON_UNROLL
                for (int r = 0; r < bo; ++r) {
                    munify_neon_sums_unified(&sums[r], &x, signs + r * chunks_per_block + c, magnitudes[r], pixels);
                }
            }
        }
        MUNIFY_NEON_UNROLL
        for (int r = 0; r < bo; ++r) {
            MUNIFY_NEON_UNROLL
            for (int g = 0; g < pixels / 4; ++g) {
                const int32x4_t total = munify_neon_sums_four(&sums[r], g, sdot);
                int32_t *at = acc + 4 * g * rows_padded + r0 + r;
                at[0] = vgetq_lane_s32(total, 0);
                at[rows_padded] = vgetq_lane_s32(total, 1);
                at[2 * rows_padded] = vgetq_lane_s32(total, 2);
                at[3 * rows_padded] = vgetq_lane_s32(total, 3);
            }
        }
    }
}

#if defined(__ARM_FEATURE_DOTPROD)
#define MUNIFY_NEON_QUAD_PIXELS 16 /* pixels a pass of the dotprod block path */

/* The 8 weights of a unified block row, m * sign_j: (m ^ mask) - mask with the sign mask of its sign byte. */
MUNIFY_NEON_FN int8x8_t munify_neon_unified_weights(const uint8_t *signs, int8_t magnitude)
{
    const uint8x8_t bits = vcreate_u8(0x8040201008040201ull);
    const int8x8_t mask = vreinterpret_s8_u8(vtst_u8(vld1_dup_u8(signs), bits));
    return vsub_s8(veor_s8(vdup_n_s8(magnitude), mask), mask);
}

/* sums[g] (lane i: pixel 4g + i) += one 8-weight chunk of the 16 pixels: x the chunk's 8 registers (pixels
 * 4g .. 4g + 3 in registers 2g (inputs 0-3) and 2g + 1 (inputs 4-7)) */
MUNIFY_NEON_FN void munify_neon_quads_dot(int32x4_t *sums, const int8x16x4_t *x, int8x8_t w)
{
    MUNIFY_NEON_UNROLL
    for (int g = 0; g < 4; ++g) {
        sums[g] = vdotq_lane_s32(sums[g], x[g / 2].val[2 * (g % 2)], w, 0);
        sums[g] = vdotq_lane_s32(sums[g], x[g / 2].val[2 * (g % 2) + 1], w, 1);
    }
}

/* Chunk c of the 16 pixels' patches (`columns`) to chunks + 128 c, 4 pixels x 4 inputs a q register: pixels
 * 4g .. 4g + 3, inputs 4h .. 4h + 3 at 16 (2 g + h). */
MUNIFY_NEON_FN void munify_neon_quads_interleave(const int8_t *const *columns, int32_t depth, int8_t *chunks)
{
    for (int32_t at = 0; at < depth; at += 8) {
        MUNIFY_NEON_UNROLL
        for (int g = 0; g < 4; ++g, chunks += 32) {
            const int32x4_t a = vreinterpretq_s32_s8(vcombine_s8(vld1_s8(columns[4 * g] + at),
                                                                 vld1_s8(columns[4 * g + 1] + at)));
            const int32x4_t b = vreinterpretq_s32_s8(vcombine_s8(vld1_s8(columns[4 * g + 2] + at),
                                                                 vld1_s8(columns[4 * g + 3] + at)));
            vst1q_s8(chunks, vreinterpretq_s8_s32(vuzp1q_s32(a, b)));
            vst1q_s8(chunks + 16, vreinterpretq_s8_s32(vuzp2q_s32(a, b)));
        }
    }
}

/* Row r's requantization, broadcast: multiplier, left shift, right shift (<= 0), and -1 where negative values
 * lose 1 before SRSHL (a right shift), else 0. */
typedef struct {
    int32x4_t multiplier, left, right, rounds_away;
} munify_neon_row_quant;

/* table[4 r .. 4 r + 3]: the four scalars of munify_neon_row_quant for each of rows_padded rows (padding rows
 * take row 0's), filled once a layer call so that a pass loads a row's with one LD4R. */
MUNIFY_NEON_FN void munify_neon_row_quants(const munify_neon_quant *q, int32_t rows, int32_t rows_padded,
                                           int32_t *table)
{
    for (int32_t r = 0; r < rows_padded; ++r, table += 4) {
        const int32_t at = r < rows ? r : 0, shift = q->shift[at];
        table[0] = q->multiplier[at];
        table[1] = shift > 0 ? shift : 0;
        table[2] = shift < 0 ? shift : 0;
        table[3] = shift < 0 ? -1 : 0;
    }
}

/* Per channel from the table (one LD4R), per tensor from the layer's constants. */
MUNIFY_NEON_FN munify_neon_row_quant munify_neon_row_quant_of(const munify_neon_quant *q, const int32_t *table,
                                                              int32_t row)
{
    munify_neon_row_quant rq;
    if (q->per_channel) {
        const int32x4x4_t v = vld4q_dup_s32(table + 4 * row);
        rq.multiplier = v.val[0], rq.left = v.val[1], rq.right = v.val[2], rq.rounds_away = v.val[3];
        return rq;
    }
    const int32_t shift = q->shift[0];
    rq.multiplier = vdupq_n_s32(q->multiplier[0]);
    rq.left = vdupq_n_s32(shift > 0 ? shift : 0), rq.right = vdupq_n_s32(shift < 0 ? shift : 0);
    rq.rounds_away = vdupq_n_s32(shift < 0 ? -1 : 0);
    return rq;
}

/* The int8 outputs of one row for the 16 pixels of a pass (sums[g] lane i: pixel 4g + i): munify_neon_mbqm
 * by the row's broadcast requantization, then the output offset and the clamp after saturating narrows, in
 * int16 and int8 lanes; the same result as munify_neon_output4, whose clamp comes first, because the activation
 * range lies inside int8 and the offset inside int16. */
MUNIFY_NEON_FN int8x16_t munify_neon_quads_requantize(const int32x4_t *sums, const munify_neon_quant *q,
                                                      munify_neon_row_quant rq)
{
    int16x8_t halves[2];
    MUNIFY_NEON_UNROLL
    for (int h = 0; h < 2; ++h) {
        int32x4_t v[2];
        MUNIFY_NEON_UNROLL
        for (int i = 0; i < 2; ++i) {
            const int32x4_t high = vqrdmulhq_s32(vshlq_s32(sums[2 * h + i], rq.left), rq.multiplier);
            v[i] = vrshlq_s32(vqaddq_s32(high, vandq_s32(vshrq_n_s32(high, 31), rq.rounds_away)), rq.right);
        }
        halves[h] = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(v[0]), v[1]), vdupq_n_s16((int16_t)q->output_offset));
    }
    const int8x16_t out = vqmovn_high_s16(vqmovn_s16(halves[0]), halves[1]);
    return vminq_s8(vmaxq_s8(out, vdupq_n_s8((int8_t)q->act_min)), vdupq_n_s8((int8_t)q->act_max));
}

/* staged[16 r + q]: the int8 output of row r for pixel q of the 16 whose chunks `munify_neon_quads_interleave`
 * laid out: every block row, dense or unified (its weights rebuilt), as SDOT by element, each row requantized
 * in its registers (no per-pixel sums stored). */
/* Lanes 0..3: the requantized window maxima m (lane g: window g) of one row, as munify_neon_quads_requantize. */
MUNIFY_NEON_FN int8x16_t munify_neon_quads_requantize4(int32x4_t m, const munify_neon_quant *q,
                                                       munify_neon_row_quant rq)
{
    const int32x4_t high = vqrdmulhq_s32(vshlq_s32(m, rq.left), rq.multiplier);
    const int32x4_t v = vrshlq_s32(vqaddq_s32(high, vandq_s32(vshrq_n_s32(high, 31), rq.rounds_away)), rq.right);
    const int16x4_t half = vqadd_s16(vqmovn_s32(v), vdup_n_s16((int16_t)q->output_offset));
    const int8x8_t out = vqmovn_s16(vcombine_s16(half, half));
    const int8x8_t clamped = vmin_s8(vmax_s8(out, vdup_n_s8((int8_t)q->act_min)), vdup_n_s8((int8_t)q->act_max));
    return vcombine_s8(clamped, clamped);
}

/* `pool` (fused with a max pool): staged[16 r + g] instead, the output of row r for window g, the maximum of
 * sums[r][g]'s four pixels requantized once. */
MUNIFY_NEON_FN void munify_neon_quads_pass(const munify_neon_blocks *p, const int8_t *chunks,
                                           const int32_t *row_quants, int8_t *staged, const int bo, const int bi,
                                           const int pool)
{
    const int8_t *dense = p->dense_weights, *magnitudes = p->unified_magnitudes;
    const uint8_t *signs = p->unified_signs;
    const uint16_t *dense_col = p->dense_cols, *unified_col = p->unified_cols;
    const int chunks_per_block = bi / 8;
    for (int32_t rb = 0; rb < p->row_blocks; ++rb) {
        const int32_t r0 = rb * bo;
        int32x4_t sums[4][4];
        MUNIFY_NEON_UNROLL
        for (int r = 0; r < bo; ++r) {
            const int32x4_t bias = vdupq_n_s32(p->bias[r0 + r < p->w.out_c ? r0 + r : 0]);
            MUNIFY_NEON_UNROLL
            for (int g = 0; g < 4; ++g) {
                sums[r][g] = bias;
            }
        }
        _Pragma("GCC unroll 2") /* two block rows a loop step: the step's count, compare and branch shared */
        for (int32_t d = p->counts[2 * rb]; d > 0; --d, dense += bo * bi) {
            const int8_t *x = chunks + 16 * *dense_col++;
            MUNIFY_NEON_UNROLL
            for (int c = 0; c < chunks_per_block; ++c) {
                const int8x16x4_t chunk[2] = {vld1q_s8_x4(x + 128 * c), vld1q_s8_x4(x + 128 * c + 64)};
                MUNIFY_NEON_UNROLL
                for (int r = 0; r < bo; ++r) {
                    munify_neon_quads_dot(sums[r], chunk, vld1_s8(dense + r * bi + 8 * c));
                }
            }
        }
        for (int32_t u = p->counts[2 * rb + 1]; u > 0; --u, signs += bo * chunks_per_block, magnitudes += bo) {
            const int8_t *x = chunks + 16 * *unified_col++;
            MUNIFY_NEON_UNROLL
            for (int c = 0; c < chunks_per_block; ++c) {
                const int8x16x4_t chunk[2] = {vld1q_s8_x4(x + 128 * c), vld1q_s8_x4(x + 128 * c + 64)};
                MUNIFY_NEON_UNROLL
                for (int r = 0; r < bo; ++r) {
                    munify_neon_quads_dot(sums[r], chunk,
                                          munify_neon_unified_weights(signs + r * chunks_per_block + c, magnitudes[r]));
                }
            }
        }
        MUNIFY_NEON_UNROLL
        for (int r = 0; r < bo; ++r) {
            const munify_neon_row_quant rq = munify_neon_row_quant_of(&p->q, row_quants, r0 + r);
            if (pool) {
                const int32x4_t m = vpmaxq_s32(vpmaxq_s32(sums[r][0], sums[r][1]), vpmaxq_s32(sums[r][2], sums[r][3]));
                vst1q_s8(staged + 16 * (r0 + r), munify_neon_quads_requantize4(m, &p->q, rq));
                continue;
            }
            vst1q_s8(staged + 16 * (r0 + r), munify_neon_quads_requantize(sums[r], &p->q, rq));
        }
    }
}

/* If the pass has pixel q: lane q of v (the rows of pixel q) at `at`, then at += rows. ST4 in assembly for its
 * register post-index, which gcc 12 does not form (it spends an ADD a lane); the tail rows use the intrinsics. */
#define MUNIFY_NEON_ST4_LANE(q, v)                                                                          \
    if ((q) < pixels) {                                                                                     \
        __asm__ volatile("st4 {%S1.b - %V1.b}[" #q "], [%0], %2" : "+r"(at) : "w"(v), "r"(step) : "memory"); \
    }
#define MUNIFY_NEON_LANE(store, q, v)                                                                       \
    if ((q) < pixels) {                                                                                     \
        store(at, v, (q));                                                                                  \
        at += step;                                                                                         \
    }
#define MUNIFY_NEON_LANES(lane, ...)                                                                        \
    lane(0, __VA_ARGS__) lane(1, __VA_ARGS__) lane(2, __VA_ARGS__) lane(3, __VA_ARGS__) lane(4, __VA_ARGS__)  \
    lane(5, __VA_ARGS__) lane(6, __VA_ARGS__) lane(7, __VA_ARGS__) lane(8, __VA_ARGS__) lane(9, __VA_ARGS__)  \
    lane(10, __VA_ARGS__) lane(11, __VA_ARGS__) lane(12, __VA_ARGS__) lane(13, __VA_ARGS__)                 \
    lane(14, __VA_ARGS__) lane(15, __VA_ARGS__)
#define MUNIFY_NEON_TAIL_LANE(q, store, v) MUNIFY_NEON_LANE(store, q, v)

/* The staged outputs (16 bytes a row, lane q pixel q) of the first `pixels` pixels of a pass to out + q * rows:
 * 4 rows at a time, one LD1 of four registers and per pixel one ST4 of its lane, so the store transposes. */
MUNIFY_NEON_FN void munify_neon_quads_store(const int8_t *staged, int32_t rows, int8_t *out, const int pixels)
{
    const int64_t step = rows;
    int32_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const int8x16x4_t v = vld1q_s8_x4(staged + 16 * r);
        int8_t *at = out + r;
        MUNIFY_NEON_LANES(MUNIFY_NEON_ST4_LANE, v)
    }
    int8_t *at = out + r;
    if (rows - r == 3) {
        const int8x16x3_t v3 = vld1q_s8_x3(staged + 16 * r);
        MUNIFY_NEON_LANES(MUNIFY_NEON_TAIL_LANE, vst3q_lane_s8, v3)
    } else if (rows - r == 2) {
        const int8x16x2_t v2 = vld1q_s8_x2(staged + 16 * r);
        MUNIFY_NEON_LANES(MUNIFY_NEON_TAIL_LANE, vst2q_lane_s8, v2)
    } else if (rows - r == 1) {
        const int8x16_t v1 = vld1q_s8(staged + 16 * r);
        MUNIFY_NEON_LANES(MUNIFY_NEON_TAIL_LANE, vst1q_lane_s8, v1)
    }
}
#endif

/* 16 weights (two 1 x 8 blocks, or one 1 x 16 block) against 16 inputs of one pixel. */
MUNIFY_NEON_FN int32x4_t munify_neon_single_dense(int32x4_t acc, int8x16_t x, int8x16_t w, const int sdot)
{
#if defined(__ARM_FEATURE_DOTPROD)
    if (sdot) {
        return vdotq_s32(acc, x, w);
    }
#else
    (void)sdot;
#endif
    int16x8_t products = vmull_s8(vget_low_s8(x), vget_low_s8(w));
    products = vmlal_high_s8(products, x, w); /* weights in [-127, 127]: the pair sum fits int16 */
    return vpadalq_s16(acc, products);
}

/* 16 unified weights against 16 inputs of one pixel: sign bytes s0 (inputs 0-7) and s1 (8-15), magnitudes m0
 * and m1 of the two halves. */
MUNIFY_NEON_FN int32x4_t munify_neon_single_unified(int32x4_t acc, int8x16_t x, const uint8_t *s0, const uint8_t *s1,
                                                    int8_t m0, int8_t m1, const int sdot)
{
    const uint8x16_t bits = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ull));
    const uint8x16_t signs = vcombine_u8(vld1_dup_u8(s0), vld1_dup_u8(s1));
    const int8x16_t flipped = veorq_s8(x, vreinterpretq_s8_u8(vtstq_u8(signs, bits)));
#if defined(__ARM_FEATURE_DOTPROD)
    if (sdot) {
        return vdotq_s32(acc, flipped, vcombine_s8(vdup_n_s8(m0), vdup_n_s8(m1)));
    }
#else
    (void)sdot;
#endif
    const int16x8_t pairs = vpaddlq_s8(flipped);
    acc = vmlal_n_s16(acc, vget_low_s16(pairs), m0);
    return vmlal_high_n_s16(acc, pairs, m1);
}

MUNIFY_NEON_FN int8x16_t munify_neon_two_chunks(const int8_t *x, int32_t c0, int32_t c1)
{
    return vcombine_s8(vld1_s8(x + c0), vld1_s8(x + c1));
}

/* acc[r] for one pixel (column x), for layers with fewer output pixels than a pass (FULLY_CONNECTED): 16
 * weights a step, two 1 x 8 blocks or one 1 x 16 block. */
MUNIFY_NEON_FN void munify_neon_blocks_single(const munify_neon_blocks *p, const int8_t *x, int32_t *acc,
                                              const int bo, const int bi, const int sdot)
{
    const int8_t *dense = p->dense_weights;
    const uint8_t *signs = p->unified_signs;
    const int8_t *magnitudes = p->unified_magnitudes;
    const uint16_t *dense_col = p->dense_cols, *unified_col = p->unified_cols;
    const int per_step = 16 / bi; /* blocks a step */
    for (int32_t rb = 0; rb < p->row_blocks; ++rb) {
        const int32_t r0 = rb * bo;
        int32x4_t sums[4];
        MUNIFY_NEON_UNROLL
        for (int r = 0; r < bo; ++r) {
            const int32_t row = r0 + r < p->w.out_c ? r0 + r : 0;
            sums[r] = vsetq_lane_s32(p->bias[row] + p->unified_bias[r0 + r], vdupq_n_s32(0), 0);
        }
        int32_t d = p->counts[2 * rb];
        for (; d >= per_step; d -= per_step, dense += per_step * bo * bi, dense_col += per_step) {
            const int8x16_t xv = bi == 16 ? vld1q_s8(x + dense_col[0])
                                          : munify_neon_two_chunks(x, dense_col[0], dense_col[1]);
            MUNIFY_NEON_UNROLL
            for (int r = 0; r < bo; ++r) {
                const int8x16_t w = bi == 16 ? vld1q_s8(dense + 16 * r)
                                             : vcombine_s8(vld1_s8(dense + 8 * r), vld1_s8(dense + 8 * (bo + r)));
                sums[r] = munify_neon_single_dense(sums[r], xv, w, sdot);
            }
        }
        if (d > 0) { /* one 1 x 8 block left */
            const int8x8_t xv = vld1_s8(x + *dense_col++);
            MUNIFY_NEON_UNROLL
            for (int r = 0; r < bo; ++r) {
                sums[r] = vpadalq_s16(sums[r], vmull_s8(xv, vld1_s8(dense + 8 * r)));
            }
            dense += bo * bi;
        }
        int32_t u = p->counts[2 * rb + 1];
        for (; u >= per_step; u -= per_step, unified_col += per_step) {
            const int8x16_t xv = bi == 16 ? vld1q_s8(x + unified_col[0])
                                          : munify_neon_two_chunks(x, unified_col[0], unified_col[1]);
            MUNIFY_NEON_UNROLL
            for (int r = 0; r < bo; ++r) {
                if (bi == 16) {
                    sums[r] = munify_neon_single_unified(sums[r], xv, signs + 2 * r, signs + 2 * r + 1, magnitudes[r],
                                                         magnitudes[r], sdot);
                } else {
                    sums[r] = munify_neon_single_unified(sums[r], xv, signs + r, signs + bo + r, magnitudes[r],
                                                         magnitudes[bo + r], sdot);
                }
            }
            signs += per_step * bo * (bi / 8);
            magnitudes += per_step * bo;
        }
        if (u > 0) { /* one 1 x 8 block left: the other half multiplies by magnitude 0 */
            const int8x16_t xv = munify_neon_two_chunks(x, *unified_col, *unified_col);
            unified_col++;
            MUNIFY_NEON_UNROLL
            for (int r = 0; r < bo; ++r) {
                sums[r] = munify_neon_single_unified(sums[r], xv, signs + r, signs + r, magnitudes[r], 0, sdot);
            }
            signs += bo;
            magnitudes += bo;
        }
        MUNIFY_NEON_UNROLL
        for (int r = 0; r < bo; ++r) {
            acc[r0 + r] = vaddvq_s32(sums[r]);
        }
    }
}

/* Chunk c of pixel q to chunks + 8 (pixels c + q), for the `depth` bytes of each column. */
MUNIFY_NEON_FN void munify_neon_interleave(const int8_t *const *columns, int32_t depth, int8_t *chunks,
                                           const int pixels)
{
    for (int32_t at = 0; at < depth; at += 8) {
        for (int q = 0; q < pixels; q += 2, chunks += 16) {
            vst1q_s8(chunks, vcombine_s8(vld1_s8(columns[q] + at), vld1_s8(columns[q + 1] + at)));
        }
    }
}

/* The sums of one pass of `pixels` pixels (their patches at `columns`) to acc[q * rows_padded + r]: their
 * chunks laid out for the pass, then its rows (and first, with sign tables, the tables). */
MUNIFY_NEON_FN void munify_neon_pass(const munify_neon_blocks *p, const int8_t *const *columns, int8_t *chunks,
                                     int16_t *tables, int32_t *acc, int32_t rows_padded, const int bo, const int bi,
                                     const int pixels, const int sdot, const int sign_tables)
{
    munify_neon_interleave(columns, p->w.depth, chunks, pixels);
    if (sign_tables) {
        for (int32_t t = 0; t < p->n_tables; ++t) {
            munify_neon_table(chunks + pixels * p->table_cols[t], tables + MUNIFY_NEON_TABLE_WORDS * t);
        }
        munify_neon_tables_pass(p, chunks, tables, acc, rows_padded, bo, sdot);
    } else {
        munify_neon_blocks_pass(p, chunks, acc, rows_padded, bo, bi, pixels);
    }
}

#if defined(__ARM_FEATURE_DOTPROD)
/* One pass of the dotprod block path, its first `valid` pixels to out + q * out_c: the chunks laid out 4 pixels
 * x 4 inputs a register, the rows requantized into `staged` (16 bytes a row), then stored 4 rows at a time. */
MUNIFY_NEON_FN void munify_neon_quads(const munify_neon_blocks *p, const int8_t *const *columns, int8_t *chunks,
                                      const int32_t *row_quants, int8_t *staged, const int bo, const int bi,
                                      int8_t *out, int valid)
{
    munify_neon_quads_interleave(columns, p->w.depth, chunks);
    munify_neon_quads_pass(p, chunks, row_quants, staged, bo, bi, 0);
    if (valid == MUNIFY_NEON_QUAD_PIXELS) {
        munify_neon_quads_store(staged, p->w.out_c, out, MUNIFY_NEON_QUAD_PIXELS); /* the lanes' tests vanish */
    } else {
        munify_neon_quads_store(staged, p->w.out_c, out, valid);
    }
}
#endif

/* scratch: 4 * pixels * rows_padded bytes of accumulators, pixels * depth bytes of interleaved chunks and as
 * many of patches, then (sign_tables) the tables, 2 * MUNIFY_NEON_TABLE_WORDS bytes each, or (SDOT quads) the
 * row quants, 16 * rows_padded bytes; pixels =
 * MUNIFY_NEON_PASS_PIXELS(bo, sdot) output pixels run per pass (sign_tables: MUNIFY_NEON_TABLE_PIXELS, and at least MUNIFY_NEON_MIN_PASS per image);
 * fewer than MUNIFY_NEON_MIN_PASS pixels an image: 4 * rows_padded bytes of accumulators and one patch (depth bytes) */
MUNIFY_NEON_FN void munify_neon_blocks_s8(const munify_neon_blocks *p, const int8_t *input, int8_t *output,
                                          int8_t *scratch, const int bo, const int bi, const int sdot,
                                          const int sign_tables)
{
    const int pixels = sign_tables ? MUNIFY_NEON_TABLE_PIXELS : MUNIFY_NEON_PASS_PIXELS(bo, sdot);
    const munify_neon_window *w = &p->w;
    const int32_t rows = w->out_c, rows_padded = p->row_blocks * bo, image_pixels = w->out_h * w->out_w;
    int32_t *acc = (int32_t *)(void *)scratch;
    int8_t *chunks = scratch + 4 * pixels * rows_padded;
    int8_t *patches = chunks + pixels * w->depth;
    int16_t *tables = (int16_t *)(void *)(patches + pixels * w->depth); /* with SDOT quads: the row quants */
#if defined(__ARM_FEATURE_DOTPROD)
    if (sdot && !sign_tables && p->q.per_channel && image_pixels >= MUNIFY_NEON_MIN_PASS) {
        munify_neon_row_quants(&p->q, rows, rows_padded, (int32_t *)(void *)tables);
    }
#endif
    for (int32_t n = 0; n < w->batches; ++n) {
        const int8_t *image = input + n * w->in_h * w->in_w * w->in_c;
        int8_t *out = output + n * image_pixels * rows;
        if (image_pixels < MUNIFY_NEON_MIN_PASS) { /* one pixel at a time: its accumulators, then its patch */
            int8_t *patch = scratch + 4 * rows_padded;
            for (int32_t pixel = 0; pixel < image_pixels; ++pixel, out += rows) {
                munify_neon_blocks_single(p, munify_neon_patch(w, image, pixel / w->out_w, pixel % w->out_w, patch),
                                          acc, bo, bi, sdot);
                munify_neon_output_run(acc, &p->q, rows, out);
            }
            continue;
        }
        for (int32_t first = 0; first < image_pixels; first += pixels) {
            const int8_t *columns[MUNIFY_NEON_TABLE_PIXELS];
            for (int q = 0; q < pixels; ++q) {
                const int32_t pixel = first + q < image_pixels ? first + q : image_pixels - 1; /* repeat the last */
                columns[q] = munify_neon_patch(w, image, pixel / w->out_w, pixel % w->out_w, patches + q * w->depth);
            }
#if defined(__ARM_FEATURE_DOTPROD)
            if (sdot && !sign_tables) {
                const int valid = image_pixels - first < pixels ? image_pixels - first : pixels;
                munify_neon_quads(p, columns, chunks, (const int32_t *)(const void *)tables, (int8_t *)(void *)acc,
                                  bo, bi, out + first * rows, valid);
                continue;
            }
#endif
            munify_neon_pass(p, columns, chunks, tables, acc, rows_padded, bo, bi, pixels, sdot, sign_tables);
            for (int q = 0; q < pixels && first + q < image_pixels; ++q) {
                munify_neon_output_run(acc + q * rows_padded, &p->q, rows, out + (first + q) * rows);
            }
        }
    }
}

/* out[c] for c < channels: the requantized maximum of four pixels' accumulators (acc + k * rows_padded) */
MUNIFY_NEON_FN void munify_neon_window_run(const int32_t *acc, int32_t rows_padded, const munify_neon_quant *q,
                                           int32_t channels, int8_t *out)
{
    for (int32_t c = 0; c < channels; c += 8) {
        int32x4_t half[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
        for (int h = 0; h < 2 && c + 4 * h < channels; ++h) {
            const int32_t at = c + 4 * h, n = channels - at;
            const int32x4_t top = vmaxq_s32(munify_neon_load_s32(acc + at, n),
                                            munify_neon_load_s32(acc + rows_padded + at, n));
            const int32x4_t bottom = vmaxq_s32(munify_neon_load_s32(acc + 2 * rows_padded + at, n),
                                               munify_neon_load_s32(acc + 3 * rows_padded + at, n));
            half[h] = munify_neon_output4(vmaxq_s32(top, bottom), q, at, channels);
        }
        munify_neon_store_s8x8(out + c, munify_neon_narrow8(half[0], half[1]), channels - c);
    }
}

/* The pool_h x pool_w outputs of the 2x2 / stride 2 max pool over the conv (one image), pixels / 4 windows a
 * pass: pixel 4 v + k of a pass is pixel k (row-major) of its window v (the last window repeated past the
 * end). The scratch of munify_neon_blocks_s8 (a conv output has at least MUNIFY_NEON_MIN_PASS pixels). */
MUNIFY_NEON_FN void munify_neon_blocks_pool_s8(const munify_neon_blocks *p, const int8_t *input, int8_t *output,
                                               int8_t *scratch, const int bo, const int bi, const int sdot,
                                               const int sign_tables, const int32_t pool_h, const int32_t pool_w)
{
    const int pixels = sign_tables ? MUNIFY_NEON_TABLE_PIXELS : MUNIFY_NEON_PASS_PIXELS(bo, sdot);
    const int pass_windows = pixels / 4;
    const munify_neon_window *w = &p->w;
    const int32_t rows = w->out_c, rows_padded = p->row_blocks * bo, windows = pool_h * pool_w;
    int32_t *acc = (int32_t *)(void *)scratch;
    int8_t *chunks = scratch + 4 * pixels * rows_padded;
    int8_t *patches = chunks + pixels * w->depth;
    int16_t *tables = (int16_t *)(void *)(patches + pixels * w->depth); /* with SDOT quads: the row quants */
#if defined(__ARM_FEATURE_DOTPROD)
    if (sdot && !sign_tables && p->q.per_channel) {
        munify_neon_row_quants(&p->q, rows, rows_padded, (int32_t *)(void *)tables);
    }
#endif
    for (int32_t first = 0; first < windows; first += pass_windows) {
        const int8_t *columns[MUNIFY_NEON_TABLE_PIXELS];
        for (int q = 0; q < pixels; ++q) {
            const int32_t window = first + q / 4 < windows ? first + q / 4 : windows - 1;
            const int32_t oy = 2 * (window / pool_w) + q % 4 / 2, ox = 2 * (window % pool_w) + q % 2;
            columns[q] = munify_neon_patch(w, input, oy, ox, patches + q * w->depth);
        }
        const int valid = windows - first < pass_windows ? windows - first : pass_windows;
#if defined(__ARM_FEATURE_DOTPROD)
        if (sdot && !sign_tables) {
            int8_t *staged = (int8_t *)(void *)acc;
            munify_neon_quads_interleave(columns, w->depth, chunks);
            munify_neon_quads_pass(p, chunks, (const int32_t *)(const void *)tables, staged, bo, bi, 1);
            if (valid == pass_windows) {
                munify_neon_quads_store(staged, rows, output + first * rows, 4); /* the lanes' tests vanish */
            } else {
                munify_neon_quads_store(staged, rows, output + first * rows, valid);
            }
            continue;
        }
#endif
        munify_neon_pass(p, columns, chunks, tables, acc, rows_padded, bo, bi, pixels, sdot, sign_tables);
        for (int v = 0; v < valid; ++v) {
            munify_neon_window_run(acc + 4 * v * rows_padded, rows_padded, &p->q, rows, output + (first + v) * rows);
        }
    }
}

#endif
