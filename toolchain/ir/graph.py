"""The IR: a graph of ops over tensors. Every stage of munify reads and writes this, and nothing else.

Layouts follow TFLite so imported models need no transposes:
  activations NHWC; CONV_2D filter [O, KH, KW, I]; DEPTHWISE_CONV_2D filter [1, KH, KW, C*M];
  FULLY_CONNECTED weights [O, I]; biases int32 [O]; PAD paddings int32 [rank, 2].
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..errors import IRError
from .blocks import BlockStructure
from .ops import OPS, op_def
from .shapes import check_op

SCHEMA_VERSION = 1

DTYPES = ("int8", "int16", "int32", "float32")
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
PADDINGS = ("SAME", "VALID")

MAX_RANK = 6
MAX_ELEMENTS = 1 << 28  # per tensor: far beyond any microcontroller, far below int32 overflow in the C kernels
_ZERO_POINT_RANGE = {"int8": (-128, 127), "int16": (-32768, 32767), "int32": (-(1 << 31), (1 << 31) - 1)}



@dataclass(frozen=True, eq=False)
class Quant:
    """Affine quantization: real = scale * (q - zero_point). Per-tensor when `axis` is None."""

    scale: np.ndarray  # float32 [n]
    zero_point: np.ndarray  # int64 [n]
    axis: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", np.asarray(self.scale, dtype=np.float32).reshape(-1))
        object.__setattr__(self, "zero_point", np.asarray(self.zero_point, dtype=np.int64).reshape(-1))

    @property
    def per_channel(self) -> bool:
        return self.axis is not None

    def to_json(self) -> dict:
        return {
            "scale": [float(s) for s in self.scale],
            "zero_point": [int(z) for z in self.zero_point],
            "axis": self.axis,
        }


@dataclass(frozen=True, eq=False)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: Quant | None = None
    data: np.ndarray | None = None  # constant tensors only
    blocks: BlockStructure | None = None  # weight tensors only; None means dense

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize

    def replace(self, **changes) -> "Tensor":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, eq=False)
class Op:
    name: str
    type: str
    inputs: tuple[str, ...]  # "" marks an absent optional input (e.g. no bias)
    outputs: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)

    def attr(self, key: str) -> Any:
        return self.attrs.get(key, OPS[self.type].attrs.get(key))


@dataclass(frozen=True, eq=False)
class Graph:
    name: str
    tensors: dict[str, Tensor]
    ops: tuple[Op, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    def tensor(self, name: str) -> Tensor:
        try:
            return self.tensors[name]
        except KeyError:
            raise IRError(f"tensor '{name}' is not in graph '{self.name}'") from None

    def op_inputs(self, op: Op) -> list[Tensor | None]:
        return [self.tensors[n] if n else None for n in op.inputs]

    def weight_of(self, op: Op) -> Tensor | None:
        return self.tensors[op.inputs[1]] if OPS[op.type].weighted else None

    def replace(self, **changes) -> "Graph":
        return dataclasses.replace(self, **changes)

    def with_tensor(self, tensor: Tensor) -> "Graph":
        tensors = dict(self.tensors)
        tensors[tensor.name] = tensor
        return self.replace(tensors=tensors)

    def validate(self) -> None:
        """Refuse a graph that breaks an IR invariant; the error names the tensor or op.

        Tensors (dtype, dimensions, quantization), graph inputs and outputs, op names and attributes, one
        producer per tensor, and each op against its definition in toolchain.ir.ops.OPS (input dtypes and
        constness, quantization, the stored output shape against the one the op computes)."""
        if not isinstance(self.name, str):
            raise IRError(f"graph name {self.name!r} is not a string")
        for key, t in self.tensors.items():
            if key != t.name:
                raise IRError(f"tensor '{t.name}' is stored under the name '{key}'")
            _validate_tensor(t)
        self._validate_io()
        produced = self._validate_ops()
        for name in self.outputs:
            if name not in produced:
                raise IRError(f"graph output '{name}' is produced by no op")
        for op in self.ops:
            w = self.weight_of(op)
            if w is not None and w.blocks is not None:
                w.blocks.check(weight_matrix(op.type, w.data), w.name)

    def _validate_ops(self) -> set[str]:
        """Check the ops in order; return the names of the tensors available after the last one."""
        produced = set(self.inputs)
        writers: dict[str, str] = {}
        for op in self.ops:
            _check_names(f"op '{op.name}' outputs", op.outputs)
            for name in op.outputs:
                if name in writers:
                    raise IRError(f"op '{op.name}': output '{name}' is already written by op '{writers[name]}'; "
                                  "every tensor has one producer")
                if name in self.inputs:
                    raise IRError(f"op '{op.name}': output '{name}' is a graph input; inputs are not written")
                writers[name] = op.name
            _validate_op(self, op, produced)
            produced.update(op.outputs)
        return produced

    def _validate_io(self) -> None:
        for role, names in (("input", self.inputs), ("output", self.outputs)):
            if not names:
                raise IRError(f"graph '{self.name}' has no {role}s")
            _check_names(f"graph '{self.name}' {role}s", names)
            if len(set(names)) != len(names):
                raise IRError(f"graph '{self.name}' lists a tensor twice among its {role}s: {list(names)}")
            for name in names:
                if self.tensor(name).is_constant:
                    raise IRError(f"graph {role} '{name}' is a constant tensor; graph inputs and outputs are "
                                  "activations")
        seen: set[str] = set()
        for op in self.ops:
            if not isinstance(op.name, str) or not op.name:
                raise IRError(f"an op of type {op.type!r} has the name {op.name!r}; op names are non-empty strings")
            if op.name in seen:
                raise IRError(f"op name '{op.name}' is used by two ops; op names must be unique")
            seen.add(op.name)


def _check_names(what: str, names) -> None:
    if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
        raise IRError(f"{what} must be a list of tensor names (strings), got {names!r}")


def _check_dims(t: Tensor) -> None:
    shape = t.shape
    if not isinstance(shape, tuple) or len(shape) > MAX_RANK or not all(_is_int(d) for d in shape):
        raise IRError(f"tensor '{t.name}': shape {shape!r} is not a list of at most {MAX_RANK} integers")
    if any(not 1 <= d <= MAX_ELEMENTS for d in shape):
        raise IRError(f"tensor '{t.name}': shape {list(shape)} has a dimension outside 1..{MAX_ELEMENTS}; "
                      "munify needs static, non-empty shapes")
    if math.prod(int(d) for d in shape) > MAX_ELEMENTS:
        raise IRError(f"tensor '{t.name}': shape {list(shape)} holds {math.prod(int(d) for d in shape)} "
                      f"elements, more than {MAX_ELEMENTS}; no microcontroller holds such a tensor")


def _validate_tensor(t: Tensor) -> None:
    if not isinstance(t.name, str) or not t.name:
        raise IRError(f"tensor name {t.name!r} is not a non-empty string")
    if t.dtype not in DTYPES:
        raise IRError(f"tensor '{t.name}': dtype '{t.dtype}' is not one of {', '.join(DTYPES)}")
    _check_dims(t)
    if t.data is not None:
        if tuple(t.data.shape) != tuple(t.shape):
            raise IRError(f"tensor '{t.name}': data shape {t.data.shape} does not match shape {t.shape}")
        if t.data.dtype != np.dtype(t.dtype):
            raise IRError(f"tensor '{t.name}': data dtype {t.data.dtype} does not match dtype {t.dtype}")
    if t.quant is not None:
        _validate_quant(t)
    if t.blocks is not None and t.data is None:
        raise IRError(f"tensor '{t.name}': a block structure needs constant data")


def _validate_quant(t: Tensor) -> None:
    q = t.quant
    if len(q.scale) != len(q.zero_point) or len(q.scale) == 0:
        raise IRError(f"tensor '{t.name}': quantization has {len(q.scale)} scales, {len(q.zero_point)} zero points")
    if q.axis is not None and (not _is_int(q.axis) or not (0 <= q.axis < len(t.shape)
                                                              and t.shape[q.axis] == len(q.scale))):
        raise IRError(f"tensor '{t.name}': per-axis quantization axis {q.axis!r} with {len(q.scale)} scales "
                      f"does not fit shape {list(t.shape)}")
    if q.axis is None and len(q.scale) != 1:
        raise IRError(f"tensor '{t.name}': per-tensor quantization needs exactly one scale")
    if not np.all(np.isfinite(q.scale)) or np.any(q.scale <= 0):
        raise IRError(f"tensor '{t.name}': quantization scales must be finite and positive")
    low, high = _ZERO_POINT_RANGE.get(t.dtype, _ZERO_POINT_RANGE["int32"])
    if np.any(q.zero_point < low) or np.any(q.zero_point > high):
        bad = int(q.zero_point[(q.zero_point < low) | (q.zero_point > high)][0])
        raise IRError(f"tensor '{t.name}': zero point {bad} is outside the {t.dtype} range {low}..{high}")


def _validate_op(graph: Graph, op: Op, produced: set[str]) -> None:
    if op.type not in OPS:
        raise IRError(f"op '{op.name}': unknown op type '{op.type}'")
    if not isinstance(op.attrs, dict):
        raise IRError(f"op '{op.name}': attrs must be a mapping of attribute name to value")
    definition = op_def(op.type)
    unknown = set(op.attrs) - set(definition.attrs)
    if unknown:
        raise IRError(f"op '{op.name}' ({op.type}): unknown attribute(s) {sorted(unknown, key=str)}")
    for key, value in op.attrs.items():
        _ATTR_CHECKS[key](op, key, value)
    _check_names(f"op '{op.name}' inputs", op.inputs)
    for name in op.inputs:
        if name and name not in graph.tensors:
            raise IRError(f"op '{op.name}': input tensor '{name}' does not exist")
    if len(op.outputs) != 1:
        raise IRError(f"op '{op.name}' ({op.type}): has {len(op.outputs)} outputs, expected 1")
    for name in op.outputs:
        if name not in graph.tensors:
            raise IRError(f"op '{op.name}': output tensor '{name}' does not exist")
    check_op(definition, op, graph.op_inputs(op), graph.tensors[op.outputs[0]])
    for name in op.inputs:
        if name and not graph.tensors[name].is_constant and name not in produced:
            raise IRError(f"op '{op.name}': input '{name}' is used before it is produced (ops must be in order)")


def _check_enum(choices: tuple[str, ...]):
    def check(op: Op, key: str, value) -> None:
        if not isinstance(value, str) or value not in choices:
            raise IRError(f"op '{op.name}' ({op.type}): {key} {value!r} is not one of {', '.join(choices)}")
    return check


def _is_int(value) -> bool:
    """An integer, and not a bool (True is an int to Python, never a dimension or an attribute here)."""
    return type(value) is int or isinstance(value, np.integer)


def _check_pair(op: Op, key: str, value) -> None:
    if not (isinstance(value, tuple) and len(value) == 2 and all(_is_int(v) and 1 <= v <= MAX_ELEMENTS
                                                                 for v in value)):
        raise IRError(f"op '{op.name}' ({op.type}): {key} {_shown(value)} must be two integers (height, width) "
                      f">= 1")


def _check_positive_int(op: Op, key: str, value) -> None:
    if not (_is_int(value) and 1 <= value <= MAX_ELEMENTS):
        raise IRError(f"op '{op.name}' ({op.type}): {key} {value!r} must be an integer >= 1")


def _check_positive_real(op: Op, key: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise IRError(f"op '{op.name}' ({op.type}): {key} {value!r} must be a finite positive number")


def _shown(value) -> str:
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


_ATTR_CHECKS = {
    "stride": _check_pair,
    "dilation": _check_pair,
    "filter": _check_pair,
    "padding": _check_enum(PADDINGS),
    "activation": _check_enum(ACTIVATIONS),
    "depth_multiplier": _check_positive_int,
    "beta": _check_positive_real,
}


def weight_matrix(op_type: str, data: np.ndarray) -> np.ndarray:
    """View a weight tensor as [out, reduction] with the reduction in deployment order.

    CONV_2D [O,KH,KW,I] -> [O, KH*KW*I] (cin fastest); FULLY_CONNECTED [O,I] as is;
    DEPTHWISE_CONV_2D [1,KH,KW,C] -> [C, KH*KW]: blocks run along the kernel taps of one channel.
    """
    if op_type == "DEPTHWISE_CONV_2D":
        return data.reshape(-1, data.shape[-1]).T
    return data.reshape(data.shape[0], -1)


def matrix_to_weight(op_type: str, matrix: np.ndarray, shape: Iterable[int]) -> np.ndarray:
    """Inverse of `weight_matrix`."""
    shape = tuple(shape)
    if op_type == "DEPTHWISE_CONV_2D":
        return np.ascontiguousarray(matrix.T).reshape(shape)
    return np.ascontiguousarray(matrix).reshape(shape)

