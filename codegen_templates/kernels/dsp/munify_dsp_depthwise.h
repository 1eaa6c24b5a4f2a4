/* DEPTHWISE_CONV_2D (depth multiplier 1), dense: 4 channels per step, input widened with 2 SXTB16, weights
 * stored as int16, 4 SMLABB/SMLATT.
 *
 * Layout dsp-dw (toolchain.plan.dsp.pack_depthwise): int16 [taps][channels padded to 4], the channels of each
 * group of 4 in the order (c0, c2, c1, c3). Scratch (munify_dsp_depthwise_scratch_size): one input pointer
 * per tap; padding taps point into pad_row.
 */
#ifndef MUNIFY_DSP_DEPTHWISE_H
#define MUNIFY_DSP_DEPTHWISE_H

#include "munify_dsp.h"

MUNIFY_DSP_FN int32_t munify_dsp_depthwise_scratch_size(const munify_dsp_depthwise *p)
{
    return (int32_t)sizeof(const int8_t *) * p->kernel_h * p->kernel_w;
}

MUNIFY_DSP_FN void depthwise_taps(const munify_dsp_depthwise *p, const int8_t *input, int32_t oy, int32_t ox,
                                  const int8_t **taps)
{
    int32_t iy0 = oy * p->stride_h - p->pad_top;
    int32_t ix0 = ox * p->stride_w - p->pad_left;
    for (int32_t ky = 0; ky < p->kernel_h; ++ky) {
        int32_t iy = iy0 + ky * p->dilation_h;
        for (int32_t kx = 0; kx < p->kernel_w; ++kx) {
            int32_t ix = ix0 + kx * p->dilation_w;
            int32_t inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
            *taps++ = inside ? input + (iy * p->in_w + ix) * p->channels : p->pad_row;
        }
    }
}

MUNIFY_DSP_FN void munify_dsp_depthwise_s8(const munify_dsp_depthwise *p, const int8_t *input, int8_t *output,
                                           int16_t *scratch)
{
    const int8_t **taps = (const int8_t **)(void *)scratch;
    int32_t tap_count = p->kernel_h * p->kernel_w;
    int32_t padded = munify_dsp_round_up4(p->channels);
    const munify_dsp_quant q = p->q;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox, output += p->channels) {
            depthwise_taps(p, input, oy, ox, taps);
            for (int32_t c = 0; c < p->channels; c += 4) {
                int32_t a0 = p->bias[c], a1 = 0, a2 = 0, a3 = 0;
                a1 = c + 1 < p->channels ? p->bias[c + 1] : 0;
                a2 = c + 2 < p->channels ? p->bias[c + 2] : 0;
                a3 = c + 3 < p->channels ? p->bias[c + 3] : 0;
                const uint32_t *w = (const uint32_t *)(const void *)(p->weights + c);
                for (int32_t t = 0; t < tap_count; ++t, w += padded >> 1) {
                    uint32_t x = munify_dsp_load_word(taps[t] + c);
                    uint32_t even = __sxtb16(x);
                    uint32_t odd = __sxtb16(munify_dsp_ror8(x));
                    a0 = __smlabb((int32_t)even, (int32_t)w[0], a0);
                    a2 = __smlatt((int32_t)even, (int32_t)w[0], a2);
                    a1 = __smlabb((int32_t)odd, (int32_t)w[1], a1);
                    a3 = __smlatt((int32_t)odd, (int32_t)w[1], a3);
                }
                int32_t acc[4] = {a0, a1, a2, a3};
                int32_t n = p->channels - c < 4 ? p->channels - c : 4;
                for (int32_t i = 0; i < n; ++i) {
                    output[c + i] = munify_dsp_output(acc[i], &q, c + i);
                }
            }
        }
    }
}

#endif
