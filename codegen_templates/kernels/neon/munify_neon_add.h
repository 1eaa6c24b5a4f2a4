/* munify NEON ADD kernel (both inputs of the output's shape), TFLite Micro integer_ops/add.h, bit-exact:
 * v_i = MBQM((x_i + offset_i) << left_shift, multiplier_i, shift_i); out = clamp(MBQM(v_1 + v_2) + offset).
 * 16 elements a step; the last size % 16 take the scalar helpers of munify_kernels.h. The output may be an
 * input (in place): each step loads before it stores.
 */
#ifndef MUNIFY_NEON_ADD_H
#define MUNIFY_NEON_ADD_H

#include "munify_kernels.h"
#include "munify_neon.h"

typedef struct {
    int32_t size;
    int32_t input1_offset, input2_offset, output_offset, left_shift;
    int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} munify_neon_add;

/* Four lanes of (x + offset) << left_shift, requantized by (multiplier, shift). */
MUNIFY_NEON_FN int32x4_t munify_neon_add_input(int16x4_t x, const munify_neon_add *p, int32_t multiplier,
                                               int32_t shift)
{
    const int32x4_t shifted = vshlq_s32(vmovl_s16(x), vdupq_n_s32(p->left_shift));
    return munify_neon_mbqm(shifted, vdupq_n_s32(multiplier), vdupq_n_s32(shift));
}

MUNIFY_NEON_FN int32x4_t munify_neon_add_output(int32x4_t v1, int32x4_t v2, const munify_neon_add *p)
{
    int32x4_t out = munify_neon_mbqm(vaddq_s32(v1, v2), vdupq_n_s32(p->output_multiplier),
                                     vdupq_n_s32(p->output_shift));
    out = vaddq_s32(out, vdupq_n_s32(p->output_offset));
    return vminq_s32(vmaxq_s32(out, vdupq_n_s32(p->act_min)), vdupq_n_s32(p->act_max));
}

/* Eight elements: int16 lanes of x + offset (|x + offset| <= 255) for both inputs. */
MUNIFY_NEON_FN int8x8_t munify_neon_add8(int16x8_t a, int16x8_t b, const munify_neon_add *p)
{
    const int32x4_t lo = munify_neon_add_output(
        munify_neon_add_input(vget_low_s16(a), p, p->input1_multiplier, p->input1_shift),
        munify_neon_add_input(vget_low_s16(b), p, p->input2_multiplier, p->input2_shift), p);
    const int32x4_t hi = munify_neon_add_output(
        munify_neon_add_input(vget_high_s16(a), p, p->input1_multiplier, p->input1_shift),
        munify_neon_add_input(vget_high_s16(b), p, p->input2_multiplier, p->input2_shift), p);
    return munify_neon_narrow8(lo, hi);
}

MUNIFY_NEON_FN void munify_neon_add_s8(const munify_neon_add *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    const int16x8_t offset1 = vdupq_n_s16((int16_t)p->input1_offset), offset2 = vdupq_n_s16((int16_t)p->input2_offset);
    int32_t i = 0;
    for (; i + 16 <= p->size; i += 16) {
        const int8x16_t x1 = vld1q_s8(a + i), x2 = vld1q_s8(b + i);
        const int8x8_t lo = munify_neon_add8(vaddw_s8(offset1, vget_low_s8(x1)), vaddw_s8(offset2, vget_low_s8(x2)), p);
        const int8x8_t hi = munify_neon_add8(vaddw_high_s8(offset1, x1), vaddw_high_s8(offset2, x2), p);
        vst1q_s8(out + i, vcombine_s8(lo, hi));
    }
    for (; i < p->size; ++i) {
        const int32_t x1 = (int32_t)((uint32_t)(a[i] + p->input1_offset) << p->left_shift);
        const int32_t x2 = (int32_t)((uint32_t)(b[i] + p->input2_offset) << p->left_shift);
        const int32_t sum = munify_requantize(x1, p->input1_multiplier, p->input1_shift)
                            + munify_requantize(x2, p->input2_multiplier, p->input2_shift);
        out[i] = munify_clamp(munify_requantize(sum, p->output_multiplier, p->output_shift) + p->output_offset,
                              p->act_min, p->act_max);
    }
}

#endif
