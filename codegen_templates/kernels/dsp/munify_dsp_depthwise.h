/* DEPTHWISE_CONV_2D (depth multiplier 1, channels a multiple of 4), dense: 4 channels x 2 taps per step,
 * inputs widened with 4 SXTB16 and paired by tap with 4 PKHBT/PKHTB, weights widened to tap pairs with
 * 4 SXTB16, 4 SMLAD; the tap pairs are unrolled (define MUNIFY_DSP_DW_TAPS, the kernel's tap count, before
 * including this header).
 *
 * Layout dsp-dw (toolchain.plan.kernels.dsp.kernels.pack_depthwise): int8, for each group of 4 channels, for
 * each pair of taps (taps padded with a zero tap to an even count) two words: bytes w[c0][t], w[c2][t], w[c0][t+1],
 * w[c2][t+1], then the same of c1 and c3 (SXTB16 of a word gives the tap pair of c0, of the word rotated by
 * 8 that of c2).
 * Scratch (munify_dsp_depthwise_scratch_size): the requantization table, one accumulator per channel, then
 * one input pointer per tap (padding taps point into pad_row).
 */
#ifndef MUNIFY_DSP_DEPTHWISE_H
#define MUNIFY_DSP_DEPTHWISE_H

#include "munify_dsp.h"

#ifndef MUNIFY_DSP_DW_TAPS
#error "define MUNIFY_DSP_DW_TAPS (kernel height x width) before including munify_dsp_depthwise.h"
#endif
#define DW_PAIRS ((MUNIFY_DSP_DW_TAPS + 1) / 2)
#define DW_STR(x) #x
#define DW_XSTR(x) DW_STR(x)

static inline int32_t depthwise_padded_taps(const munify_dsp_depthwise *p)
{
    (void)p;
    return 2 * DW_PAIRS;
}

MUNIFY_DSP_FN int32_t munify_dsp_depthwise_scratch_size(const munify_dsp_depthwise *p)
{
    return (int32_t)((sizeof(munify_dsp_requant) + sizeof(int32_t)) * (uint32_t)p->channels +
                     sizeof(const int8_t *) * (uint32_t)depthwise_padded_taps(p));
}

MUNIFY_DSP_FN void depthwise_taps(const munify_dsp_depthwise *p, const int8_t *input, int32_t oy, int32_t ox,
                                  const int8_t **taps)
{
    int32_t iy0 = oy * p->stride_h - p->pad_top;
    int32_t ix0 = ox * p->stride_w - p->pad_left;
    int32_t inside_y = iy0 >= 0 && iy0 + (p->kernel_h - 1) * p->dilation_h < p->in_h;
    int32_t inside_x = ix0 >= 0 && ix0 + (p->kernel_w - 1) * p->dilation_w < p->in_w;
    if (inside_y && inside_x) { /* the whole window lies in the input: no bounds checks */
        int32_t step_x = p->dilation_w * p->channels;
        int32_t step_y = p->dilation_h * p->in_w * p->channels;
        const int8_t *row = input + (iy0 * p->in_w + ix0) * p->channels;
        for (int32_t ky = 0; ky < p->kernel_h; ++ky, row += step_y) {
            const int8_t *tap = row;
            for (int32_t kx = 0; kx < p->kernel_w; ++kx, tap += step_x) {
                *taps++ = tap;
            }
        }
    } else {
        for (int32_t ky = 0; ky < p->kernel_h; ++ky) {
            int32_t iy = iy0 + ky * p->dilation_h;
            for (int32_t kx = 0; kx < p->kernel_w; ++kx) {
                int32_t ix = ix0 + kx * p->dilation_w;
                int32_t inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
                *taps++ = inside ? input + (iy * p->in_w + ix) * p->channels : p->pad_row;
            }
        }
    }
    if ((p->kernel_h * p->kernel_w) & 1) {
        *taps = p->pad_row; /* the zero-weight tap of an odd count */
    }
}

/* The state of one output pixel for the assembly loop over its channel groups. */
typedef struct {
    const int8_t *const *taps;
    const int8_t *weights;
    const int32_t *bias;
    int32_t *acc;
    int32_t groups;
} depthwise_state;

/* acc[c] = bias[c] + the taps of channel c, 4 channels per group (>= 1 group), 2 taps per step. r0 = state; in
 * the loop r0 = tap pointers, r1 = weights, r3 = channel offset, r4-r7 = c0, c1, c2, c3. */
MUNIFY_ASM_FUNCTION depthwise_groups(MUNIFY_ASM_ARG depthwise_state *state)
{
    __asm volatile("push   {r0, r4-r11, lr}\n\t"
                   "movs   r3, #0\n\t"
                   "ldr    r1, [r0, #4]\n\t"
                   "0:\n\t"
                   "ldr    r12, [sp]\n\t"
                   "ldr    r8, [r12, #8]\n\t"
                   "ldm    r8!, {r4, r5, r6, r7}\n\t"
                   "str    r8, [r12, #8]\n\t"
                   "ldr    r0, [r12]\n\t"
                   ".rept  " DW_XSTR(DW_PAIRS) "\n\t"
                   "ldrd   r8, r9, [r0], #8\n\t"
                   "ldr    r8, [r8, r3]\n\t"
                   "ldr    r9, [r9, r3]\n\t"
                   "ldrd   r11, lr, [r1], #8\n\t"
                   "sxtb16 r10, r8\n\t"
                   "sxtb16 r12, r9\n\t"
                   "pkhbt  r2, r10, r12, lsl #16\n\t"
                   "pkhtb  r10, r12, r10, asr #16\n\t"
                   "sxtb16 r12, r11\n\t"
                   "smlad  r4, r2, r12, r4\n\t"
                   "sxtb16 r12, r11, ror #8\n\t"
                   "smlad  r6, r10, r12, r6\n\t"
                   "sxtb16 r10, r8, ror #8\n\t"
                   "sxtb16 r12, r9, ror #8\n\t"
                   "pkhbt  r2, r10, r12, lsl #16\n\t"
                   "pkhtb  r10, r12, r10, asr #16\n\t"
                   "sxtb16 r12, lr\n\t"
                   "smlad  r5, r2, r12, r5\n\t"
                   "sxtb16 r12, lr, ror #8\n\t"
                   "smlad  r7, r10, r12, r7\n\t"
                   ".endr\n\t"
                   "ldr    r12, [sp]\n\t"
                   "ldr    r8, [r12, #12]\n\t"
                   "stm    r8!, {r4, r5, r6, r7}\n\t"
                   "str    r8, [r12, #12]\n\t"
                   "adds   r3, r3, #4\n\t"
                   "ldr    r8, [r12, #16]\n\t"
                   "subs   r8, r8, #1\n\t"
                   "str    r8, [r12, #16]\n\t"
                   "bne    0b\n\t"
                   "pop    {r0, r4-r11, pc}\n\t");
}

MUNIFY_DSP_FN void depthwise_pixel(const munify_dsp_depthwise *p, const munify_dsp_requant *requant, int32_t simple,
                                   const int8_t *const *taps, int32_t *acc, int8_t *output)
{
    const munify_dsp_quant q = p->q;
    depthwise_state state = {taps, p->weights, p->bias, acc, p->channels >> 2};
    depthwise_groups(&state);
    munify_dsp_output_run(acc, requant, simple, &q, p->channels, output);
}

MUNIFY_DSP_FN void munify_dsp_depthwise_s8(const munify_dsp_depthwise *p, const int8_t *input, int8_t *output,
                                           int16_t *scratch)
{
    munify_dsp_requant *requant = (munify_dsp_requant *)(void *)scratch;
    int32_t *acc = (int32_t *)(requant + p->channels);
    const int8_t **taps = (const int8_t **)(void *)(acc + p->channels);
    int32_t simple = munify_dsp_prepare_requant(&p->q, p->channels, requant);
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox, output += p->channels) {
            depthwise_taps(p, input, oy, ox, taps);
            depthwise_pixel(p, requant, simple, taps, acc, output);
        }
    }
}

#endif
