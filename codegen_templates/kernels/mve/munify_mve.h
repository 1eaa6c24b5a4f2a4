/* munify Helium (MVE) kernels for the Cortex-M55: shared pieces.
 *
 * Every kernel is int8 in / int8 out with int32 accumulators and the TFLite Micro requantization
 * (MultiplyByQuantizedMultiplier, double rounding), bit-exact with toolchain.ir.reference. Biases arrive
 * with the input offset folded in, so kernels multiply raw int8 inputs and padding reads the input zero point.
 * The layer sources (one translation unit per layer) define the layer's constants as macros before they
 * include a kernel header, so every loop bound and step is a compile-time constant.
 */
#ifndef MUNIFY_MVE_H
#define MUNIFY_MVE_H

#include <stdint.h>
#include <string.h>

#include <arm_mve.h>

#if !defined(__ARM_FEATURE_MVE)
#error "munify MVE kernels need a core with Helium (-mcpu=cortex-m55)"
#endif

#define MUNIFY_MVE_FN __attribute__((unused)) static inline
/* for functions whose constant arguments select their code path */
#define MUNIFY_MVE_INLINE __attribute__((unused, always_inline)) static inline

/* RoundingDivideByPOT of every lane by -neg_right (neg_right <= 0): VRSHL rounds ties up, so negative
 * lanes step down by one first when there is a shift (ties away from zero, as gemmlowp). */
MUNIFY_MVE_FN int32x4_t munify_mve_rdbpot(int32x4_t x, int32x4_t neg_right)
{
    const int32x4_t fixup = vshrq_n_s32(vandq_s32(x, neg_right), 31);
    return vrshlq_s32(vqaddq_s32(x, fixup), neg_right);
}

/* MultiplyByQuantizedMultiplier per lane: shift > 0 shifts left (wrapping) before the high multiply,
 * shift < 0 rounds right after it. VQRDMULH is SaturatingRoundingDoublingHighMul exactly. */
MUNIFY_MVE_FN int32x4_t munify_mve_requantize(int32x4_t acc, int32x4_t multiplier, int32x4_t shift)
{
    const int32x4_t zero = vdupq_n_s32(0);
    const int32x4_t high = vqrdmulhq_s32(vshlq_s32(acc, vmaxq_s32(shift, zero)), multiplier);
    return munify_mve_rdbpot(high, vminq_s32(shift, zero));
}

/* MultiplyByQuantizedMultiplier by one multiplier and shift (compile-time constants fold the branches) */
MUNIFY_MVE_FN int32x4_t munify_mve_requantize_n(int32x4_t acc, int32_t multiplier, int32_t shift)
{
    if (shift > 0) {
        acc = vshlq_r_s32(acc, shift);
    }
    acc = vqrdmulhq_n_s32(acc, multiplier);
    if (shift < 0) {
        acc = vrshlq_n_s32(vqaddq_s32(acc, vshrq_n_s32(acc, 31)), shift);
    }
    return acc;
}

/* output offset and the fused activation of requantized lanes; the result fits int8 */
MUNIFY_MVE_FN int32x4_t munify_mve_clamp(int32x4_t out, int32_t offset, int32_t act_min, int32_t act_max)
{
    out = vaddq_n_s32(out, offset);
    return vminq_s32(vmaxq_s32(out, vdupq_n_s32(act_min)), vdupq_n_s32(act_max));
}

/* requantization, output offset and the fused activation; the result fits int8 */
MUNIFY_MVE_FN int32x4_t munify_mve_output(int32x4_t acc, int32x4_t multiplier, int32x4_t shift, int32_t offset,
                                          int32_t act_min, int32_t act_max)
{
    return munify_mve_clamp(munify_mve_requantize(acc, multiplier, shift), offset, act_min, act_max);
}

/* Per-channel requantization when every shift is negative (the common case): no left shift, and the
 * rounding right shift of VRSHL by the negative shift after negative lanes step down by one. */
MUNIFY_MVE_FN int32x4_t munify_mve_requantize_right(int32x4_t acc, int32x4_t multiplier, int32x4_t shift)
{
    const int32x4_t high = vqrdmulhq_s32(acc, multiplier);
    return vrshlq_s32(vqaddq_s32(high, vshrq_n_s32(high, 31)), shift);
}

/* 1 when every one of the n shifts is negative (munify_mve_requantize_right applies) */
MUNIFY_MVE_FN int32_t munify_mve_right_shifts_only(const int32_t *shift, int32_t n)
{
    int32_t all = 1;
    for (int32_t i = 0; i < n; ++i) {
        all &= shift[i] < 0;
    }
    return all;
}

MUNIFY_MVE_FN int32x4_t munify_mve_lanes(int32_t a0, int32_t a1, int32_t a2, int32_t a3)
{
    int32x4_t v = vdupq_n_s32(a0);
    v = vsetq_lane_s32(a1, v, 1);
    v = vsetq_lane_s32(a2, v, 2);
    return vsetq_lane_s32(a3, v, 3);
}

/* n bytes of value at dst: a tail-predicated loop (WLSTP/LETP) of one store per 16 bytes */
MUNIFY_MVE_FN void munify_mve_fill(int8_t *dst, int8_t value, int32_t n)
{
    const int8x16_t v = vdupq_n_s8(value);
    __asm volatile("wlstp.8  lr, %[n], 2f\n\t"
                   "1:\n\t"
                   "vstrb.8  %q[v], [%[dst]], #16\n\t"
                   "letp     lr, 1b\n\t"
                   "2:"
                   : [dst] "+r"(dst)
                   : [n] "r"(n), [v] "w"(v)
                   : "lr", "memory");
}

/* n bytes from src to dst: a tail-predicated loop of one load and one store per 16 bytes */
MUNIFY_MVE_FN void munify_mve_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    __asm volatile("wlstp.8  lr, %[n], 2f\n\t"
                   "1:\n\t"
                   "vldrb.8  q0, [%[src]], #16\n\t"
                   "vstrb.8  q0, [%[dst]], #16\n\t"
                   "letp     lr, 1b\n\t"
                   "2:"
                   : [dst] "+r"(dst), [src] "+r"(src)
                   : [n] "r"(n)
                   : "lr", "q0", "memory");
}

#endif
