/* CONV_2D and FULLY_CONNECTED with Helium: 4 weight rows per activation load, 16 MACs per VMLADAVA.
 *
 * Fused with a 2x2 / stride 2 MAX_POOL_2D (MVE_POOL_FUSED, toolchain.plan.fusion; MVE_POOL_OUT_H / W): per pool
 * window the dot products of its four pixels, per 4 rows the maximum of their accumulators (3 VMAX) and one
 * requantization into the pool's output. Exact: the requantization never decreases with the accumulator when
 * every shift is right (the plan fuses only then).
 *
 * Layout mve-rows4 (toolchain.plan.kernels.mve.kernels.pack_rows4): rows padded with zero rows to a multiple of 4
 * and the reduction padded with zeros to a multiple of 16; for each group of 4 rows, for each 16 reduction elements,
 * the 16 bytes of row 0, 1, 2 and 3.
 *
 * The layer source defines the layer's numbers as macros (all compile-time constants): MVE_ROWS, MVE_COLS
 * (weight matrix [rows, cols], cols = kh * kw * cin), the window (MVE_IN_H, MVE_IN_W, MVE_CIN, MVE_OUT_H,
 * MVE_OUT_W, MVE_KH, MVE_KW, MVE_STRIDE_H/W, MVE_DIL_H/W, MVE_PAD_TOP/LEFT, MVE_PAD_VALUE, MVE_POINTWISE;
 * FULLY_CONNECTED is a 1x1 convolution over MVE_IN_W = batches pixels) and the requantization
 * (MVE_PER_CHANNEL, MVE_MULT, MVE_SHIFT, MVE_OUT_OFFSET, MVE_ACT_MIN, MVE_ACT_MAX).
 *
 * No im2col where the patch can be read in place: when a kernel row of the patch is whole 16-byte steps
 * (kw * cin % 16 == 0, no horizontal dilation), the reduction runs over kh segments of the input; only
 * windows that overlap the padding are gathered into scratch (with the zero point). Pointwise layers read
 * the input pixel. Otherwise every patch is gathered and its last 16-byte step is tail predicated.
 */
#ifndef MUNIFY_MVE_MATRIX_H
#define MUNIFY_MVE_MATRIX_H

#include "munify_mve.h"

#ifndef MVE_POOL_FUSED
#define MVE_POOL_FUSED 0
#endif

#define MVE_GROUPS ((MVE_ROWS + 3) / 4)
#define MVE_IN_PLACE (MVE_POINTWISE || (MVE_DIL_W == 1 && (MVE_KW * MVE_CIN) % 16 == 0))
#define MVE_SEGMENTED (MVE_IN_PLACE && !MVE_POINTWISE)
#define MVE_SEGS (MVE_SEGMENTED ? MVE_KH : 1)
#define MVE_SEG_BYTES (MVE_SEGMENTED ? MVE_KW * MVE_CIN : MVE_COLS)
#define MVE_SEG_STRIDE (MVE_DIL_H * MVE_IN_W * MVE_CIN)
#define MVE_SEG_STEPS (MVE_SEG_BYTES / 16)   /* whole 16-byte steps per segment */
#define MVE_SEG_TAIL (MVE_SEG_BYTES % 16)    /* inputs of the last, predicated step (MVE_SEGS == 1 only) */
#define MVE_GROUP_BYTES (4 * 16 * ((MVE_COLS + 15) / 16))

/* One segment of the dot products of 4 rows, a tail-predicated loop (WLSTP/LETP) over %[n] inputs: per 16
 * inputs one activation load, 4 weight loads and 4 VMLADAVA (accumulators in even registers, as VMLADAVA
 * needs). gcc 12 spills Q registers in the same loop written with intrinsics, hence the assembly. */
#define MVE_DOT4_SEGMENT                                                                                     \
    "wlstp.8   lr, %[n], 2f\n\t"                                                                           \
    "1:\n\t"                                                                                                \
    "vldrb.8   q0, [%[x]], #16\n\t"                                                                        \
    "vldrb.8   q1, [%[w]], #16\n\t"                                                                        \
    "vmlava.s8 %[a0], q0, q1\n\t"                                                                          \
    "vldrb.8   q1, [%[w]], #16\n\t"                                                                        \
    "vmlava.s8 %[a1], q0, q1\n\t"                                                                          \
    "vldrb.8   q1, [%[w]], #16\n\t"                                                                        \
    "vmlava.s8 %[a2], q0, q1\n\t"                                                                          \
    "vldrb.8   q1, [%[w]], #16\n\t"                                                                        \
    "vmlava.s8 %[a3], q0, q1\n\t"                                                                          \
    "letp      lr, 1b\n\t"                                                                                  \
    "2:\n\t"

#define MVE_ROWS_PADDED ((MVE_ROWS + 3) / 4 * 4)
#define MVE_ACC_BYTES (4 * MVE_ROWS_PADDED)
/* the accumulators in scratch: one pixel's, or a pool window's four pixels' */
#define MVE_SCRATCH_ACC_BYTES ((MVE_POOL_FUSED ? 4 : 1) * MVE_ACC_BYTES)

/* acc[0..3] = the 4 rows of `w` dotted with the patch at x (MVE_SEGS segments `stride` bytes apart) */
MUNIFY_MVE_FN void mve_dot4(const int8_t *x, int32_t stride, const int8_t *w, int32_t *acc)
{
    register int32_t a0 __asm("r4") = 0;
    register int32_t a1 __asm("r6") = 0;
    register int32_t a2 __asm("r8") = 0;
    register int32_t a3 __asm("r10") = 0;
    for (int32_t s = 0; s < MVE_SEGS; ++s, x += stride) {
        const int8_t *xs = x;
        __asm volatile(MVE_DOT4_SEGMENT
                       : [x] "+r"(xs), [w] "+r"(w), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3)
                       : [n] "r"(MVE_SEG_BYTES)
                       : "lr", "q0", "q1", "memory");
    }
    __asm volatile("strd %[a0], %[a1], [%[acc]]\n\t"
                   "strd %[a2], %[a3], [%[acc], #8]"
                   :
                   : [acc] "r"(acc), [a0] "r"(a0), [a1] "r"(a1), [a2] "r"(a2), [a3] "r"(a3)
                   : "memory");
}

/* out[r] = the requantized acc[r] + bias[r] for r < n, 4 rows a step; per tensor (mult, shift NULL) the
 * layer's MVE_MULT / MVE_SHIFT; `right_only` (a constant after inlining): every shift is negative. */
/* 4 accumulators (bias included) of rows r..r+3 to int8 lanes */
MUNIFY_MVE_INLINE int32x4_t mve_requantize_lanes(int32x4_t acc, int32x4_t mult, int32x4_t shift, int32_t right_only)
{
#if MVE_PER_CHANNEL
    acc = right_only ? munify_mve_requantize_right(acc, mult, shift) : munify_mve_requantize(acc, mult, shift);
#else
    (void)mult;
    (void)shift;
    (void)right_only;
    acc = munify_mve_requantize_n(acc, MVE_MULT, MVE_SHIFT);
#endif
    return munify_mve_clamp(acc, MVE_OUT_OFFSET, MVE_ACT_MIN, MVE_ACT_MAX);
}

#if MVE_PER_CHANNEL
#define MVE_LOAD_REQUANT(v, table, r) vldrwq_s32((table) + (r))
#define MVE_LOAD_REQUANT_Z(v, table, r, p) vldrwq_z_s32((table) + (r), p)
#else
#define MVE_LOAD_REQUANT(v, table, r) ((void)(table), vdupq_n_s32(v))
#define MVE_LOAD_REQUANT_Z(v, table, r, p) ((void)(table), vdupq_n_s32(v))
#endif

/* out[r] = the requantized acc[r] + bias[r] for the MVE_ROWS rows, 4 a step; per tensor (mult, shift NULL)
 * the layer's MVE_MULT / MVE_SHIFT; `right_only` (a constant after inlining): every shift is negative. */
MUNIFY_MVE_INLINE void munify_mve_requantize_rows(const int32_t *acc, const int32_t *bias, const int32_t *mult,
                                                  const int32_t *shift, int8_t *out, int32_t right_only)
{
    for (int32_t r = 0; r < MVE_ROWS / 4 * 4; r += 4) {
        const int32x4_t y = vaddq_s32(vldrwq_s32(acc + r), vldrwq_s32(bias + r));
        const int32x4_t m = MVE_LOAD_REQUANT(MVE_MULT, mult, r), sh = MVE_LOAD_REQUANT(MVE_SHIFT, shift, r);
        vstrbq_s32(out + r, mve_requantize_lanes(y, m, sh, right_only));
    }
#if MVE_ROWS % 4
    const int32_t r = MVE_ROWS / 4 * 4;
    const mve_pred16_t p = vctp32q(MVE_ROWS % 4);
    const int32x4_t y = vaddq_s32(vldrwq_s32(acc + r), vldrwq_z_s32(bias + r, p));
    const int32x4_t m = MVE_LOAD_REQUANT_Z(MVE_MULT, mult, r, p), sh = MVE_LOAD_REQUANT_Z(MVE_SHIFT, shift, r, p);
    vstrbq_p_s32(out + r, mve_requantize_lanes(y, m, sh, right_only), p);
#endif
}

/* the dot products of one patch with every row, 4 rows at a time, into acc */
MUNIFY_MVE_INLINE void mve_pixel_dots(const int8_t *x, int32_t stride, const int8_t *weights, int32_t *acc)
{
    for (int32_t g = 0; g < MVE_GROUPS; ++g) {
        mve_dot4(x, stride, weights + g * MVE_GROUP_BYTES, acc + 4 * g);
    }
}

/* the MVE_ROWS outputs of one patch: the dot products of 4 rows at a time into acc, then requantized */
MUNIFY_MVE_INLINE void mve_pixel(const int8_t *x, int32_t stride, const int8_t *weights, const int32_t *bias,
                                 const int32_t *mult, const int32_t *shift, int32_t *acc, int8_t *out,
                                 int32_t right_only)
{
    mve_pixel_dots(x, stride, weights, acc);
    munify_mve_requantize_rows(acc, bias, mult, shift, out, right_only);
}

/* n (a constant) bytes of the patch: scalar moves (memcpy / memset of a constant size) up to `scalar_limit`
 * bytes, else a vector loop. The limits are measured: 8 for kernel rows, 2 for single taps (3-byte taps of
 * RGB input are faster as one vector step at -O3). */
MUNIFY_MVE_INLINE void mve_patch_copy(int8_t *dst, const int8_t *src, int32_t n, int32_t scalar_limit)
{
    if (n <= scalar_limit) {
        memcpy(dst, src, (size_t)n);
    } else {
        munify_mve_copy(dst, src, n);
    }
}

MUNIFY_MVE_INLINE void mve_patch_fill(int8_t *dst, int32_t n, int32_t scalar_limit)
{
    if (n <= scalar_limit) {
        memset(dst, MVE_PAD_VALUE, (size_t)n);
    } else {
        munify_mve_fill(dst, MVE_PAD_VALUE, n);
    }
}

#define MVE_ROW_SCALAR 8
#define MVE_TAP_SCALAR 2

/* The patch of the window at input (iy0, ix0), with the zero point where it lies in the padding; a kernel
 * row that lies inside the input is one copy. */
MUNIFY_MVE_FN void mve_gather_patch(const int8_t *input, int32_t iy0, int32_t ix0, int8_t *patch)
{
    const int32_t whole_rows = MVE_DIL_W == 1 && ix0 >= 0 && ix0 + MVE_KW <= MVE_IN_W;
    for (int32_t ky = 0; ky < MVE_KH; ++ky) {
        const int32_t iy = iy0 + ky * MVE_DIL_H;
        if (iy < 0 || iy >= MVE_IN_H) {
            mve_patch_fill(patch, MVE_KW * MVE_CIN, MVE_ROW_SCALAR);
            patch += MVE_KW * MVE_CIN;
        } else if (whole_rows) {
            mve_patch_copy(patch, input + (iy * MVE_IN_W + ix0) * MVE_CIN, MVE_KW * MVE_CIN, MVE_ROW_SCALAR);
            patch += MVE_KW * MVE_CIN;
        } else {
            for (int32_t kx = 0; kx < MVE_KW; ++kx, patch += MVE_CIN) {
                const int32_t ix = ix0 + kx * MVE_DIL_W;
                if (ix < 0 || ix >= MVE_IN_W) {
                    mve_patch_fill(patch, MVE_CIN, MVE_TAP_SCALAR);
                } else {
                    mve_patch_copy(patch, input + (iy * MVE_IN_W + ix) * MVE_CIN, MVE_CIN, MVE_TAP_SCALAR);
                }
            }
        }
    }
}

MUNIFY_MVE_FN int32_t mve_inside(int32_t iy0, int32_t ix0)
{
    return MVE_POINTWISE || (iy0 >= 0 && ix0 >= 0 && iy0 + (MVE_KH - 1) * MVE_DIL_H < MVE_IN_H
                             && ix0 + (MVE_KW - 1) * MVE_DIL_W < MVE_IN_W);
}

MUNIFY_MVE_INLINE void mve_matrix(const int8_t *input, int8_t *output, int8_t *scratch, const int8_t *weights,
                                  const int32_t *bias, const int32_t *mult, const int32_t *shift, int32_t right_only)
{
    int32_t *acc = (int32_t *)(void *)scratch;
    int8_t *patch = scratch + MVE_ACC_BYTES;
    int8_t *out = output;
    for (int32_t oy = 0; oy < MVE_OUT_H; ++oy) {
        const int32_t iy0 = oy * MVE_STRIDE_H - MVE_PAD_TOP;
        for (int32_t ox = 0; ox < MVE_OUT_W; ++ox, out += MVE_ROWS) {
            const int32_t ix0 = ox * MVE_STRIDE_W - MVE_PAD_LEFT;
            if (MVE_IN_PLACE && mve_inside(iy0, ix0)) {
                mve_pixel(input + (iy0 * MVE_IN_W + ix0) * MVE_CIN, MVE_SEG_STRIDE, weights, bias, mult, shift, acc,
                          out, right_only);
            } else {
                mve_gather_patch(input, iy0, ix0, patch);
                mve_pixel(patch, MVE_SEG_BYTES, weights, bias, mult, shift, acc, out, right_only);
            }
        }
    }
}

#if MVE_POOL_FUSED
/* The dot products of output pixel (oy, ox) into acc: the patch read in place, or gathered into `patch`. */
MUNIFY_MVE_INLINE void mve_window_pixel(const int8_t *input, int32_t oy, int32_t ox, int8_t *patch,
                                        const int8_t *weights, int32_t *acc)
{
    const int32_t iy0 = oy * MVE_STRIDE_H - MVE_PAD_TOP, ix0 = ox * MVE_STRIDE_W - MVE_PAD_LEFT;
    if (MVE_IN_PLACE && mve_inside(iy0, ix0)) {
        mve_pixel_dots(input + (iy0 * MVE_IN_W + ix0) * MVE_CIN, MVE_SEG_STRIDE, weights, acc);
    } else {
        mve_gather_patch(input, iy0, ix0, patch);
        mve_pixel_dots(patch, MVE_SEG_BYTES, weights, acc);
    }
}

/* the per-lane maximum of the four pixels' accumulators of rows r..r+3 (acc: 4 x MVE_ROWS_PADDED) */
MUNIFY_MVE_INLINE int32x4_t mve_window_max(const int32_t *acc, int32_t r)
{
    const int32x4_t top = vmaxq_s32(vldrwq_s32(acc + r), vldrwq_s32(acc + MVE_ROWS_PADDED + r));
    const int32x4_t bottom = vmaxq_s32(vldrwq_s32(acc + 2 * MVE_ROWS_PADDED + r),
                                       vldrwq_s32(acc + 3 * MVE_ROWS_PADDED + r));
    return vmaxq_s32(top, bottom);
}

/* out[r] = the requantized maximum of the window's four accumulators of row r + bias[r] (the bias is the same
 * for the four, so it is added once) */
MUNIFY_MVE_INLINE void mve_requantize_window(const int32_t *acc, const int32_t *bias, const int32_t *mult,
                                             const int32_t *shift, int8_t *out, int32_t right_only)
{
    for (int32_t r = 0; r < MVE_ROWS / 4 * 4; r += 4) {
        const int32x4_t y = vaddq_s32(mve_window_max(acc, r), vldrwq_s32(bias + r));
        const int32x4_t m = MVE_LOAD_REQUANT(MVE_MULT, mult, r), sh = MVE_LOAD_REQUANT(MVE_SHIFT, shift, r);
        vstrbq_s32(out + r, mve_requantize_lanes(y, m, sh, right_only));
    }
#if MVE_ROWS % 4
    const int32_t r = MVE_ROWS / 4 * 4;
    const mve_pred16_t p = vctp32q(MVE_ROWS % 4);
    const int32x4_t y = vaddq_s32(mve_window_max(acc, r), vldrwq_z_s32(bias + r, p));
    const int32x4_t m = MVE_LOAD_REQUANT_Z(MVE_MULT, mult, r, p), sh = MVE_LOAD_REQUANT_Z(MVE_SHIFT, shift, r, p);
    vstrbq_p_s32(out + r, mve_requantize_lanes(y, m, sh, right_only), p);
#endif
}

/* the pool's output: per window its four pixels' dot products, then one requantization of their maximum */
MUNIFY_MVE_INLINE void mve_matrix_pool(const int8_t *input, int8_t *output, int8_t *scratch, const int8_t *weights,
                                       const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                       int32_t right_only)
{
    int32_t *acc = (int32_t *)(void *)scratch;
    int8_t *patch = scratch + MVE_SCRATCH_ACC_BYTES;
    int8_t *out = output;
    for (int32_t py = 0; py < MVE_POOL_OUT_H; ++py) {
        for (int32_t px = 0; px < MVE_POOL_OUT_W; ++px, out += MVE_ROWS) {
            for (int32_t k = 0; k < 4; ++k) {
                mve_window_pixel(input, 2 * py + k / 2, 2 * px + k % 2, patch, weights, acc + k * MVE_ROWS_PADDED);
            }
            mve_requantize_window(acc, bias, mult, shift, out, right_only);
        }
    }
}
#define MVE_MATRIX mve_matrix_pool
#else
#define MVE_MATRIX mve_matrix
#endif

/* scratch: the accumulators (MVE_SCRATCH_ACC_BYTES: one pixel's, fused with a pool a window's four pixels'),
 * then one gathered patch (MVE_COLS bytes, unused when every patch is read in place) */
MUNIFY_MVE_FN void munify_mve_matrix_s8(const int8_t *input, int8_t *output, int8_t *scratch, const int8_t *weights,
                                        const int32_t *bias, const int32_t *mult, const int32_t *shift)
{
#if MVE_PER_CHANNEL
    if (munify_mve_right_shifts_only(shift, MVE_ROWS)) {
        MVE_MATRIX(input, output, scratch, weights, bias, mult, shift, 1);
        return;
    }
#endif
    MVE_MATRIX(input, output, scratch, weights, bias, mult, shift, 0);
}

#endif
