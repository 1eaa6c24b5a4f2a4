"""The reference executor's kernels: one numpy function per op type with TFLite Micro's integer semantics.

Each takes (graph, op, values, rounding) and returns the op's int8 output; `toolchain.ir.ops` names the kernel
of every op type and `toolchain.ir.reference` runs them. Integer parameters come from `toolchain.ir.arith`
(the code generator uses the same functions). Matrix products run in float64: every operand is a small
integer and every partial sum stays far below 2^53, so BLAS returns the exact integer accumulator whatever
order it sums in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import MunifyError
from . import arith

if TYPE_CHECKING:
    from .graph import Graph, Op

Values = dict[str, np.ndarray]


def _activation(graph: Graph, name: str, values: Values) -> np.ndarray:
    """An op input: a computed activation or a constant tensor."""
    if name in values:
        return values[name]
    t = graph.tensor(name)
    if t.data is None:
        raise MunifyError(f"tensor '{name}' is read before any op produced it")
    return t.data


def _bias(graph: Graph, op: Op, channels: int) -> np.ndarray:
    if len(op.inputs) < 3 or not op.inputs[2]:
        return np.zeros(channels, np.int64)
    return graph.tensor(op.inputs[2]).data.astype(np.int64).reshape(-1)


def _requantize(acc: np.ndarray, p, rounding: str) -> np.ndarray:
    """int32 accumulator -> int8 with the per-channel multipliers/shifts, offset and clamp of `p`."""
    acc = arith.wrap_int32(acc)  # the C accumulator is int32
    scaled = arith.multiply_by_quantized_multiplier(acc, p.multipliers, p.shifts, rounding) + p.output_offset
    return np.clip(scaled, p.act_min, p.act_max).astype(np.int8)


# ---------------------------------------------------------------------------------------------------------
# Windows: an op over kernel taps is a loop over (ky, kx) of strided views into a padded input

def _padded(x: np.ndarray, out_hw, window, stride, dilation, pad_top: int, pad_left: int, fill) -> np.ndarray:
    """Pad NHWC `x` so that every tap of every output position is in bounds."""
    pads = []
    for axis, pad_before in ((0, pad_top), (1, pad_left)):
        span = (out_hw[axis] - 1) * stride[axis] + (window[axis] - 1) * dilation[axis] + 1
        pads.append((pad_before, max(span - x.shape[1 + axis] - pad_before, 0)))
    return np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=fill)


def _taps(padded: np.ndarray, out_hw, window, stride, dilation):
    """Yield ((ky, kx), view [N, OH, OW, C]) for each kernel tap."""
    oh, ow = out_hw
    for ky in range(window[0]):
        y0 = ky * dilation[0]
        for kx in range(window[1]):
            x0 = kx * dilation[1]
            yield (ky, kx), padded[:, y0:y0 + (oh - 1) * stride[0] + 1:stride[0],
                                   x0:x0 + (ow - 1) * stride[1] + 1:stride[1], :]


# ---------------------------------------------------------------------------------------------------------
# Kernels

_IM2COL_BUDGET = 1 << 22  # float64 elements of one im2col matrix (32 MB); batches are cut to fit


def _im2col(padded: np.ndarray, out_hw, window, stride, dilation) -> np.ndarray:
    """[N*OH*OW, KH*KW*C] patches, taps in (ky, kx, c) order like the CONV_2D filter [O, KH, KW, C]."""
    columns = np.concatenate([tap for _, tap in _taps(padded, out_hw, window, stride, dilation)], axis=-1)
    return columns.reshape(-1, columns.shape[-1])


def conv2d(graph: Graph, op: Op, values: Values, rounding: str) -> np.ndarray:
    p = arith.conv_params(graph, op)
    x = _activation(graph, op.inputs[0], values).astype(np.float64) + p.input_offset
    w = graph.tensor(op.inputs[1]).data
    out_shape = graph.tensor(op.outputs[0]).shape
    if w.shape[3] != x.shape[3]:
        raise MunifyError(f"op '{op.name}' (CONV_2D): grouped convolution ({x.shape[3]} input channels, filter "
                          f"depth {w.shape[3]}) is not supported")
    out_hw, window = out_shape[1:3], w.shape[1:3]
    padded = _padded(x, out_hw, window, p.stride, p.dilation, p.pad_top, p.pad_left, 0)  # 0 == zero point
    weights = w.reshape(w.shape[0], -1).astype(np.float64)
    images_per_chunk = max(1, _IM2COL_BUDGET // (out_hw[0] * out_hw[1] * weights.shape[1]))
    acc = np.concatenate([
        _im2col(padded[i:i + images_per_chunk], out_hw, window, p.stride, p.dilation) @ weights.T
        for i in range(0, padded.shape[0], images_per_chunk)])
    acc = acc.astype(np.int64).reshape(out_shape) + _bias(graph, op, w.shape[0])
    return _requantize(acc, p, rounding)


def depthwise_conv2d(graph: Graph, op: Op, values: Values, rounding: str) -> np.ndarray:
    p = arith.conv_params(graph, op)
    x = _activation(graph, op.inputs[0], values).astype(np.int64) + p.input_offset
    w = graph.tensor(op.inputs[1]).data.astype(np.int64)  # [1, KH, KW, C*M]
    out_shape = graph.tensor(op.outputs[0]).shape
    if w.shape[3] != x.shape[3] * p.depth_multiplier:
        raise MunifyError(f"op '{op.name}' (DEPTHWISE_CONV_2D): filter has {w.shape[3]} channels, expected "
                          f"{x.shape[3]} inputs x depth multiplier {p.depth_multiplier}")
    if p.depth_multiplier > 1:
        x = np.repeat(x, p.depth_multiplier, axis=-1)  # output channel c*M + m reads input channel c
    out_hw, window = out_shape[1:3], w.shape[1:3]
    padded = _padded(x, out_hw, window, p.stride, p.dilation, p.pad_top, p.pad_left, 0)
    acc = np.zeros(out_shape, np.int64)
    for (ky, kx), tap in _taps(padded, out_hw, window, p.stride, p.dilation):
        acc += tap * w[0, ky, kx]
    acc += _bias(graph, op, w.shape[3])
    return _requantize(acc, p, rounding)


def fully_connected(graph: Graph, op: Op, values: Values, rounding: str) -> np.ndarray:
    p = arith.fc_params(graph, op)
    w = graph.tensor(op.inputs[1]).data
    x = _activation(graph, op.inputs[0], values)
    if x.size % w.shape[1]:
        raise MunifyError(f"op '{op.name}' (FULLY_CONNECTED): input of {x.size} elements does not split into "
                          f"rows of {w.shape[1]}")
    x = x.reshape(-1, w.shape[1]).astype(np.float64) + p.input_offset
    weights = w.astype(np.float64) + p.weights_offset
    acc = (x @ weights.T).astype(np.int64) + _bias(graph, op, w.shape[0])
    out = _requantize(acc, p, rounding)
    return out.reshape(graph.tensor(op.outputs[0]).shape)


def average_pool2d(graph: Graph, op: Op, values: Values, rounding: str) -> np.ndarray:
    p = arith.pool_params(graph, op)
    x = _activation(graph, op.inputs[0], values).astype(np.int64)
    out_hw = graph.tensor(op.outputs[0]).shape[1:3]
    geometry = (out_hw, p.filter, p.stride, (1, 1))
    padded = _padded(x, *geometry, p.pad_top, p.pad_left, 0)
    inside = _padded(np.ones((1,) + x.shape[1:3] + (1,), np.int64), *geometry, p.pad_top, p.pad_left, 0)
    total = sum(tap for _, tap in _taps(padded, *geometry))
    count = sum(tap for _, tap in _taps(inside, *geometry))  # valid (unpadded) taps per output pixel
    rounded = arith.trunc_div(total + np.where(total > 0, count // 2, -(count // 2)), count)
    return np.clip(rounded, p.act_min, p.act_max).astype(np.int8)


def max_pool2d(graph: Graph, op: Op, values: Values, rounding: str) -> np.ndarray:
    p = arith.pool_params(graph, op)
    x = _activation(graph, op.inputs[0], values).astype(np.int64)
    out_hw = graph.tensor(op.outputs[0]).shape[1:3]
    geometry = (out_hw, p.filter, p.stride, (1, 1))
    padded = _padded(x, *geometry, p.pad_top, p.pad_left, arith.INT32_MIN)
    result = np.maximum.reduce([tap for _, tap in _taps(padded, *geometry)])
    return np.clip(result, p.act_min, p.act_max).astype(np.int8)


def add(graph: Graph, op: Op, values: Values, rounding: str) -> np.ndarray:
    p = arith.add_params(graph, op)
    a = _activation(graph, op.inputs[0], values).astype(np.int64) + p.input1_offset
    b = _activation(graph, op.inputs[1], values).astype(np.int64) + p.input2_offset
    scaled_a = arith.multiply_by_quantized_multiplier(a << p.left_shift, p.input1_multiplier, p.input1_shift,
                                                        rounding)
    scaled_b = arith.multiply_by_quantized_multiplier(b << p.left_shift, p.input2_multiplier, p.input2_shift,
                                                        rounding)
    raw_sum = arith.wrap_int32(scaled_a + scaled_b)
    out = arith.multiply_by_quantized_multiplier(raw_sum, p.output_multiplier, p.output_shift, rounding)
    out = out + p.output_offset
    return np.clip(out, p.act_min, p.act_max).astype(np.int8)


def mul(graph: Graph, op: Op, values: Values, rounding: str) -> np.ndarray:
    p = arith.mul_params(graph, op)
    a = _activation(graph, op.inputs[0], values).astype(np.int64) + p.input1_offset
    b = _activation(graph, op.inputs[1], values).astype(np.int64) + p.input2_offset
    out = arith.multiply_by_quantized_multiplier(a * b, p.output_multiplier, p.output_shift, rounding)
    out = out + p.output_offset
    return np.clip(out, p.act_min, p.act_max).astype(np.int8)


def reshape(graph: Graph, op: Op, values: Values, rounding: str) -> np.ndarray:
    return _activation(graph, op.inputs[0], values).reshape(graph.tensor(op.outputs[0]).shape)


def pad(graph: Graph, op: Op, values: Values, rounding: str) -> np.ndarray:
    p = arith.pad_params(graph, op)
    return np.pad(_activation(graph, op.inputs[0], values), p.paddings, constant_values=p.pad_value)


def softmax(graph: Graph, op: Op, values: Values, rounding: str) -> np.ndarray:
    p = arith.softmax_params(graph, op)
    x = _activation(graph, op.inputs[0], values).astype(np.int64)
    diff = x - x.max(axis=-1, keepdims=True)
    used = diff >= p.diff_min
    scaled_diff = arith.multiply_by_quantized_multiplier_greater_than_one(diff, p.input_multiplier,
                                                                          p.input_left_shift)
    exps = arith.exp_on_negative_values(scaled_diff, arith.SOFTMAX_SCALED_DIFF_INTEGER_BITS)  # Q0.31
    accumulation_bits = arith.SOFTMAX_ACCUMULATION_INTEGER_BITS
    rescaled = arith.rounding_divide_by_pot(exps, accumulation_bits)  # Q0.31 -> Q12.19
    sum_of_exps = arith.wrap_int32(np.where(used, rescaled, 0).sum(axis=-1, keepdims=True))
    scale, bits_over_unit = arith.reciprocal(sum_of_exps, accumulation_bits)
    probability = arith.saturating_rounding_doubling_high_mul(scale, exps)
    out = arith.rounding_divide_by_pot(probability, bits_over_unit + 31 - 8) + arith.INT8_MIN
    return np.where(used, np.clip(out, arith.INT8_MIN, arith.INT8_MAX), arith.INT8_MIN).astype(np.int8)
