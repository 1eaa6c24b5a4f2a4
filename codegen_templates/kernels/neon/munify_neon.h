/* munify NEON kernels for AArch64 (Armv8-A Advanced SIMD; SDOT where the board has dotprod).
 *
 * int8 in / int8 out, int32 accumulators, TFLite Micro requantization bit-exact with toolchain.ir.reference:
 * SaturatingRoundingDoublingHighMul is SQRDMULH, RoundingDivideByPOT is SRSHL after adding -1 to negative
 * values (gemmlowp's NEON fixup). Biases arrive with the input offset folded in, so every kernel multiplies the
 * raw int8 inputs and padding taps read the input zero point. Weights are packed by
 * toolchain.plan.kernels.neon.kernels.
 *
 * Header-only (static functions), included by the layer sources the Jinja2 templates beside it render.
 */
#ifndef MUNIFY_NEON_H
#define MUNIFY_NEON_H

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#if !defined(__ARM_NEON) || !defined(__aarch64__)
#error "munify NEON kernels need an AArch64 target with Advanced SIMD"
#endif

/* n rounded up to a multiple of m (constant expressions in the layer sources) */
#define MUNIFY_NEON_ROUND_UP(n, m) (((n) + (m) - 1) / (m) * (m))

#define MUNIFY_NEON_FN __attribute__((unused)) static inline __attribute__((always_inline))

/* Requantization of one layer: output = clamp(MBQM(acc, multiplier[c], shift[c]) + output_offset). */
typedef struct {
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
    const int32_t *multiplier; /* per output channel, or one entry */
    const int32_t *shift;      /* TFLite convention: > 0 shifts left */
    int32_t per_channel;
} munify_neon_quant;

/* n (< 4 allowed) int32 values, the rest 0: loads that never read past an array. */
MUNIFY_NEON_FN int32x4_t munify_neon_load_s32(const int32_t *p, int32_t n)
{
    if (n >= 4) {
        return vld1q_s32(p);
    }
    int32_t tmp[4] = {0, 0, 0, 0};
    memcpy(tmp, p, (size_t)n * sizeof tmp[0]);
    return vld1q_s32(tmp);
}

MUNIFY_NEON_FN int8x8_t munify_neon_load_s8x8(const int8_t *p, int32_t n)
{
    if (n >= 8) {
        return vld1_s8(p);
    }
    int8_t tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(tmp, p, (size_t)n);
    return vld1_s8(tmp);
}

MUNIFY_NEON_FN void munify_neon_store_s8x8(int8_t *p, int8x8_t v, int32_t n)
{
    if (n >= 8) {
        vst1_s8(p, v);
        return;
    }
    int8_t tmp[8];
    vst1_s8(tmp, v);
    for (int32_t i = 0; i < n; ++i) {
        p[i] = tmp[i];
    }
}

/* MultiplyByQuantizedMultiplier of 4 accumulators: the left shift wraps like TFLM's, SQRDMULH is
 * SaturatingRoundingDoublingHighMul, and SRSHL rounds half up, so negative values first lose 1 (saturating)
 * to round half away from zero like RoundingDivideByPOT. */
MUNIFY_NEON_FN int32x4_t munify_neon_mbqm(int32x4_t acc, int32x4_t multiplier, int32x4_t shift)
{
    const int32x4_t zero = vdupq_n_s32(0);
    const int32x4_t right = vminq_s32(shift, zero); /* minus the right shift */
    const int32x4_t high = vqrdmulhq_s32(vshlq_s32(acc, vmaxq_s32(shift, zero)), multiplier);
    const int32x4_t fixup = vshrq_n_s32(vandq_s32(high, right), 31);
    return vrshlq_s32(vqaddq_s32(high, fixup), right);
}

/* Requantized, offset and clamped outputs of channels c .. c + 3 (entries past `channels` are not read). */
MUNIFY_NEON_FN int32x4_t munify_neon_output4(int32x4_t acc, const munify_neon_quant *q, int32_t c,
                                             int32_t channels)
{
    int32x4_t multiplier, shift;
    if (q->per_channel) {
        multiplier = munify_neon_load_s32(q->multiplier + c, channels - c);
        shift = munify_neon_load_s32(q->shift + c, channels - c);
    } else {
        multiplier = vdupq_n_s32(q->multiplier[0]);
        shift = vdupq_n_s32(q->shift[0]);
    }
    int32x4_t out = vaddq_s32(munify_neon_mbqm(acc, multiplier, shift), vdupq_n_s32(q->output_offset));
    out = vmaxq_s32(out, vdupq_n_s32(q->act_min));
    return vminq_s32(out, vdupq_n_s32(q->act_max));
}

/* 8 clamped int32 outputs (inside int8 already) narrowed to int8. */
MUNIFY_NEON_FN int8x8_t munify_neon_narrow8(int32x4_t lo, int32x4_t hi)
{
    return vmovn_s16(vcombine_s16(vmovn_s32(lo), vmovn_s32(hi)));
}

/* out[c] for c < channels from int32 accumulators, 8 at a time. */
MUNIFY_NEON_FN void munify_neon_output_run(const int32_t *acc, const munify_neon_quant *q, int32_t channels,
                                           int8_t *out)
{
    for (int32_t c = 0; c < channels; c += 8) {
        int32x4_t lo = munify_neon_output4(munify_neon_load_s32(acc + c, channels - c), q, c, channels);
        int32x4_t hi = vdupq_n_s32(0);
        if (channels - c > 4) {
            hi = munify_neon_output4(munify_neon_load_s32(acc + c + 4, channels - c - 4), q, c + 4, channels);
        }
        munify_neon_store_s8x8(out + c, munify_neon_narrow8(lo, hi), channels - c);
    }
}

/* n bytes, 16 and 8 at a time (no library call for the short copies of a patch; never reads past src + n) */
MUNIFY_NEON_FN void munify_neon_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 16; n -= 16, src += 16, dst += 16) {
        vst1q_s8(dst, vld1q_s8(src));
    }
    if (n >= 8) {
        vst1_s8(dst, vld1_s8(src));
        n -= 8, src += 8, dst += 8;
    }
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
}

MUNIFY_NEON_FN void munify_neon_fill(int8_t *dst, int8_t value, int32_t n)
{
    const int8x16_t v = vdupq_n_s8(value);
    for (; n >= 16; n -= 16, dst += 16) {
        vst1q_s8(dst, v);
    }
    for (; n > 0; --n) {
        *dst++ = value;
    }
}

/* Convolution geometry shared by the matrix kernels (FULLY_CONNECTED is a 1x1 convolution over in_w = batch
 * pixels) and the depthwise kernel. */
typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t pad_value; /* input zero point */
    int32_t pointwise; /* 1x1, no padding: the input pixel is the column */
    int32_t depth;     /* reduction length padded to the kernel's step (16), the packed row length */
} munify_neon_window;

/* The column of output pixel (oy, ox): `depth` readable bytes, of which the first kernel_h * kernel_w * in_c
 * are the patch (padding taps hold the zero point); the weights are zero past that, so the rest is don't-care.
 * Straight from the input when pointwise and the read stays inside the image, else gathered into `im2col`. */
MUNIFY_NEON_FN const int8_t *munify_neon_patch(const munify_neon_window *w, const int8_t *image, int32_t oy,
                                              int32_t ox, int8_t *im2col)
{
    const int32_t iy0 = oy * w->stride_h - w->pad_top;
    const int32_t ix0 = ox * w->stride_w - w->pad_left;
    if (w->pointwise) {
        const int32_t at = (iy0 * w->in_w + ix0) * w->in_c;
        if (at + w->depth <= w->in_h * w->in_w * w->in_c) {
            return image + at;
        }
        munify_neon_copy(im2col, image + at, w->in_c);
        return im2col;
    }
    int8_t *dst = im2col;
    const int32_t row_bytes = w->kernel_w * w->in_c;
    const int32_t whole_rows = w->dilation_w == 1 && ix0 >= 0 && ix0 + w->kernel_w <= w->in_w;
    for (int32_t ky = 0; ky < w->kernel_h; ++ky) {
        const int32_t iy = iy0 + ky * w->dilation_h;
        if (iy < 0 || iy >= w->in_h) {
            munify_neon_fill(dst, (int8_t)w->pad_value, row_bytes);
            dst += row_bytes;
        } else if (whole_rows) {
            munify_neon_copy(dst, image + (iy * w->in_w + ix0) * w->in_c, row_bytes);
            dst += row_bytes;
        } else {
            for (int32_t kx = 0; kx < w->kernel_w; ++kx, dst += w->in_c) {
                const int32_t ix = ix0 + kx * w->dilation_w;
                if (ix < 0 || ix >= w->in_w) {
                    munify_neon_fill(dst, (int8_t)w->pad_value, w->in_c);
                } else {
                    munify_neon_copy(dst, image + (iy * w->in_w + ix) * w->in_c, w->in_c);
                }
            }
        }
    }
    return im2col;
}

/* Sum of 4 lanes of each of a0..a3 -> lanes 0..3. */
MUNIFY_NEON_FN int32x4_t munify_neon_reduce4(int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3)
{
    return vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
}

#endif
