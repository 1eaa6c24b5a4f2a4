/* munify generic kernel helpers: TFLite Micro integer arithmetic, bit-exact with toolchain.ir.arith.
 *
 * Requantization is MultiplyByQuantizedMultiplier with double rounding (the TFLM default). Wrapping int32
 * arithmetic goes through uint32_t so the C never relies on signed overflow.
 */
#ifndef MUNIFY_KERNELS_H
#define MUNIFY_KERNELS_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define MUNIFY_ALIGNED(n) __attribute__((aligned(n)))
#define MUNIFY_INLINE static inline __attribute__((always_inline))
#else
#define MUNIFY_ALIGNED(n)
#define MUNIFY_INLINE static inline
#endif

MUNIFY_INLINE int32_t munify_wrap_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* SaturatingRoundingDoublingHighMul: round(a * b / 2^31), INT32_MIN * INT32_MIN saturates.
 * TFLM writes (ab + (ab >= 0 ? 2^30 : 1 - 2^30)) / 2^31 with C division; for ab < 0 that truncation equals
 * the floor of (ab + 2^30) / 2^31, so one arithmetic shift serves both signs (gcc shifts arithmetically). */
MUNIFY_INLINE int32_t munify_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    return (int32_t)((ab + ((int64_t)1 << 30)) >> 31);
}

/* RoundingDivideByPOT: arithmetic right shift, rounding to nearest with ties away from zero. */
MUNIFY_INLINE int32_t munify_rdbpot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)((1u << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier(x, multiplier, shift): shift > 0 shifts left first, < 0 rounds right after.
 * Quantized multipliers are never negative (QuantizeMultiplier), so the high multiply cannot saturate. */
MUNIFY_INLINE int32_t munify_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int64_t product = (int64_t)(int32_t)((uint32_t)x << left) * (int64_t)multiplier;
    return munify_rdbpot((int32_t)((product + ((int64_t)1 << 30)) >> 31), right);
}

MUNIFY_INLINE int8_t munify_clamp(int32_t value, int32_t lo, int32_t hi)
{
    return (int8_t)(value < lo ? lo : (value > hi ? hi : value));
}

/* requantize + output offset + fused activation: one int8 output of a matrix op */
MUNIFY_INLINE int8_t munify_output(int32_t acc, int32_t multiplier, int32_t shift, int32_t offset, int32_t lo,
                                   int32_t hi)
{
    return munify_clamp(munify_requantize(acc, multiplier, shift) + offset, lo, hi);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent> for exponent > 0 */
MUNIFY_INLINE int32_t munify_saturating_left_shift(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1: Q0.31 in, Q0.31 out, three Newton-Raphson steps in Q2.29 */
static inline int32_t munify_one_over_one_plus_x(int32_t a)
{
    const int64_t total = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((total + (total >= 0 ? 1 : -1)) / 2);
    int32_t x = munify_wrap_add(1515870810, munify_srdhm(half_denominator, -1010580540));
    for (int i = 0; i < 3; i++) {
        const int32_t half_denominator_times_x = munify_srdhm(half_denominator, x);
        const int32_t one_minus = (int32_t)((uint32_t)(1 << 29) - (uint32_t)half_denominator_times_x);
        x = munify_wrap_add(x, munify_saturating_left_shift(munify_srdhm(x, one_minus), 2));
    }
    return munify_saturating_left_shift(x, 1);
}

/* leading zero bits of x > 0 */
MUNIFY_INLINE int32_t munify_clz(uint32_t x)
{
#if defined(__GNUC__)
    return (int32_t)__builtin_clz(x);
#else
    int32_t n = 0;
    while ((x & 0x80000000u) == 0u) {
        x <<= 1;
        n++;
    }
    return n;
#endif
}

/* TFLM GetReciprocal: 1/x = result * 2^-num_bits_over_unit, x > 0 with x_integer_bits integer bits */
static inline int32_t munify_reciprocal(int32_t x, int32_t x_integer_bits, int32_t *num_bits_over_unit)
{
    const int32_t headroom_plus_one = munify_clz((uint32_t)x);
    *num_bits_over_unit = x_integer_bits - headroom_plus_one;
    const uint32_t shifted = (uint32_t)x << headroom_plus_one;
    return munify_one_over_one_plus_x((int32_t)(shifted - (1u << 31)));
}

#endif
