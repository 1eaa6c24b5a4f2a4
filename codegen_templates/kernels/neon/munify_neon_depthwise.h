/* munify NEON DEPTHWISE_CONV_2D kernel, depth multiplier 1, all weights dense.
 *
 * Layout neon-dw: for every tap (ky, kx), the channels' weights padded with zeros to a multiple of 16.
 * Step: 16 channels x 2 taps, SMULL(2) + SMLAL(2) into int16 (the pair sum holds because the weights are in
 * [-127, 127]: the plan checks it) and 4 SADDW(2). Padding taps read a row of the input zero point, so the
 * tap loop has no branch.
 */
#ifndef MUNIFY_NEON_DEPTHWISE_H
#define MUNIFY_NEON_DEPTHWISE_H

#include "munify_neon.h"

#define MUNIFY_NEON_DW_MAX_TAPS 64

typedef struct {
    munify_neon_window w;  /* depth: the channels padded to a multiple of 16 */
    const int8_t *weights; /* layout neon-dw */
    const int32_t *bias;
    munify_neon_quant q;
} munify_neon_dw;

MUNIFY_NEON_FN int8x16_t munify_neon_load_s8x16(const int8_t *p, int32_t n)
{
    if (n >= 16) {
        return vld1q_s8(p);
    }
    int8_t tmp[16] = {0};
    for (int32_t i = 0; i < n; ++i) {
        tmp[i] = p[i];
    }
    return vld1q_s8(tmp);
}

/* The input pixel under every tap of output pixel (oy, ox); taps in the padding read `pad_row`. */
MUNIFY_NEON_FN void munify_neon_dw_taps(const munify_neon_window *w, const int8_t *image, int32_t oy, int32_t ox,
                                        const int8_t *pad_row, const int8_t **taps)
{
    const int32_t iy0 = oy * w->stride_h - w->pad_top, ix0 = ox * w->stride_w - w->pad_left;
    for (int32_t ky = 0; ky < w->kernel_h; ++ky) {
        const int32_t iy = iy0 + ky * w->dilation_h;
        for (int32_t kx = 0; kx < w->kernel_w; ++kx) {
            const int32_t ix = ix0 + kx * w->dilation_w;
            const int inside = iy >= 0 && iy < w->in_h && ix >= 0 && ix < w->in_w;
            *taps++ = inside ? image + (iy * w->in_w + ix) * w->in_c : pad_row;
        }
    }
}

typedef struct {
    int32x4_t acc[4]; /* channels c .. c + 15 */
} munify_neon_dw16;

MUNIFY_NEON_FN void munify_neon_dw_add(munify_neon_dw16 *s, int16x8_t lo, int16x8_t hi)
{
    s->acc[0] = vaddw_s16(s->acc[0], vget_low_s16(lo));
    s->acc[1] = vaddw_high_s16(s->acc[1], lo);
    s->acc[2] = vaddw_s16(s->acc[2], vget_low_s16(hi));
    s->acc[3] = vaddw_high_s16(s->acc[3], hi);
}

/* Channels c .. c + 15 (`left` of them real) of one output pixel. */
MUNIFY_NEON_FN void munify_neon_dw_group(const munify_neon_dw *p, const int8_t *const *taps, int32_t c,
                                         int32_t left, int8_t *out)
{
    const int32_t stride = p->w.depth, count = p->w.kernel_h * p->w.kernel_w, channels = p->w.in_c;
    munify_neon_dw16 s;
    for (int i = 0; i < 4; ++i) {
        s.acc[i] = left > 4 * i ? munify_neon_load_s32(p->bias + c + 4 * i, left - 4 * i) : vdupq_n_s32(0);
    }
    const int8_t *w = p->weights + c;
    int32_t t = 0;
    for (; t + 1 < count; t += 2, w += 2 * stride) {
        const int8x16_t x0 = munify_neon_load_s8x16(taps[t] + c, left), x1 = munify_neon_load_s8x16(taps[t + 1] + c, left);
        const int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + stride);
        int16x8_t lo = vmull_s8(vget_low_s8(x0), vget_low_s8(w0));
        int16x8_t hi = vmull_high_s8(x0, w0);
        lo = vmlal_s8(lo, vget_low_s8(x1), vget_low_s8(w1));
        hi = vmlal_high_s8(hi, x1, w1);
        munify_neon_dw_add(&s, lo, hi);
    }
    if (t < count) {
        const int8x16_t x0 = munify_neon_load_s8x16(taps[t] + c, left), w0 = vld1q_s8(w);
        munify_neon_dw_add(&s, vmull_s8(vget_low_s8(x0), vget_low_s8(w0)), vmull_high_s8(x0, w0));
    }
    int32x4_t o[4];
    for (int i = 0; i < 4; ++i) {
        o[i] = left > 4 * i ? munify_neon_output4(s.acc[i], &p->q, c + 4 * i, channels) : vdupq_n_s32(0);
    }
    munify_neon_store_s8x8(out, munify_neon_narrow8(o[0], o[1]), left);
    if (left > 8) {
        munify_neon_store_s8x8(out + 8, munify_neon_narrow8(o[2], o[3]), left - 8);
    }
}

/* scratch: depth bytes (the zero-point row read by padding taps) */
MUNIFY_NEON_FN void munify_neon_depthwise_s8(const munify_neon_dw *p, const int8_t *input, int8_t *output,
                                             int8_t *scratch)
{
    const munify_neon_window *w = &p->w;
    const int8_t *taps[MUNIFY_NEON_DW_MAX_TAPS];
    munify_neon_fill(scratch, (int8_t)w->pad_value, w->depth);
    for (int32_t n = 0; n < w->batches; ++n) {
        const int8_t *image = input + n * w->in_h * w->in_w * w->in_c;
        int8_t *out = output + n * w->out_h * w->out_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            for (int32_t ox = 0; ox < w->out_w; ++ox, out += w->in_c) {
                munify_neon_dw_taps(w, image, oy, ox, scratch, taps);
                for (int32_t c = 0; c < w->in_c; c += 16) {
                    munify_neon_dw_group(p, taps, c, w->in_c - c, out + c);
                }
            }
        }
    }
}

#endif
