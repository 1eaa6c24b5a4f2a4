"""What each op type takes and what shape it makes: the input rules and shape rules `Graph.validate()` checks.

Each op's `OpDef` (`toolchain.ir.ops`) lists its inputs as `InputRule`s (role, dtype, constant or not,
optional or not), its output dtype and its shape rule, one of the functions here. A shape rule returns the
output shape the op computes from its input shapes and attributes (or a `Conforms` predicate where TFLite
allows more than one, as FULLY_CONNECTED's keep_num_dims does), and raises `ShapeProblem` when the inputs do
not fit together. `check_op` turns both into one IRError naming the op, the tensor, the stored and the
expected shape. Attribute types and ranges are checked before (graph.py), so the rules can rely on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..errors import IRError

if TYPE_CHECKING:
    from .graph import Op, Tensor
    from .ops import OpDef


class ShapeProblem(Exception):
    """Inputs of an op that do not fit together; the message says how (check_op adds the op's name)."""


@dataclass(frozen=True)
class InputRule:
    role: str  # "activation", "weight", "bias", "operand", "paddings", "pad value"
    dtype: str
    constant: bool | None  # True: must be constant; False: must be computed; None: either
    optional: bool = False


@dataclass(frozen=True)
class Conforms:
    """An output shape rule that admits several shapes: `accepts(shape)`; `expected` describes them."""

    accepts: Callable[[tuple[int, ...]], bool]
    expected: str


def _shape(t: Tensor) -> list[int]:
    return list(t.shape)


def _need_rank(t: Tensor, role: str, rank: int) -> None:
    if len(t.shape) != rank:
        raise ShapeProblem(f"{role} '{t.name}' has shape {_shape(t)}, expected rank {rank}")


def window_out(padding: str, size: int, kernel: int, stride: int, dilation: int = 1) -> int:
    """TFLite ComputeOutSize (toolchain.ir.arith derives the kernel's padding from it too)."""
    if padding == "SAME":
        return -(-size // stride)
    return (size - (kernel - 1) * dilation - 1) // stride + 1


def _window_shape(op: Op, x: Tensor, kernel: tuple[int, int], channels: int, dilation=(1, 1)) -> tuple[int, ...]:
    stride, padding = op.attr("stride"), op.attr("padding")
    spatial = tuple(window_out(padding, x.shape[1 + i], kernel[i], stride[i], dilation[i]) for i in (0, 1))
    if min(spatial) < 1:
        raise ShapeProblem(f"a {kernel[0]}x{kernel[1]} window (dilation {list(dilation)}) does not fit input "
                           f"'{x.name}' {_shape(x)} with {padding} padding")
    return (x.shape[0],) + spatial + (channels,)


def _check_bias(bias: Tensor | None, channels: int) -> None:
    if bias is not None and tuple(bias.shape) != (channels,):
        raise ShapeProblem(f"bias '{bias.name}' has shape {_shape(bias)}, expected [{channels}] "
                           "(one per output channel)")


def conv_shape(op: Op, inputs) -> tuple[int, ...]:
    x, w, bias = inputs
    _need_rank(x, "input", 4)
    _need_rank(w, "filter", 4)
    if w.shape[3] != x.shape[3]:
        raise ShapeProblem(f"filter '{w.name}' {_shape(w)} expects {w.shape[3]} input channels, input "
                           f"'{x.name}' {_shape(x)} has {x.shape[3]} (grouped convolution is not supported)")
    _check_bias(bias, w.shape[0])
    return _window_shape(op, x, (w.shape[1], w.shape[2]), w.shape[0], op.attr("dilation"))


def depthwise_shape(op: Op, inputs) -> tuple[int, ...]:
    x, w, bias = inputs
    _need_rank(x, "input", 4)
    _need_rank(w, "filter", 4)
    multiplier = op.attr("depth_multiplier")
    if w.shape[0] != 1 or w.shape[3] != x.shape[3] * multiplier:
        raise ShapeProblem(f"filter '{w.name}' {_shape(w)} does not fit input '{x.name}' {_shape(x)} with depth "
                           f"multiplier {multiplier} (expected [1, KH, KW, {x.shape[3] * multiplier}])")
    _check_bias(bias, w.shape[3])
    return _window_shape(op, x, (w.shape[1], w.shape[2]), w.shape[3], op.attr("dilation"))


def fully_connected_shape(op: Op, inputs) -> Conforms:
    """[batches, out] with batches = input size / in (keep_num_dims=False), or the input's leading dimensions
    and out (keep_num_dims=True)."""
    x, w, bias = inputs
    _need_rank(w, "weights", 2)
    units, depth = w.shape
    if x.size % depth:
        raise ShapeProblem(f"input '{x.name}' {_shape(x)} of {x.size} values does not split into rows of "
                           f"{depth} (weights '{w.name}' {_shape(w)})")
    _check_bias(bias, units)
    flat = (x.size // depth, units)
    kept = tuple(x.shape[:-1]) + (units,) if x.shape and x.shape[-1] == depth else flat
    shapes = [list(flat)] + ([list(kept)] if kept != flat else [])
    return Conforms(lambda shape: shape in (flat, kept), " or ".join(str(s) for s in shapes))


def pool_shape(op: Op, inputs) -> tuple[int, ...]:
    (x,) = inputs
    _need_rank(x, "input", 4)
    return _window_shape(op, x, op.attr("filter"), x.shape[3])


def broadcast_shape(op: Op, inputs) -> tuple[int, ...]:
    a, b = inputs
    try:
        return tuple(np.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        raise ShapeProblem(f"operands '{a.name}' {_shape(a)} and '{b.name}' {_shape(b)} do not broadcast") from None


def reshape_shape(op: Op, inputs) -> Conforms:
    (x,) = inputs
    return Conforms(lambda shape: math.prod(shape) == x.size,
                    f"any shape of {x.size} elements (the size of input '{x.name}' {_shape(x)})")


def softmax_shape(op: Op, inputs) -> tuple[int, ...]:
    (x,) = inputs
    if not x.shape:
        raise ShapeProblem(f"input '{x.name}' is a scalar; softmax runs along the last axis")
    return tuple(x.shape)


def pad_shape(op: Op, inputs) -> tuple[int, ...]:
    x, paddings = inputs[:2]
    if tuple(paddings.shape) != (len(x.shape), 2):
        raise ShapeProblem(f"paddings '{paddings.name}' have shape {_shape(paddings)}, expected "
                           f"[{len(x.shape)}, 2] for input '{x.name}' {_shape(x)}")
    if np.any(paddings.data < 0):
        raise ShapeProblem(f"paddings '{paddings.name}' {paddings.data.tolist()} are negative")
    if len(inputs) > 2 and inputs[2] is not None and inputs[2].size != 1:
        raise ShapeProblem(f"pad value '{inputs[2].name}' has shape {_shape(inputs[2])}, expected one value")
    return tuple(int(d + before + after) for d, (before, after) in zip(x.shape, paddings.data.tolist()))


def check_op(rule: OpDef, op: Op, inputs: list[Tensor | None], output: Tensor) -> None:
    """Refuse an op whose inputs break its definition `rule` (`toolchain.ir.ops.op_def(op.type)`) or whose
    stored output shape is not the one it computes."""
    where = f"op '{op.name}' ({op.type})"
    if not rule.min_inputs <= len(inputs) <= len(rule.inputs):
        raise IRError(f"{where}: has {len(inputs)} inputs, expected {_arity(rule)} "
                      f"({', '.join(r.role for r in rule.inputs)})")
    for input_rule, tensor in zip(rule.inputs, inputs):
        _check_input(where, input_rule, tensor)
    _check_quant(where, op.type, rule, inputs, output)
    if output.is_constant or output.dtype != rule.output_dtype:
        raise IRError(f"{where}: output '{output.name}' must be a computed {rule.output_dtype} tensor, it is a "
                      f"{'constant ' if output.is_constant else ''}{output.dtype} tensor")
    padded = list(inputs) + [None] * (len(rule.inputs) - len(inputs))
    try:
        expected = rule.output_shape(op, padded)
    except ShapeProblem as problem:
        raise IRError(f"{where}: {problem}") from None
    stored = tuple(output.shape)
    ok = expected.accepts(stored) if isinstance(expected, Conforms) else stored == expected
    if not ok:
        shown = expected.expected if isinstance(expected, Conforms) else str(list(expected))
        sources = ", ".join(f"{r.role} '{t.name}' {_shape(t)}" for r, t in zip(rule.inputs, inputs)
                            if t is not None and r.role != "bias")
        raise IRError(f"{where}: output '{output.name}' has shape {list(stored)}, expected {shown} "
                      f"from {sources}")


def _arity(rule: OpDef) -> str:
    low, high = rule.min_inputs, len(rule.inputs)
    return str(low) if low == high else f"{low} to {high}"


def _check_input(where: str, rule: InputRule, tensor: Tensor | None) -> None:
    if tensor is None:
        if not rule.optional:
            raise IRError(f"{where}: the {rule.role} input is missing; it is required")
        return
    if tensor.dtype != rule.dtype:
        raise IRError(f"{where}: {rule.role} '{tensor.name}' is {tensor.dtype}, expected {rule.dtype}")
    if rule.constant is True and not tensor.is_constant:
        raise IRError(f"{where}: {rule.role} '{tensor.name}' must be a constant tensor (it has no data)")
    if rule.constant is False and tensor.is_constant:
        raise IRError(f"{where}: {rule.role} '{tensor.name}' is a constant; this input must be computed "
                      "(fold the constant away before export)")


def _check_quant(where: str, op_type: str, rule: OpDef, inputs: list[Tensor | None], output: Tensor) -> None:
    """int8 tensors need a scale and a zero point: activations per tensor, weights symmetric along their
    output-channel axis."""
    roles = [(r.role, t) for r, t in zip(rule.inputs, inputs) if t is not None] + [("output", output)]
    for role, t in roles:
        if t.dtype != "int8" or role == "pad value":
            continue
        q = t.quant
        if q is None:
            raise IRError(f"{where}: {role} '{t.name}' has no quantization parameters; int8 tensors need a "
                          "scale and a zero point")
        if role == "weight":
            if np.any(q.zero_point != 0):
                raise IRError(f"{where}: weight '{t.name}' has non-zero zero points; munify supports symmetric "
                              "int8 weights (TFLite's int8 scheme)")
            if q.per_channel and q.axis != rule.weight_channel_axis:
                raise IRError(f"{where}: weight '{t.name}' is quantized along axis {q.axis}; {op_type} "
                              f"weights must be quantized along their output-channel axis {rule.weight_channel_axis}")
        elif q.per_channel or len(q.scale) != 1:
            raise IRError(f"{where}: {role} '{t.name}' is quantized per channel; only weights may be")
