/* MAX_POOL_2D over channels in groups of 4 (channels % 4 == 0): a window element is one word of 4 channels,
 * SSUB8 sets the GE flag of every byte where the running maximum is >= the element and SEL keeps those bytes
 * (4 signed maxima in 3 instructions with the load). The activation bounds clamp the same way, 4 at a time.
 * Padding taps do not count (TFLite): the window is cut to the input.
 */
#ifndef MUNIFY_DSP_MAXPOOL_H
#define MUNIFY_DSP_MAXPOOL_H

#include "munify_dsp.h"

typedef struct {
    int32_t batches, in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    uint32_t act_min4, act_max4; /* the activation bounds in every byte */
    int32_t clamp;               /* 0 when the bounds are the int8 range */
} munify_dsp_maxpool;

/* The bytewise signed maximum (SSUB8 + SEL in one asm statement, so nothing comes between them). */
static inline uint32_t maxpool_max4(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm("ssub8  %0, %1, %2\n\tsel    %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

static inline uint32_t maxpool_min4(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm("ssub8  %0, %1, %2\n\tsel    %0, %2, %1" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

/* The 4 channel maxima of rows [fy0, fy1) x columns [fx0, fx1) of the window at `win` (a word of channels). */
static inline uint32_t maxpool_window(const munify_dsp_maxpool *p, const int8_t *win, int32_t rows, int32_t cols)
{
    uint32_t best = 0x80808080u;
    int32_t row_bytes = p->in_w * p->channels;
    for (int32_t fy = 0; fy < rows; ++fy, win += row_bytes) {
        const int8_t *x = win;
        for (int32_t fx = 0; fx < cols; ++fx, x += p->channels) {
            best = maxpool_max4(best, munify_dsp_load_word(x));
        }
    }
    return best;
}

/* A whole 2x2 window of every channel (the common pool): four loads, three maxima per 4 channels. */
static inline int8_t *maxpool_2x2(const int8_t *win, int32_t row_bytes, int32_t channels, int8_t *out)
{
    for (int32_t c = 0; c < channels; c += 4, win += 4, out += 4) {
        uint32_t top = maxpool_max4(munify_dsp_load_word(win), munify_dsp_load_word(win + channels));
        uint32_t bottom = maxpool_max4(munify_dsp_load_word(win + row_bytes),
                                       munify_dsp_load_word(win + row_bytes + channels));
        uint32_t best = maxpool_max4(top, bottom);
        memcpy(out, &best, sizeof best);
    }
    return out;
}

MUNIFY_DSP_FN void munify_dsp_maxpool_s8(const munify_dsp_maxpool *p, const int8_t *input, int8_t *output)
{
    int8_t *out = output;
    for (int32_t n = 0; n < p->batches; ++n, input += p->in_h * p->in_w * p->channels) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t fy0 = iy0 < 0 ? -iy0 : 0;
            int32_t fy1 = p->in_h - iy0 < p->kernel_h ? p->in_h - iy0 : p->kernel_h;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t fx0 = ix0 < 0 ? -ix0 : 0;
                int32_t fx1 = p->in_w - ix0 < p->kernel_w ? p->in_w - ix0 : p->kernel_w;
                const int8_t *win = input + ((iy0 + fy0) * p->in_w + ix0 + fx0) * p->channels;
                if (fy1 - fy0 == 2 && fx1 - fx0 == 2 && !p->clamp) {
                    out = maxpool_2x2(win, p->in_w * p->channels, p->channels, out);
                    continue;
                }
                for (int32_t c = 0; c < p->channels; c += 4, out += 4) {
                    uint32_t best = maxpool_window(p, win + c, fy1 - fy0, fx1 - fx0);
                    if (p->clamp) {
                        best = maxpool_min4(maxpool_max4(best, p->act_min4), p->act_max4);
                    }
                    memcpy(out, &best, sizeof best);
                }
            }
        }
    }
}

#endif
