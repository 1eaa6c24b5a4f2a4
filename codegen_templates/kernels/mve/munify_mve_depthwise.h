/* DEPTHWISE_CONV_2D with Helium (depth multiplier 1, at most 16 taps): one gather reads a channel's window.
 *
 * Layout mve-dw16 (toolchain.plan.mve.pack_depthwise16): per channel, its kh * kw taps padded to 16 bytes.
 *
 * The input is first copied into scratch as one zero-padded plane per channel (MVE_PLANE_ROWS x
 * MVE_PLANE_COLS bytes, the zero point around it), so every window lies inside and its taps are at constant
 * 8-bit offsets: VLDRB gathers the window of one channel into a vector and one VMLADAVA with the channel's
 * 16 weight bytes gives the output. Four output pixels of one channel are requantized together (the same
 * multiplier) and stored with a scatter at stride MVE_CIN. After the planes, scratch holds the offset of
 * every output pixel's window in its plane (uint16, padded to a multiple of 4 pixels).
 *
 * The layer source defines the window macros of munify_mve_matrix.h (MVE_IN_H ... MVE_PAD_VALUE) and the
 * requantization macros.
 */
#ifndef MUNIFY_MVE_DEPTHWISE_H
#define MUNIFY_MVE_DEPTHWISE_H

#include "munify_mve.h"

#define MVE_MAX(a, b) ((a) > (b) ? (a) : (b))
#define MVE_PLANE_ROWS MVE_MAX(MVE_PAD_TOP + MVE_IN_H, (MVE_OUT_H - 1) * MVE_STRIDE_H + (MVE_KH - 1) * MVE_DIL_H + 1)
#define MVE_PLANE_COLS MVE_MAX(MVE_PAD_LEFT + MVE_IN_W, (MVE_OUT_W - 1) * MVE_STRIDE_W + (MVE_KW - 1) * MVE_DIL_W + 1)
#define MVE_PLANE (MVE_PLANE_ROWS * MVE_PLANE_COLS)
#define MVE_PIXELS (MVE_OUT_H * MVE_OUT_W)
#define MVE_TAPS (MVE_KH * MVE_KW)

/* the input, channel by channel, into its plane at (pad_top, pad_left); the rest of the planes is the zero point */
MUNIFY_MVE_FN void mve_fill_planes(const int8_t *input, int8_t *planes)
{
    munify_mve_fill(planes, MVE_PAD_VALUE, MVE_CIN * MVE_PLANE);
    const uint32x4_t channel_step = vmulq_n_u32(vidupq_n_u32(0, 1), MVE_PLANE);
    for (int32_t iy = 0; iy < MVE_IN_H; ++iy) {
        for (int32_t ix = 0; ix < MVE_IN_W; ++ix, input += MVE_CIN) {
            int8_t *dst = planes + (iy + MVE_PAD_TOP) * MVE_PLANE_COLS + ix + MVE_PAD_LEFT;
            for (int32_t c = 0; c < MVE_CIN; c += 4, dst += 4 * MVE_PLANE) {
                const mve_pred16_t p = vctp32q((uint32_t)(MVE_CIN - c));
                vstrbq_scatter_offset_p_s32(dst, channel_step, vldrbq_z_s32(input + c, p), p);
            }
        }
    }
}

/* the window offset of every output pixel in its plane; 0 for the pixels that pad the count to 4 */
MUNIFY_MVE_FN void mve_window_offsets(uint16_t *offsets)
{
    for (int32_t oy = 0; oy < MVE_OUT_H; ++oy) {
        for (int32_t ox = 0; ox < MVE_OUT_W; ++ox) {
            *offsets++ = (uint16_t)(oy * MVE_STRIDE_H * MVE_PLANE_COLS + ox * MVE_STRIDE_W);
        }
    }
    for (int32_t p = MVE_PIXELS; p % 4; ++p) {
        *offsets++ = 0;
    }
}

/* the taps' offsets inside a window; lanes past the taps read the window's origin (their weights are 0) */
MUNIFY_MVE_FN uint8x16_t mve_tap_offsets(void)
{
    uint8_t taps[16] = {0};
    for (int32_t t = 0; t < MVE_TAPS; ++t) {
        taps[t] = (uint8_t)((t / MVE_KW) * MVE_DIL_H * MVE_PLANE_COLS + (t % MVE_KW) * MVE_DIL_W);
    }
    return vldrbq_u8(taps);
}

MUNIFY_MVE_FN void munify_mve_depthwise_s8(const int8_t *input, int8_t *output, int8_t *scratch,
                                           const int8_t *weights, const int32_t *bias, const int32_t *mult,
                                           const int32_t *shift)
{
    int8_t *planes = scratch;
    uint16_t *windows = (uint16_t *)(void *)(scratch + (MVE_CIN * MVE_PLANE + 3) / 4 * 4);
    mve_fill_planes(input, planes);
    mve_window_offsets(windows);
    const uint8x16_t taps = mve_tap_offsets();
    const uint32x4_t pixel_step = vmulq_n_u32(vidupq_n_u32(0, 1), MVE_CIN);
    for (int32_t c = 0; c < MVE_CIN; ++c, planes += MVE_PLANE, weights += 16) {
        const int8x16_t w = vldrbq_s8(weights);
#if MVE_PER_CHANNEL
        const int32x4_t m = vdupq_n_s32(mult[c]), sh = vdupq_n_s32(shift[c]);
#else
        (void)mult;
        (void)shift;
        const int32x4_t m = vdupq_n_s32(MVE_MULT), sh = vdupq_n_s32(MVE_SHIFT);
#endif
        const int32_t b = bias[c];
        const uint16_t *window = windows;
        for (int32_t p = 0; p < MVE_PIXELS; p += 4, window += 4) {
            const int32_t a0 = vmladavaq_s8(b, vldrbq_gather_offset_s8(planes + window[0], taps), w);
            const int32_t a1 = vmladavaq_s8(b, vldrbq_gather_offset_s8(planes + window[1], taps), w);
            const int32_t a2 = vmladavaq_s8(b, vldrbq_gather_offset_s8(planes + window[2], taps), w);
            const int32_t a3 = vmladavaq_s8(b, vldrbq_gather_offset_s8(planes + window[3], taps), w);
            const int32x4_t out = munify_mve_output(munify_mve_lanes(a0, a1, a2, a3), m, sh, MVE_OUT_OFFSET,
                                                    MVE_ACT_MIN, MVE_ACT_MAX);
            vstrbq_scatter_offset_p_s32(output + p * MVE_CIN + c, pixel_step, out,
                                        vctp32q((uint32_t)(MVE_PIXELS - p)));
        }
    }
}

#endif
