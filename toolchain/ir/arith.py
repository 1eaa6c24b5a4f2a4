"""TFLite Micro integer arithmetic, defined once for the reference executor and the code generator.

Two halves:
  * fixed-point primitives (gemmlowp / TFLM `common.h`, double-rounding flavour, the TFLM default), vectorized
    over numpy int64 arrays that hold int32 values;
  * per-op parameter derivation from the float32 scales, computed in double exactly as TFLM's Prepare
    functions do (`PopulateConvolutionQuantizationParams`, `CalculateOpDataAdd`, `CalculateSoftmaxParams`, ...).
    The code generator emits these very numbers, so the C kernels and the reference cannot drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import IRError
from .shapes import window_out

if TYPE_CHECKING:
    from .graph import Graph, Op, Tensor

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
INT8_MIN, INT8_MAX = -128, 127
ROUNDINGS = ("double", "single")  # MultiplyByQuantizedMultiplier flavours; TFLM uses "double"

ADD_LEFT_SHIFT = 20  # TFLM add_common.cc for int8 outputs
SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5  # softmax_common.cc kScaledDiffIntegerBits
SOFTMAX_ACCUMULATION_INTEGER_BITS = 12  # reference/softmax.h kAccumulationIntegerBits


# ---------------------------------------------------------------------------------------------------------
# Scalar rounding helpers that mirror C library behaviour

def round_half_away(x):
    """std::round / roundf: halves go away from zero (numpy's round goes to even)."""
    x = np.asarray(x)
    whole = np.trunc(x)
    frac = x - whole  # exact for binary floating point
    return whole + np.where(np.abs(frac) >= 0.5, np.sign(x), 0).astype(x.dtype)


def wrap_int32(x) -> np.ndarray:
    """Two's-complement wrap to int32, as the C int32 arithmetic of the kernels behaves on every target."""
    return ((np.asarray(x, dtype=np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def trunc_div(a, b) -> np.ndarray:
    """C integer division (rounds toward zero); numpy's // rounds toward minus infinity."""
    a = np.asarray(a, dtype=np.int64)
    q = np.abs(a) // b
    return np.where(a < 0, -q, q)


# ---------------------------------------------------------------------------------------------------------
# QuantizeMultiplier and friends (quantization_util.cc)

def quantize_multipliers(real) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized QuantizeMultiplier: double -> (int32 multiplier in Q0.31, int32 shift), real = m * 2^(shift-31).

    frexp, round half away from zero, renormalise when rounding reaches 2^31, flush multipliers below 2^-32
    to zero (shift 0). Positive shift means a left shift.
    """
    real = np.asarray(real, dtype=np.float64)
    fraction, shift = np.frexp(real)
    q_fixed = round_half_away(fraction * float(1 << 31)).astype(np.int64)
    shift = shift.astype(np.int64)
    carry = q_fixed == (1 << 31)
    q_fixed = np.where(carry, q_fixed // 2, q_fixed)
    shift = np.where(carry, shift + 1, shift)
    tiny = shift < -31
    q_fixed = np.where(tiny | (real == 0), 0, q_fixed)
    shift = np.where(tiny | (real == 0), 0, shift)
    return q_fixed.astype(np.int32), shift.astype(np.int32)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """Scalar QuantizeMultiplier(double) -> (multiplier, shift)."""
    m, s = quantize_multipliers(np.float64(real))
    return int(m), int(s)


def quantize_multiplier_smaller_than_one(real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: 0 < real < 1, shift <= 0."""
    if not 0.0 < real < 1.0:
        raise IRError(f"multiplier {real!r} must lie in (0, 1); check the tensor scales")
    return quantize_multiplier(real)


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    """QuantizeMultiplierGreaterThanOne: real > 1, shift >= 0."""
    if not real > 1.0:
        raise IRError(f"multiplier {real!r} must be greater than 1; check the tensor scales")
    return quantize_multiplier(real)


# ---------------------------------------------------------------------------------------------------------
# Fixed-point primitives (gemmlowp fixedpoint.h, TFLM common.h); int64 arrays holding int32 values

def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul (ARM VQRDMULH): round(a * b / 2^31), INT32_MIN * INT32_MIN saturates."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    overflow = (a == b) & (a == INT32_MIN)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = trunc_div(ab + nudge, 1 << 31)
    return np.where(overflow, INT32_MAX, high)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """RoundingDivideByPOT: arithmetic right shift rounding to nearest, ties away from zero."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def saturating_left_shift(x, exponent: int) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT<exponent> for exponent > 0 on int32 values."""
    x = np.asarray(x, dtype=np.int64)
    threshold = (1 << (31 - exponent)) - 1
    shifted = wrap_int32(x << exponent)
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, shifted))


def multiply_by_quantized_multiplier(x, multiplier, shift, rounding: str = "double") -> np.ndarray:
    """TFLM MultiplyByQuantizedMultiplier(int32 x, int32 m, int shift): x * m * 2^(shift - 31), rounded.

    "double" (TFLM and CMSIS-NN default): left shift (int32, wrapping) before the rounding high multiply,
    rounding right shift after. "single" (TFLITE_SINGLE_ROUNDING builds; LiteRT's int8 FULLY_CONNECTED):
    one 64-bit product, one rounding shift; ties round up. `multiplier` and `shift` broadcast against `x`
    (per-channel arrays run along the last axis).
    """
    x = np.asarray(x, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if rounding == "single":
        total_shift = 31 - shift
        return (x * np.asarray(multiplier, dtype=np.int64) + (np.int64(1) << (total_shift - 1))) >> total_shift
    if rounding != "double":
        raise ValueError(f"rounding must be one of {ROUNDINGS}, not {rounding!r}")
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(wrap_int32(x << left), multiplier), right)


def multiply_by_quantized_multiplier_greater_than_one(x, multiplier, left_shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplierGreaterThanOne: left shift then high multiply, no right shift."""
    shifted = wrap_int32(np.asarray(x, dtype=np.int64) << np.asarray(left_shift, dtype=np.int64))
    return saturating_rounding_doubling_high_mul(shifted, multiplier)


def rounding_half_sum(a, b) -> np.ndarray:
    """gemmlowp RoundingHalfSum for int32: (a + b) / 2 rounded, ties away from zero."""
    total = np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64)
    return trunc_div(total + np.where(total >= 0, 1, -1), 2)


def count_leading_zeros_u32(x) -> np.ndarray:
    """Leading zero bits of x viewed as uint32 (32 for 0)."""
    u = np.asarray(x, dtype=np.int64) & 0xFFFFFFFF
    _, bit_length = np.frexp(u.astype(np.float64))  # exact: u < 2^53
    return 32 - bit_length.astype(np.int64)


# ---------------------------------------------------------------------------------------------------------
# gemmlowp transcendental functions used by int8 softmax

_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535),
               (3, 720401), (4, 242))  # Q0.31 of exp(-2^k)


def _exp_on_interval_between_negative_one_quarter_and_0(a: np.ndarray) -> np.ndarray:
    """exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor expansion around -1/8."""
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = wrap_int32(a + (1 << 28))
    x2 = saturating_rounding_doubling_high_mul(x, x)
    x3 = saturating_rounding_doubling_high_mul(x2, x)
    x4 = saturating_rounding_doubling_high_mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = wrap_int32(saturating_rounding_doubling_high_mul(wrap_int32(x4_over_4 + x3), constant_1_over_3) + x2)
    poly = rounding_divide_by_pot(poly, 1)
    return wrap_int32(constant_term + saturating_rounding_doubling_high_mul(constant_term, wrap_int32(x + poly)))


def exp_on_negative_values(a, integer_bits: int) -> np.ndarray:
    """gemmlowp exp_on_negative_values: a in Q(integer_bits).(31-integer_bits), a <= 0 -> exp(a) in Q0.31."""
    a = np.asarray(a, dtype=np.int64)
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = wrap_int32((a & (one_quarter - 1)) - one_quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0(
        saturating_left_shift(a_mod_quarter_minus_one_quarter, integer_bits) if integer_bits > 0
        else a_mod_quarter_minus_one_quarter)
    remainder = wrap_int32(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = (remainder >> (fractional_bits + exponent)) & 1
            result = np.where(bit == 1, saturating_rounding_doubling_high_mul(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """gemmlowp: 1 / (1 + a) for a in [0, 1) in Q0.31, by three Newton-Raphson steps in Q2.29."""
    half_denominator = rounding_half_sum(a, INT32_MAX)
    x = wrap_int32(1515870810 + saturating_rounding_doubling_high_mul(half_denominator, -1010580540))
    one_q2 = 1 << 29
    for _ in range(3):
        half_denominator_times_x = saturating_rounding_doubling_high_mul(half_denominator, x)
        one_minus = wrap_int32(one_q2 - half_denominator_times_x)
        x = wrap_int32(x + saturating_left_shift(saturating_rounding_doubling_high_mul(x, one_minus), 2))
    return saturating_left_shift(x, 1)


def reciprocal(x, x_integer_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLM GetReciprocal: (Q0.31 scale, num_bits_over_unit) with 1/x = scale * 2^-num_bits_over_unit."""
    x = np.asarray(x, dtype=np.int64)
    headroom_plus_one = count_leading_zeros_u32(x)
    num_bits_over_unit = x_integer_bits - headroom_plus_one
    shifted = ((x & 0xFFFFFFFF) << headroom_plus_one) & 0xFFFFFFFF
    shifted_sum_minus_one = wrap_int32(shifted - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


# ---------------------------------------------------------------------------------------------------------
# Quantization helpers shared by the parameter functions

def _scale(t: Tensor) -> np.float32:
    if t.quant is None:
        raise IRError(f"tensor '{t.name}' has no quantization parameters; int8 ops need them")
    return np.float32(t.quant.scale[0])


def _zero_point(t: Tensor) -> int:
    if t.quant is None:
        raise IRError(f"tensor '{t.name}' has no quantization parameters; int8 ops need them")
    return int(t.quant.zero_point[0])


def _quantize_real(scale: np.float32, zero_point: int, value: float) -> int:
    """kernel_util.cc Quantize(): zero_point + roundf(value / scale), in float32."""
    return zero_point + int(round_half_away(np.float32(value) / scale))


def activation_range(activation: str, output: Tensor, qmin: int = INT8_MIN, qmax: int = INT8_MAX) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: the fused activation as a clamp in the output's integer domain."""
    scale, zp = _scale(output), _zero_point(output)
    if activation in (None, "NONE"):
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, _quantize_real(scale, zp, 0.0)), qmax
    if activation == "RELU6":
        return max(qmin, _quantize_real(scale, zp, 0.0)), min(qmax, _quantize_real(scale, zp, 6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, _quantize_real(scale, zp, -1.0)), min(qmax, _quantize_real(scale, zp, 1.0))
    raise IRError(f"fused activation '{activation}' is not supported (NONE, RELU, RELU6, RELU_N1_TO_1)")


def leading_padding(in_size: int, filter_size: int, stride: int, dilation: int, out: int) -> int:
    """TFLite ComputePaddingWithOffset: padding before the data (the extra odd pixel goes after)."""
    effective = (filter_size - 1) * dilation + 1
    return max((out - 1) * stride + effective - in_size, 0) // 2


def _window_geometry(op: Op, in_shape, out_shape, filter_hw, dilation) -> tuple[int, int]:
    """(pad_top, pad_left) for a windowed op, after checking the output shape TFLite would compute."""
    stride = op.attr("stride")
    padding = op.attr("padding")
    pads = []
    for axis in (0, 1):
        expected = window_out(padding, in_shape[1 + axis], filter_hw[axis], stride[axis], dilation[axis])
        if expected != out_shape[1 + axis]:
            raise IRError(f"op '{op.name}' ({op.type}): output {'height' if axis == 0 else 'width'} is "
                          f"{out_shape[1 + axis]}, {padding} padding gives {expected}; re-import the model")
        pads.append(leading_padding(in_shape[1 + axis], filter_hw[axis], stride[axis], dilation[axis],
                                    expected))
    return pads[0], pads[1]


def _requantize_per_channel(input_scale: np.float32, filter_scales: np.ndarray, output_scale: np.float32,
                            channels: int) -> tuple[np.ndarray, np.ndarray]:
    """PopulateConvolutionQuantizationParams: in double, input_scale * filter_scale / output_scale."""
    scales = np.asarray(filter_scales, dtype=np.float32).astype(np.float64)
    if len(scales) == 1:
        scales = np.repeat(scales, channels)
    effective = np.float64(input_scale) * scales / np.float64(output_scale)
    return quantize_multipliers(effective)


# ---------------------------------------------------------------------------------------------------------
# Per-op parameters

@dataclass(frozen=True, eq=False)
class ConvParams:
    """CONV_2D / DEPTHWISE_CONV_2D.

    acc[oc] = bias[oc] + sum filter * (input + input_offset) over in-bounds taps (padding contributes 0);
    out = clamp(MultiplyByQuantizedMultiplier(acc, multipliers[oc], shifts[oc]) + output_offset, act_min, act_max).
    """

    input_offset: int  # -input zero point
    output_offset: int  # output zero point
    multipliers: np.ndarray  # int32 [out_channels], Q0.31
    shifts: np.ndarray  # int32 [out_channels], > 0 shifts left, < 0 rounds right
    act_min: int
    act_max: int
    stride: tuple[int, int]  # (h, w)
    dilation: tuple[int, int]  # (h, w)
    pad_top: int
    pad_left: int
    depth_multiplier: int = 1  # DEPTHWISE_CONV_2D only: output channel = input channel * M + m


@dataclass(frozen=True, eq=False)
class FullyConnectedParams:
    """FULLY_CONNECTED over the input flattened to [batches, in] with in = weight.shape[1].

    acc[o] = bias[o] + sum (filter + weights_offset) * (input + input_offset); requantized as for conv.
    With per-tensor weights all multipliers/shifts are equal; they are still given per output channel so
    every kernel can index them the same way.
    """

    input_offset: int
    weights_offset: int  # -filter zero point (0 for symmetric int8)
    output_offset: int
    multipliers: np.ndarray  # int32 [out]
    shifts: np.ndarray  # int32 [out]
    act_min: int
    act_max: int
    per_channel: bool  # False: all multipliers/shifts are equal


@dataclass(frozen=True, eq=False)
class PoolParams:
    """AVERAGE_POOL_2D / MAX_POOL_2D. Input and output share one quantization; no zero-point arithmetic.

    Average: acc = sum of the valid (unpadded) taps, count = their number,
    out = clamp((acc > 0 ? acc + count/2 : acc - count/2) / count) with C division (toward zero).
    """

    filter: tuple[int, int]  # (h, w)
    stride: tuple[int, int]
    pad_top: int
    pad_left: int
    act_min: int
    act_max: int


@dataclass(frozen=True, eq=False)
class AddParams:
    """ADD (add_common.cc, integer_ops/add.h), with broadcasting.

    v_i = MulByQM((input_i + input_i_offset) << left_shift, input_i_multiplier, input_i_shift);
    out = clamp(MulByQM(v_1 + v_2, output_multiplier, output_shift) + output_offset, act_min, act_max).
    """

    input1_offset: int
    input2_offset: int
    output_offset: int
    left_shift: int
    input1_multiplier: int
    input1_shift: int  # <= 0
    input2_multiplier: int
    input2_shift: int  # <= 0
    output_multiplier: int
    output_shift: int  # <= 0
    act_min: int
    act_max: int


@dataclass(frozen=True, eq=False)
class MulParams:
    """MUL (mul_common.cc, integer_ops/mul.h), with broadcasting.

    out = clamp(MulByQM((in1 + input1_offset) * (in2 + input2_offset), output_multiplier, output_shift)
                + output_offset, act_min, act_max).
    """

    input1_offset: int
    input2_offset: int
    output_offset: int
    output_multiplier: int
    output_shift: int
    act_min: int
    act_max: int


@dataclass(frozen=True, eq=False)
class SoftmaxParams:
    """SOFTMAX int8 -> int8 (softmax_common.cc, reference/softmax.h) along the last axis.

    diff = x - max(row); taps with diff < diff_min give -128; the others are scaled by
    MultiplyByQuantizedMultiplierGreaterThanOne(diff, input_multiplier, input_left_shift) into Q5.26 and fed
    to gemmlowp's exp_on_negative_values.
    """

    input_multiplier: int
    input_left_shift: int
    diff_min: int


@dataclass(frozen=True, eq=False)
class PadParams:
    """PAD: constant padding with `pad_value` (the output zero point unless a constant input is given)."""

    paddings: tuple[tuple[int, int], ...]  # (before, after) per dimension
    pad_value: int


def _tensors(graph: Graph, op: Op) -> tuple[list[Tensor | None], Tensor]:
    return graph.op_inputs(op), graph.tensor(op.outputs[0])


def _check_int8(op: Op, *tensors: Tensor) -> None:
    for t in tensors:
        if t.dtype != "int8":
            raise IRError(f"op '{op.name}' ({op.type}): tensor '{t.name}' is {t.dtype}; only int8 is supported")


def conv_params(graph: Graph, op: Op) -> ConvParams:
    """CONV_2D and DEPTHWISE_CONV_2D, as TFLM's CalculateOpDataConv / CalculateOpDataDepthwiseConv."""
    inputs, y = _tensors(graph, op)
    x, w = inputs[0], inputs[1]
    _check_int8(op, x, w, y)
    if op.type == "CONV_2D":
        channels, filter_hw = w.shape[0], (w.shape[1], w.shape[2])
    else:
        channels, filter_hw = w.shape[3], (w.shape[1], w.shape[2])
    if w.quant is None:
        raise IRError(f"op '{op.name}': weight '{w.name}' has no quantization parameters")
    dilation = tuple(op.attr("dilation"))
    pad_top, pad_left = _window_geometry(op, x.shape, y.shape, filter_hw, dilation)
    multipliers, shifts = _requantize_per_channel(_scale(x), w.quant.scale, _scale(y), channels)
    act_min, act_max = activation_range(op.attr("activation"), y)
    return ConvParams(
        input_offset=-_zero_point(x), output_offset=_zero_point(y), multipliers=multipliers, shifts=shifts,
        act_min=act_min, act_max=act_max, stride=tuple(op.attr("stride")), dilation=dilation,
        pad_top=pad_top, pad_left=pad_left,
        depth_multiplier=int(op.attr("depth_multiplier")) if op.type == "DEPTHWISE_CONV_2D" else 1)


def fc_params(graph: Graph, op: Op) -> FullyConnectedParams:
    """FULLY_CONNECTED, as TFLM's CalculateOpDataFullyConnected."""
    inputs, y = _tensors(graph, op)
    x, w = inputs[0], inputs[1]
    _check_int8(op, x, w, y)
    if w.quant is None:
        raise IRError(f"op '{op.name}': weight '{w.name}' has no quantization parameters")
    # Per-tensor weights too take the double product input_scale * filter_scale: the TFLite Micro we verify
    # against does (a float32 product, as in older GetQuantizedConvolutionMultipler, differs from it on
    # rounding ties: 1 of 96000 AD01 outputs over 150 full-range inputs).
    multipliers, shifts = _requantize_per_channel(_scale(x), w.quant.scale, _scale(y), w.shape[0])
    act_min, act_max = activation_range(op.attr("activation"), y)
    return FullyConnectedParams(
        input_offset=-_zero_point(x), weights_offset=-int(w.quant.zero_point[0]), output_offset=_zero_point(y),
        multipliers=multipliers, shifts=shifts, act_min=act_min, act_max=act_max,
        per_channel=len(w.quant.scale) > 1)


def pool_params(graph: Graph, op: Op) -> PoolParams:
    """AVERAGE_POOL_2D / MAX_POOL_2D, as TFLM's CalculateOpDataPooling + pooling Prepare."""
    (x, *_), y = _tensors(graph, op)
    _check_int8(op, x, y)
    if abs(float(_scale(x)) - float(_scale(y))) > 1e-6 or _zero_point(x) != _zero_point(y):
        raise IRError(f"op '{op.name}' ({op.type}): input and output quantization differ; TFLite Micro "
                      "requires them equal")
    filter_hw = tuple(op.attr("filter"))
    pad_top, pad_left = _window_geometry(op, x.shape, y.shape, filter_hw, (1, 1))
    act_min, act_max = activation_range(op.attr("activation"), y)
    return PoolParams(filter=filter_hw, stride=tuple(op.attr("stride")), pad_top=pad_top, pad_left=pad_left,
                      act_min=act_min, act_max=act_max)


def add_params(graph: Graph, op: Op) -> AddParams:
    """ADD, as TFLM's CalculateOpDataAdd (int8 output: left_shift 20)."""
    (a, b, *_), y = _tensors(graph, op)
    _check_int8(op, a, b, y)
    scale_a, scale_b, scale_y = _scale(a), _scale(b), _scale(y)
    twice_max_input_scale = 2.0 * np.float64(max(scale_a, scale_b))
    m1, s1 = quantize_multiplier_smaller_than_one(np.float64(scale_a) / twice_max_input_scale)
    m2, s2 = quantize_multiplier_smaller_than_one(np.float64(scale_b) / twice_max_input_scale)
    mo, so = quantize_multiplier_smaller_than_one(
        twice_max_input_scale / ((1 << ADD_LEFT_SHIFT) * np.float64(scale_y)))
    act_min, act_max = activation_range(op.attr("activation"), y)
    return AddParams(
        input1_offset=-_zero_point(a), input2_offset=-_zero_point(b), output_offset=_zero_point(y),
        left_shift=ADD_LEFT_SHIFT, input1_multiplier=m1, input1_shift=s1, input2_multiplier=m2, input2_shift=s2,
        output_multiplier=mo, output_shift=so, act_min=act_min, act_max=act_max)


def mul_params(graph: Graph, op: Op) -> MulParams:
    """MUL, as TFLM's CalculateOpDataMul."""
    (a, b, *_), y = _tensors(graph, op)
    _check_int8(op, a, b, y)
    real = np.float64(_scale(a)) * np.float64(_scale(b)) / np.float64(_scale(y))
    m, s = quantize_multiplier(real)
    act_min, act_max = activation_range(op.attr("activation"), y)
    return MulParams(input1_offset=-_zero_point(a), input2_offset=-_zero_point(b), output_offset=_zero_point(y),
                     output_multiplier=m, output_shift=s, act_min=act_min, act_max=act_max)


def softmax_params(graph: Graph, op: Op) -> SoftmaxParams:
    """SOFTMAX int8 -> int8, as TFLM's CalculateSoftmaxParams (PreprocessSoftmaxScaling, CalculateInputRadius)."""
    (x, *_), y = _tensors(graph, op)
    _check_int8(op, x, y)
    if _zero_point(y) != -128 or _scale(y) != np.float32(1.0 / 256):
        raise IRError(f"op '{op.name}' (SOFTMAX): int8 output must have scale 1/256 and zero point -128 "
                      f"(has {float(_scale(y))}, {_zero_point(y)}); re-quantize the model")
    integer_bits = SOFTMAX_SCALED_DIFF_INTEGER_BITS
    beta = np.float64(np.float32(op.attr("beta")))
    real = min(beta * np.float64(_scale(x)) * float(1 << (31 - integer_bits)), float((1 << 31) - 1))
    multiplier, left_shift = quantize_multiplier_greater_than_one(real)
    max_input_rescaled = 1.0 * ((1 << integer_bits) - 1) * float(1 << (31 - integer_bits)) / float(1 << left_shift)
    return SoftmaxParams(input_multiplier=multiplier, input_left_shift=left_shift,
                         diff_min=-int(math.floor(max_input_rescaled)))


def pad_params(graph: Graph, op: Op) -> PadParams:
    """PAD / PADV2: paddings from the constant int32 [rank, 2] input; pad value = output zero point or input 2."""
    inputs, y = _tensors(graph, op)
    x, paddings = inputs[0], inputs[1] if len(inputs) > 1 else None
    _check_int8(op, x, y)
    if paddings is None or paddings.data is None:
        raise IRError(f"op '{op.name}' (PAD): paddings must be a constant tensor")
    pads = np.asarray(paddings.data, dtype=np.int64).reshape(-1, 2)
    if pads.shape[0] != len(x.shape) or np.any(pads < 0):
        raise IRError(f"op '{op.name}' (PAD): paddings {pads.tolist()} do not fit input shape {x.shape}")
    expected = tuple(int(d + p.sum()) for d, p in zip(x.shape, pads))
    if expected != tuple(y.shape):
        raise IRError(f"op '{op.name}' (PAD): output shape {y.shape} differs from padded shape {expected}")
    constant = inputs[2] if len(inputs) > 2 else None
    if constant is not None and constant.data is not None:
        pad_value = int(np.asarray(constant.data).reshape(-1)[0])
    else:
        pad_value = _zero_point(y)
    return PadParams(paddings=tuple((int(b), int(a)) for b, a in pads), pad_value=pad_value)
