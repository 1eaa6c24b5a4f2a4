/* AVERAGE_POOL_2D and MAX_POOL_2D with Helium: the window's valid taps summed (8 channels in int16 lanes,
 * 4 in int32 lanes for windows of more than 255 taps) or maximised (16 channels in int8 lanes) a vector at a time.
 *
 * The layer source defines MVE_BATCHES, the window macros (MVE_IN_H, MVE_IN_W, MVE_CIN, MVE_OUT_H,
 * MVE_OUT_W, MVE_KH, MVE_KW, MVE_STRIDE_H/W, MVE_PAD_TOP/LEFT), MVE_ACT_MIN and MVE_ACT_MAX. The average
 * rounds half away from zero, as TFLite Micro (one SDIV per output: the count changes at the borders).
 */
#ifndef MUNIFY_MVE_POOL_H
#define MUNIFY_MVE_POOL_H

#include "munify_mve.h"

typedef struct {
    int32_t fy0, fy1, fx0, fx1; /* the valid window rows and columns */
    const int8_t *origin;       /* the input at (fy0, fx0), channel 0 */
} mve_window;

MUNIFY_MVE_FN mve_window mve_pool_window(const int8_t *image, int32_t oy, int32_t ox)
{
    const int32_t iy0 = oy * MVE_STRIDE_H - MVE_PAD_TOP, ix0 = ox * MVE_STRIDE_W - MVE_PAD_LEFT;
    mve_window w;
    w.fy0 = iy0 < 0 ? -iy0 : 0;
    w.fy1 = MVE_IN_H - iy0 < MVE_KH ? MVE_IN_H - iy0 : MVE_KH;
    w.fx0 = ix0 < 0 ? -ix0 : 0;
    w.fx1 = MVE_IN_W - ix0 < MVE_KW ? MVE_IN_W - ix0 : MVE_KW;
    w.origin = image + ((iy0 + w.fy0) * MVE_IN_W + ix0 + w.fx0) * MVE_CIN;
    return w;
}

MUNIFY_MVE_FN int8_t mve_rounded_average(int32_t sum, int32_t count)
{
    const int32_t average = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
    return (int8_t)(average < MVE_ACT_MIN ? MVE_ACT_MIN : (average > MVE_ACT_MAX ? MVE_ACT_MAX : average));
}

#if MVE_KH * MVE_KW <= 255
/* int16 lanes hold the sum of at most 255 int8 taps: 8 channels a vector */
#define MVE_SUM_LANES 8
typedef int16_t mve_sum_t;
#define MVE_SUM_STEP(sum, x, p) vaddq_s16(sum, vldrbq_z_s16(x, p))
#define MVE_SUM_ZERO() vdupq_n_s16(0)
#define MVE_SUM_PRED(n) vctp16q(n)
#define MVE_SUM_STORE(dst, sum) vst1q_s16(dst, sum)
#else
#define MVE_SUM_LANES 4
typedef int32_t mve_sum_t;
#define MVE_SUM_STEP(sum, x, p) vaddq_s32(sum, vldrbq_z_s32(x, p))
#define MVE_SUM_ZERO() vdupq_n_s32(0)
#define MVE_SUM_PRED(n) vctp32q(n)
#define MVE_SUM_STORE(dst, sum) vst1q_s32(dst, sum)
#endif

MUNIFY_MVE_FN void mve_average_pixel(const mve_window *w, int8_t *out)
{
    const int32_t count = (w->fy1 - w->fy0) * (w->fx1 - w->fx0);
    for (int32_t c = 0; c < MVE_CIN; c += MVE_SUM_LANES) {
        const mve_pred16_t p = MVE_SUM_PRED((uint32_t)(MVE_CIN - c));
        __typeof__(MVE_SUM_ZERO()) sum = MVE_SUM_ZERO();
        const int8_t *row = w->origin + c;
        for (int32_t fy = w->fy0; fy < w->fy1; ++fy, row += MVE_IN_W * MVE_CIN) {
            const int8_t *x = row;
            for (int32_t fx = w->fx0; fx < w->fx1; ++fx, x += MVE_CIN) {
                sum = MVE_SUM_STEP(sum, x, p);
            }
        }
        mve_sum_t lanes[MVE_SUM_LANES];
        MVE_SUM_STORE(lanes, sum);
        for (int32_t i = 0; i < MVE_SUM_LANES && c + i < MVE_CIN; ++i) {
            out[c + i] = mve_rounded_average(lanes[i], count);
        }
    }
}

MUNIFY_MVE_FN void mve_max_pixel(const mve_window *w, int8_t *out)
{
    for (int32_t c = 0; c < MVE_CIN; c += 16) {
        const mve_pred16_t p = vctp8q((uint32_t)(MVE_CIN - c));
        int8x16_t best = vdupq_n_s8(-128);
        const int8_t *row = w->origin + c;
        for (int32_t fy = w->fy0; fy < w->fy1; ++fy, row += MVE_IN_W * MVE_CIN) {
            const int8_t *x = row;
            for (int32_t fx = w->fx0; fx < w->fx1; ++fx, x += MVE_CIN) {
                best = vmaxq_s8(best, vldrbq_z_s8(x, p));
            }
        }
        best = vminq_s8(vmaxq_s8(best, vdupq_n_s8(MVE_ACT_MIN)), vdupq_n_s8(MVE_ACT_MAX));
        vstrbq_p_s8(out + c, best, p);
    }
}

/* `average` (a constant after inlining) selects the reduction */
MUNIFY_MVE_INLINE void munify_mve_pool_s8(const int8_t *input, int8_t *output, int32_t average)
{
    for (int32_t n = 0; n < MVE_BATCHES; ++n, input += MVE_IN_H * MVE_IN_W * MVE_CIN) {
        for (int32_t oy = 0; oy < MVE_OUT_H; ++oy) {
            for (int32_t ox = 0; ox < MVE_OUT_W; ++ox, output += MVE_CIN) {
                const mve_window w = mve_pool_window(input, oy, ox);
                if (average) {
                    mve_average_pixel(&w, output);
                } else {
                    mve_max_pixel(&w, output);
                }
            }
        }
    }
}

#endif
