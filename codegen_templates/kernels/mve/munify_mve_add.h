/* ADD with Helium, both inputs of the output's shape: 4 elements a step in int32 lanes (tail predicated).
 *
 * The layer source defines MVE_SIZE and the fields of toolchain.ir.arith.AddParams as MVE_IN1_OFFSET,
 * MVE_IN2_OFFSET, MVE_LEFT_SHIFT, MVE_IN1_MULT, MVE_IN1_SHIFT, MVE_IN2_MULT, MVE_IN2_SHIFT, MVE_OUT_MULT,
 * MVE_OUT_SHIFT, MVE_OUT_OFFSET, MVE_ACT_MIN, MVE_ACT_MAX. The output may be the first input (in place):
 * each step reads its elements before it writes them.
 */
#ifndef MUNIFY_MVE_ADD_H
#define MUNIFY_MVE_ADD_H

#include "munify_mve.h"

MUNIFY_MVE_FN int32x4_t mve_add_scaled(int32x4_t x, int32_t offset, int32_t multiplier, int32_t shift)
{
    return munify_mve_requantize_n(vshlq_n_s32(vaddq_n_s32(x, offset), MVE_LEFT_SHIFT), multiplier, shift);
}

MUNIFY_MVE_FN int32x4_t mve_add_lanes(int32x4_t a, int32x4_t b)
{
    const int32x4_t x1 = mve_add_scaled(a, MVE_IN1_OFFSET, MVE_IN1_MULT, MVE_IN1_SHIFT);
    const int32x4_t x2 = mve_add_scaled(b, MVE_IN2_OFFSET, MVE_IN2_MULT, MVE_IN2_SHIFT);
    const int32x4_t sum = munify_mve_requantize_n(vaddq_s32(x1, x2), MVE_OUT_MULT, MVE_OUT_SHIFT);
    return munify_mve_clamp(sum, MVE_OUT_OFFSET, MVE_ACT_MIN, MVE_ACT_MAX);
}

MUNIFY_MVE_FN void munify_mve_add_s8(const int8_t *a, const int8_t *b, int8_t *out)
{
    for (int32_t i = 0; i < MVE_SIZE / 4; ++i, a += 4, b += 4, out += 4) {
        vstrbq_s32(out, mve_add_lanes(vldrbq_s32(a), vldrbq_s32(b)));
    }
#if MVE_SIZE % 4
    const mve_pred16_t p = vctp32q(MVE_SIZE % 4);
    vstrbq_p_s32(out, mve_add_lanes(vldrbq_z_s32(a, p), vldrbq_z_s32(b, p)), p);
#endif
}

#endif
