/* DEPTHWISE_CONV_2D (depth multiplier 1, channels a multiple of 4), dense: 4 channels x 2 taps per step,
 * inputs widened with 4 SXTB16 and paired by tap with 4 PKHBT/PKHTB, weights stored as int16 tap pairs,
 * 4 SMLAD.
 *
 * Layout dsp-dw (toolchain.plan.dsp.pack_depthwise): int16, for each group of 4 channels, for each pair of
 * taps (taps padded with a zero tap to an even count): the words (w[c][t], w[c][t+1]) of c0, c2, c1, c3.
 * Scratch (munify_dsp_depthwise_scratch_size): the requantization table, then one input pointer per tap
 * (padding taps point into pad_row).
 */
#ifndef MUNIFY_DSP_DEPTHWISE_H
#define MUNIFY_DSP_DEPTHWISE_H

#include "munify_dsp.h"

static inline int32_t depthwise_padded_taps(const munify_dsp_depthwise *p)
{
    return (p->kernel_h * p->kernel_w + 1) & ~1;
}

MUNIFY_DSP_FN int32_t munify_dsp_depthwise_scratch_size(const munify_dsp_depthwise *p)
{
    return (int32_t)(sizeof(munify_dsp_requant) * (uint32_t)p->channels +
                     sizeof(const int8_t *) * (uint32_t)depthwise_padded_taps(p));
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
    if ((p->kernel_h * p->kernel_w) & 1) {
        *taps = p->pad_row; /* the zero-weight tap of an odd count */
    }
}

/* acc[0..3] += the taps of 4 channels. r0 = tap pointers (advanced by 2 per step), r1 = weights of this channel
 * group, r2 = tap pairs (>= 1), r3 = {acc c0, c1, c2, c3, channel offset}. */
MUNIFY_ASM_FUNCTION depthwise_group(MUNIFY_ASM_ARG const int8_t *const *taps, MUNIFY_ASM_ARG const uint32_t *weights,
                                    MUNIFY_ASM_ARG int32_t pairs, MUNIFY_ASM_ARG int32_t *state)
{
    __asm volatile("push   {r3-r11, lr}\n\t"
                   "ldm    r3, {r4, r5, r6, r7}\n\t"
                   "ldr    r3, [r3, #16]\n\t"
                   "1:\n\t"
                   "ldrd   r8, r9, [r0], #8\n\t"
                   "ldr    r8, [r8, r3]\n\t"
                   "ldr    r9, [r9, r3]\n\t"
                   "sxtb16 r10, r8\n\t"
                   "sxtb16 r11, r9\n\t"
                   "pkhbt  r12, r10, r11, lsl #16\n\t"
                   "pkhtb  r10, r11, r10, asr #16\n\t"
                   "ldrd   r11, lr, [r1], #8\n\t"
                   "smlad  r4, r12, r11, r4\n\t"
                   "smlad  r6, r10, lr, r6\n\t"
                   "sxtb16 r10, r8, ror #8\n\t"
                   "sxtb16 r11, r9, ror #8\n\t"
                   "pkhbt  r12, r10, r11, lsl #16\n\t"
                   "pkhtb  r10, r11, r10, asr #16\n\t"
                   "ldrd   r11, lr, [r1], #8\n\t"
                   "smlad  r5, r12, r11, r5\n\t"
                   "smlad  r7, r10, lr, r7\n\t"
                   "subs   r2, r2, #1\n\t"
                   "bne    1b\n\t"
                   "pop    {r8}\n\t"
                   "stm    r8, {r4, r5, r6, r7}\n\t"
                   "pop    {r4-r11, pc}\n\t");
}

MUNIFY_DSP_FN void depthwise_pixel(const munify_dsp_depthwise *p, const munify_dsp_requant *requant,
                                   const int8_t *const *taps, int8_t *output)
{
    const munify_dsp_quant q = p->q;
    const uint32_t *w = (const uint32_t *)(const void *)p->weights;
    int32_t pairs = depthwise_padded_taps(p) >> 1;
    for (int32_t c = 0; c < p->channels; c += 4, w += 4 * pairs) {
        int32_t state[5] = {p->bias[c], p->bias[c + 1], p->bias[c + 2], p->bias[c + 3], c};
        depthwise_group(taps, w, pairs, state);
        for (int32_t i = 0; i < 4; ++i) {
            output[c + i] = munify_dsp_output_fast(state[i], &requant[c + i], &q);
        }
    }
}

MUNIFY_DSP_FN void munify_dsp_depthwise_s8(const munify_dsp_depthwise *p, const int8_t *input, int8_t *output,
                                           int16_t *scratch)
{
    munify_dsp_requant *requant = (munify_dsp_requant *)(void *)scratch;
    const int8_t **taps = (const int8_t **)(void *)(requant + p->channels);
    munify_dsp_prepare_requant(&p->q, p->channels, requant);
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox, output += p->channels) {
            depthwise_taps(p, input, oy, ox, taps);
            depthwise_pixel(p, requant, taps, output);
        }
    }
}

#endif
