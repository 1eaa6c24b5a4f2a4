/* munify NEON DEPTHWISE_CONV_2D kernel, depth multiplier 1, all weights dense.
 *
 * Layout neon-dw: for every tap (ky, kx), the channels' weights padded with zeros to a multiple of 8.
 * Step: 8 channels x 1 tap, SMULL + SADDW + SADDW2; padding taps multiply the input zero point.
 */
#ifndef MUNIFY_NEON_DEPTHWISE_H
#define MUNIFY_NEON_DEPTHWISE_H

#include "munify_neon.h"

#define MUNIFY_NEON_DW_MAX_TAPS 64

typedef struct {
    munify_neon_window w;  /* depth: the channels padded to a multiple of 8 */
    const int8_t *weights; /* layout neon-dw */
    const int32_t *bias;
    munify_neon_quant q;
} munify_neon_dw;

/* The input pixel under every tap of output pixel (oy, ox), NULL where the tap lies in the padding. */
MUNIFY_NEON_FN void munify_neon_dw_taps(const munify_neon_window *w, const int8_t *image, int32_t oy, int32_t ox,
                                        const int8_t **taps)
{
    const int32_t iy0 = oy * w->stride_h - w->pad_top, ix0 = ox * w->stride_w - w->pad_left;
    for (int32_t ky = 0; ky < w->kernel_h; ++ky) {
        const int32_t iy = iy0 + ky * w->dilation_h;
        for (int32_t kx = 0; kx < w->kernel_w; ++kx) {
            const int32_t ix = ix0 + kx * w->dilation_w;
            const int inside = iy >= 0 && iy < w->in_h && ix >= 0 && ix < w->in_w;
            *taps++ = inside ? image + (iy * w->in_w + ix) * w->in_c : NULL;
        }
    }
}

MUNIFY_NEON_FN void munify_neon_dw_pixel(const munify_neon_dw *p, const int8_t *const *taps, int8_t *out)
{
    const int32_t channels = p->w.in_c, stride = p->w.depth, count = p->w.kernel_h * p->w.kernel_w;
    const int8x8_t pad = vdup_n_s8((int8_t)p->w.pad_value);
    for (int32_t c = 0; c < channels; c += 8) {
        const int32_t left = channels - c;
        int32x4_t lo = munify_neon_load_s32(p->bias + c, left);
        int32x4_t hi = left > 4 ? munify_neon_load_s32(p->bias + c + 4, left - 4) : vdupq_n_s32(0);
        const int8_t *weights = p->weights + c;
        for (int32_t t = 0; t < count; ++t, weights += stride) {
            const int8x8_t x = taps[t] ? munify_neon_load_s8x8(taps[t] + c, left) : pad;
            const int16x8_t products = vmull_s8(x, vld1_s8(weights));
            lo = vaddw_s16(lo, vget_low_s16(products));
            hi = vaddw_high_s16(hi, products);
        }
        lo = munify_neon_output4(lo, &p->q, c, channels);
        hi = left > 4 ? munify_neon_output4(hi, &p->q, c + 4, channels) : lo;
        munify_neon_store_s8x8(out + c, munify_neon_narrow8(lo, hi), left);
    }
}

MUNIFY_NEON_FN void munify_neon_depthwise_s8(const munify_neon_dw *p, const int8_t *input, int8_t *output)
{
    const munify_neon_window *w = &p->w;
    const int8_t *taps[MUNIFY_NEON_DW_MAX_TAPS];
    for (int32_t n = 0; n < w->batches; ++n) {
        const int8_t *image = input + n * w->in_h * w->in_w * w->in_c;
        int8_t *out = output + n * w->out_h * w->out_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            for (int32_t ox = 0; ox < w->out_w; ++ox, out += w->in_c) {
                munify_neon_dw_taps(w, image, oy, ox, taps);
                munify_neon_dw_pixel(p, taps, out);
            }
        }
    }
}

#endif
