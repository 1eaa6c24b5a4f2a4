/* DEPTHWISE_CONV_2D with Helium (depth multiplier 1, at most 16 taps): one gather reads a channel's window.
 *
 * Layout mve-dw16 (toolchain.plan.kernels.mve.kernels.pack_depthwise16): per channel, its kh * kw taps padded to
 * 16 bytes.
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

/* the input, channel by channel, into its plane at (pad_top, pad_left); the rest of the planes is the zero
 * point. 8 channels a step: widened to 16-bit lanes and scattered with 16-bit plane offsets. */
MUNIFY_MVE_FN void mve_fill_planes(const int8_t *input, int8_t *planes)
{
    munify_mve_fill(planes, MVE_PAD_VALUE, MVE_CIN * MVE_PLANE);
    static const uint16_t plane_offsets[8] = {0, MVE_PLANE, 2 * MVE_PLANE, 3 * MVE_PLANE,
                                              4 * MVE_PLANE, 5 * MVE_PLANE, 6 * MVE_PLANE, 7 * MVE_PLANE};
    const uint16x8_t channel_step = vldrhq_u16(plane_offsets);
    for (int32_t iy = 0; iy < MVE_IN_H; ++iy) {
        for (int32_t ix = 0; ix < MVE_IN_W; ++ix, input += MVE_CIN) {
            int8_t *dst = planes + (iy + MVE_PAD_TOP) * MVE_PLANE_COLS + ix + MVE_PAD_LEFT;
            for (int32_t c = 0; c < MVE_CIN / 8; ++c, dst += 8 * MVE_PLANE) {
                vstrbq_scatter_offset_s16(dst, channel_step, vldrbq_s16(input + 8 * c));
            }
#if MVE_CIN % 8
            const mve_pred16_t p = vctp16q(MVE_CIN % 8);
            vstrbq_scatter_offset_p_s16(dst, channel_step, vldrbq_z_s16(input + MVE_CIN / 8 * 8, p), p);
#endif
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

/* the output offsets of 4 consecutive pixels of one channel, from memory (gcc 12.2 turned
 * vmulq_n_u32(vidupq_n_u32(0, 1), n) into a multiply by 0 here) */
MUNIFY_MVE_FN uint32x4_t mve_pixel_steps(void)
{
    static const uint32_t steps[4] = {0, MVE_CIN, 2 * MVE_CIN, 3 * MVE_CIN};
    return vldrwq_u32(steps);
}

/* one channel's window dotted with its weights for the pixel at window offset `at` */
#define MVE_DW_DOT(at) vmladavq_s8(vldrbq_gather_offset_s8(plane + (at), taps), w)

/* Requantization of 4 lanes with the channel's multiplier and shift as scalars; `right_only` (a constant
 * after inlining): the shift is negative, the common case, with no left shift and one rounding shift. */
MUNIFY_MVE_INLINE int32x4_t mve_dw_requantize(int32x4_t acc, int32_t multiplier, int32_t shift, int32_t right_only)
{
    if (right_only) {
        const int32x4_t high = vqrdmulhq_n_s32(acc, multiplier);
        return vrshlq_n_s32(vqaddq_s32(high, vshrq_n_s32(high, 31)), shift);
    }
    return munify_mve_requantize(acc, vdupq_n_s32(multiplier), vdupq_n_s32(shift));
}

/* One pixel's window of the channel: its offset from `win`, the gather of its taps, one VMLADAV. */
#define MVE_DW_PIXEL(acc)                                                                                    \
    "ldrh      %[t], [%[win]], #2\n\t"                                                                     \
    "add       %[t], %[plane], %[t]\n\t"                                                                   \
    "vldrb.u8  q0, [%[t], %q[taps]]\n\t"                                                                   \
    "vmlav.s8  %[" acc "], q0, %q[w]\n\t"

/* The lanes of 4 pixels requantized with the right shift of the common case: bias, VQRDMULH, negative
 * lanes one lower, the rounding shift, offset, clamp. */
#define MVE_DW_REQUANTIZE                                                                                    \
    "vmov.32   q1[0], %[a0]\n\t"                                                                          \
    "vmov.32   q1[1], %[a1]\n\t"                                                                          \
    "vmov.32   q1[2], %[a2]\n\t"                                                                          \
    "vmov.32   q1[3], %[a3]\n\t"                                                                          \
    "vadd.i32  q1, q1, %[bias]\n\t"                                                                        \
    "vqrdmulh.s32 q1, q1, %[mult]\n\t"                                                                     \
    "vshr.s32  q0, q1, #31\n\t"                                                                            \
    "vqadd.s32 q1, q1, q0\n\t"                                                                             \
    "vrshl.s32 q1, %[shift]\n\t"                                                                           \
    "vadd.i32  q1, q1, %[offset]\n\t"                                                                      \
    "vmax.s32  q1, q1, %q[lo]\n\t"                                                                         \
    "vmin.s32  q1, q1, %q[hi]\n\t"

/* The common case in assembly (gcc 12 spills the same loop written with intrinsics): per 4 output pixels of
 * one channel, 4 gathers and VMLADAV, the requantization and a scatter store at stride MVE_CIN; the pixels
 * past a multiple of 4 (window offsets padded with 0) in one more quad whose store is tail predicated. */
#define MVE_DW_QUADS                                                                                         \
    "movw      lr, %[n]\n\t"                                                                              \
    "wls       lr, lr, 2f\n\t"                                                                             \
    "1:\n\t" MVE_DW_PIXEL("a0") MVE_DW_PIXEL("a1") MVE_DW_PIXEL("a2") MVE_DW_PIXEL("a3") MVE_DW_REQUANTIZE \
    "vstrb.32  q1, [%[out], %q[step]]\n\t"                                                                 \
    "addw      %[out], %[out], %[stride]\n\t"                                                             \
    "le        lr, 1b\n\t"                                                                                  \
    "2:\n\t"
#define MVE_DW_LAST_QUAD                                                                                     \
    MVE_DW_PIXEL("a0") MVE_DW_PIXEL("a1") MVE_DW_PIXEL("a2") MVE_DW_PIXEL("a3") MVE_DW_REQUANTIZE          \
    "movs      %[t], %[rest]\n\t"                                                                          \
    "vctp.32   %[t]\n\t"                                                                                    \
    "vpst\n\t"                                                                                              \
    "vstrbt.32 q1, [%[out], %q[step]]\n\t"

__attribute__((noinline, unused)) static void mve_dw_quads_right_shift(const int8_t *plane, const uint16_t *win,
                                                                        uint8x16_t taps, int8x16_t w, int32_t bias,
                                                                        int32_t multiplier, int32_t shift,
                                                                        int8_t *out)
{
    register int32_t a0 __asm("r0");
    register int32_t a1 __asm("r2");
    register int32_t a2 __asm("r4");
    register int32_t a3 __asm("r6");
    uint32_t t;
    const uint32x4_t step = mve_pixel_steps();
    const int32x4_t lo = vdupq_n_s32(MVE_ACT_MIN), hi = vdupq_n_s32(MVE_ACT_MAX);
    __asm volatile(MVE_DW_QUADS
#if MVE_PIXELS % 4
                   MVE_DW_LAST_QUAD
#endif
                   : [win] "+r"(win), [out] "+r"(out), [t] "=&r"(t), [a0] "=&r"(a0), [a1] "=&r"(a1),
                     [a2] "=&r"(a2), [a3] "=&r"(a3)
                   : [n] "n"(MVE_PIXELS / 4), [rest] "n"(MVE_PIXELS % 4), [plane] "r"(plane), [taps] "w"(taps),
                     [w] "w"(w), [bias] "r"(bias), [mult] "r"(multiplier), [shift] "r"(shift),
                     [offset] "r"(MVE_OUT_OFFSET), [lo] "w"(lo), [hi] "w"(hi), [step] "w"(step),
                     [stride] "n"(4 * MVE_CIN)
                   : "lr", "q0", "q1", "memory");
}

MUNIFY_MVE_INLINE void mve_dw_channel(const int8_t *plane, const uint16_t *window, uint8x16_t taps, int8x16_t w,
                                      int32_t bias, int32_t multiplier, int32_t shift, int8_t *out, int32_t right_only)
{
    const uint32x4_t pixel_step = mve_pixel_steps();
    if (right_only) {
        mve_dw_quads_right_shift(plane, window, taps, w, bias, multiplier, shift, out);
        return;
    }
    for (int32_t p = 0; p < MVE_PIXELS / 4; ++p, window += 4, out += 4 * MVE_CIN) {
        const int32x4_t acc = munify_mve_lanes(MVE_DW_DOT(window[0]), MVE_DW_DOT(window[1]), MVE_DW_DOT(window[2]),
                                               MVE_DW_DOT(window[3]));
        const int32x4_t y = mve_dw_requantize(vaddq_n_s32(acc, bias), multiplier, shift, right_only);
        vstrbq_scatter_offset_s32(out, pixel_step, munify_mve_clamp(y, MVE_OUT_OFFSET, MVE_ACT_MIN, MVE_ACT_MAX));
    }
#if MVE_PIXELS % 4
    const int32x4_t acc = munify_mve_lanes(MVE_DW_DOT(window[0]), MVE_DW_DOT(window[1]), MVE_DW_DOT(window[2]),
                                           MVE_DW_DOT(window[3]));
    const int32x4_t y = mve_dw_requantize(vaddq_n_s32(acc, bias), multiplier, shift, right_only);
    vstrbq_scatter_offset_p_s32(out, pixel_step, munify_mve_clamp(y, MVE_OUT_OFFSET, MVE_ACT_MIN, MVE_ACT_MAX),
                                vctp32q(MVE_PIXELS % 4));
#endif
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
#if !MVE_PER_CHANNEL
    (void)mult;
    (void)shift;
#endif
    for (int32_t c = 0; c < MVE_CIN; ++c) {
#if MVE_PER_CHANNEL
        const int32_t m = mult[c], sh = shift[c];
#else
        const int32_t m = MVE_MULT, sh = MVE_SHIFT;
#endif
        const int8x16_t w = vldrbq_s8(weights + 16 * c);
        if (sh < 0) {
            mve_dw_channel(planes + c * MVE_PLANE, windows, taps, w, bias[c], m, sh, output + c, 1);
        } else {
            mve_dw_channel(planes + c * MVE_PLANE, windows, taps, w, bias[c], m, sh, output + c, 0);
        }
    }
}

#endif
