/* munify NEON dense matrix kernel: CONV_2D (im2col patches, or the input pixel when 1x1) and FULLY_CONNECTED
 * (a 1x1 convolution over the batch), all weights dense.
 *
 * Layout neon-dense: rows in groups of 4 (zero rows added to the last group), reduction padded with zeros to
 * `depth` (a multiple of 16); per group, per 16 reduction elements, the 4 rows' 16 bytes (64 bytes).
 * Step: 4 rows x 2 output pixels x 16 inputs. Without dotprod a row is SMULL + SMLAL2 + SADALP (the int16 pair
 * sum holds because the weights are in [-127, 127]: the plan checks it); with dotprod one SDOT.
 *
 * Fused with a 2x2 / stride 2 MAX_POOL_2D (munify_neon_conv_dense_pool_s8, toolchain.plan.fusion): a pool window's
 * four pixels share each weight load (4 rows x 4 pixels x 16 inputs), then per 4 rows the maximum of the four
 * pixels' accumulators (3 SMAX) and one requantization into the pool's output. Exact: the requantization never
 * decreases with the accumulator when every shift is right (the plan fuses only then).
 */
#ifndef MUNIFY_NEON_DENSE_H
#define MUNIFY_NEON_DENSE_H

#include "munify_neon.h"

typedef struct {
    munify_neon_window w;
    const int8_t *weights; /* layout neon-dense */
    const int32_t *bias;   /* out_c entries, input offset folded in */
    munify_neon_quant q;
} munify_neon_conv;

MUNIFY_NEON_FN int32x4_t munify_neon_mac16(int32x4_t acc, int8x16_t x, int8x16_t w, const int sdot)
{
#if defined(__ARM_FEATURE_DOTPROD)
    if (sdot) {
        return vdotq_s32(acc, x, w);
    }
#else
    (void)sdot;
#endif
    int16x8_t products = vmull_s8(vget_low_s8(x), vget_low_s8(w));
    products = vmlal_high_s8(products, x, w);
    return vpadalq_s16(acc, products);
}

/* 4 bytes of `v` (lanes 4 * half ..) to out, or the first n < 4 of them. */
MUNIFY_NEON_FN void munify_neon_store4(int8_t *out, int8x8_t v, const int half, int32_t n)
{
    if (n >= 4) {
        vst1_lane_u32((uint32_t *)(void *)out, vreinterpret_u32_s8(v), half); /* STR: unaligned is fine */
        return;
    }
    int8_t tmp[8];
    vst1_s8(tmp, v);
    for (int32_t i = 0; i < n; ++i) {
        out[i] = tmp[4 * half + i];
    }
}

/* All output channels of one or two pixels (x1/out1 unused when !two). */
MUNIFY_NEON_FN void munify_neon_dense_rows(const munify_neon_conv *p, const int8_t *x0, const int8_t *x1,
                                           int8_t *out0, int8_t *out1, const int two, const int sdot)
{
    const int32_t depth = p->w.depth, rows = p->w.out_c;
    const int8_t *w = p->weights;
    for (int32_t r = 0; r < rows; r += 4) {
        int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
        int32x4_t b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int32_t k = 0; k < depth; k += 16, w += 64) {
            const int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32), w3 = vld1q_s8(w + 48);
            const int8x16_t xa = vld1q_s8(x0 + k);
            a0 = munify_neon_mac16(a0, xa, w0, sdot);
            a1 = munify_neon_mac16(a1, xa, w1, sdot);
            a2 = munify_neon_mac16(a2, xa, w2, sdot);
            a3 = munify_neon_mac16(a3, xa, w3, sdot);
            if (two) {
                const int8x16_t xb = vld1q_s8(x1 + k);
                b0 = munify_neon_mac16(b0, xb, w0, sdot);
                b1 = munify_neon_mac16(b1, xb, w1, sdot);
                b2 = munify_neon_mac16(b2, xb, w2, sdot);
                b3 = munify_neon_mac16(b3, xb, w3, sdot);
            }
        }
        const int32x4_t bias = munify_neon_load_s32(p->bias + r, rows - r);
        const int32x4_t oa = munify_neon_output4(vaddq_s32(munify_neon_reduce4(a0, a1, a2, a3), bias), &p->q, r, rows);
        int32x4_t ob = oa;
        if (two) {
            ob = munify_neon_output4(vaddq_s32(munify_neon_reduce4(b0, b1, b2, b3), bias), &p->q, r, rows);
        }
        const int8x8_t packed = munify_neon_narrow8(oa, ob);
        munify_neon_store4(out0 + r, packed, 0, rows - r);
        if (two) {
            munify_neon_store4(out1 + r, packed, 1, rows - r);
        }
    }
}

/* The output channels of a pool window from its four pixels' columns x[0..3]: per channel the maximum of the four
 * accumulators, requantized once (the bias is the same for the four, so it is added after the maximum). */
MUNIFY_NEON_FN void munify_neon_dense_window(const munify_neon_conv *p, const int8_t *const x[4], int8_t *out,
                                             const int sdot)
{
    const int32_t depth = p->w.depth, rows = p->w.out_c;
    const int8_t *w = p->weights;
    for (int32_t r = 0; r < rows; r += 4) {
        int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int32x4_t c0 = a0, c1 = a0, c2 = a0, c3 = a0, d0 = a0, d1 = a0, d2 = a0, d3 = a0;
        for (int32_t k = 0; k < depth; k += 16, w += 64) {
            const int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32), w3 = vld1q_s8(w + 48);
            const int8x16_t xa = vld1q_s8(x[0] + k), xb = vld1q_s8(x[1] + k);
            const int8x16_t xc = vld1q_s8(x[2] + k), xd = vld1q_s8(x[3] + k);
            a0 = munify_neon_mac16(a0, xa, w0, sdot);
            a1 = munify_neon_mac16(a1, xa, w1, sdot);
            a2 = munify_neon_mac16(a2, xa, w2, sdot);
            a3 = munify_neon_mac16(a3, xa, w3, sdot);
            b0 = munify_neon_mac16(b0, xb, w0, sdot);
            b1 = munify_neon_mac16(b1, xb, w1, sdot);
            b2 = munify_neon_mac16(b2, xb, w2, sdot);
            b3 = munify_neon_mac16(b3, xb, w3, sdot);
            c0 = munify_neon_mac16(c0, xc, w0, sdot);
            c1 = munify_neon_mac16(c1, xc, w1, sdot);
            c2 = munify_neon_mac16(c2, xc, w2, sdot);
            c3 = munify_neon_mac16(c3, xc, w3, sdot);
            d0 = munify_neon_mac16(d0, xd, w0, sdot);
            d1 = munify_neon_mac16(d1, xd, w1, sdot);
            d2 = munify_neon_mac16(d2, xd, w2, sdot);
            d3 = munify_neon_mac16(d3, xd, w3, sdot);
        }
        const int32x4_t top = vmaxq_s32(munify_neon_reduce4(a0, a1, a2, a3), munify_neon_reduce4(b0, b1, b2, b3));
        const int32x4_t bottom = vmaxq_s32(munify_neon_reduce4(c0, c1, c2, c3), munify_neon_reduce4(d0, d1, d2, d3));
        const int32x4_t bias = munify_neon_load_s32(p->bias + r, rows - r);
        const int32x4_t o = munify_neon_output4(vaddq_s32(vmaxq_s32(top, bottom), bias), &p->q, r, rows);
        munify_neon_store4(out + r, munify_neon_narrow8(o, o), 0, rows - r);
    }
}

/* The pool_h x pool_w outputs of the 2x2 / stride 2 max pool over the conv (one image): per window its four
 * pixels' columns, then munify_neon_dense_window. scratch: 4 * depth bytes (four patches). */
MUNIFY_NEON_FN void munify_neon_conv_dense_pool_s8(const munify_neon_conv *p, const int8_t *input, int8_t *output,
                                                   int8_t *scratch, const int sdot, const int32_t pool_h,
                                                   const int32_t pool_w)
{
    const munify_neon_window *w = &p->w;
    int8_t *out = output;
    for (int32_t py = 0; py < pool_h; ++py) {
        for (int32_t px = 0; px < pool_w; ++px, out += w->out_c) {
            const int8_t *x[4];
            for (int32_t k = 0; k < 4; ++k) {
                x[k] = munify_neon_patch(w, input, 2 * py + k / 2, 2 * px + k % 2, scratch + k * w->depth);
            }
            munify_neon_dense_window(p, x, out, sdot);
        }
    }
}

/* scratch: 2 * depth bytes (two patches) */
MUNIFY_NEON_FN void munify_neon_conv_dense_s8(const munify_neon_conv *p, const int8_t *input, int8_t *output,
                                              int8_t *scratch, const int sdot)
{
    const munify_neon_window *w = &p->w;
    const int32_t pixels = w->out_h * w->out_w;
    for (int32_t n = 0; n < w->batches; ++n) {
        const int8_t *image = input + n * w->in_h * w->in_w * w->in_c;
        int8_t *out = output + n * pixels * w->out_c;
        int32_t pixel = 0;
        for (; pixel + 1 < pixels; pixel += 2) {
            const int32_t second = pixel + 1;
            const int8_t *x0 = munify_neon_patch(w, image, pixel / w->out_w, pixel % w->out_w, scratch);
            const int8_t *x1 = munify_neon_patch(w, image, second / w->out_w, second % w->out_w, scratch + w->depth);
            munify_neon_dense_rows(p, x0, x1, out + pixel * w->out_c, out + second * w->out_c, 1, sdot);
        }
        if (pixel < pixels) {
            const int8_t *x0 = munify_neon_patch(w, image, pixel / w->out_w, pixel % w->out_w, scratch);
            munify_neon_dense_rows(p, x0, x0, out + pixel * w->out_c, out, 0, sdot);
        }
    }
}

#endif
