"""The IR: a graph of ops over tensors. Every stage of munify reads and writes this, and nothing else.

Layouts follow TFLite so imported models need no transposes:
  activations NHWC; CONV_2D filter [O, KH, KW, I]; DEPTHWISE_CONV_2D filter [1, KH, KW, C*M];
  FULLY_CONNECTED weights [O, I]; biases int32 [O]; PAD paddings int32 [rank, 2].
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..errors import IRError
from .blocks import BlockStructure

SCHEMA_VERSION = 1

DTYPES = ("int8", "int16", "int32", "float32")
OP_TYPES = (
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "AVERAGE_POOL_2D",
    "MAX_POOL_2D",
    "ADD",
    "MUL",
    "RESHAPE",
    "SOFTMAX",
    "PAD",
)
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
PADDINGS = ("SAME", "VALID")

# Attributes each op type carries, with their defaults. Loading and validation use this table.
OP_ATTRS: dict[str, dict[str, Any]] = {
    "CONV_2D": {"stride": (1, 1), "padding": "VALID", "dilation": (1, 1), "activation": "NONE"},
    "DEPTHWISE_CONV_2D": {
        "stride": (1, 1),
        "padding": "VALID",
        "dilation": (1, 1),
        "depth_multiplier": 1,
        "activation": "NONE",
    },
    "FULLY_CONNECTED": {"activation": "NONE"},
    "AVERAGE_POOL_2D": {"filter": (1, 1), "stride": (1, 1), "padding": "VALID", "activation": "NONE"},
    "MAX_POOL_2D": {"filter": (1, 1), "stride": (1, 1), "padding": "VALID", "activation": "NONE"},
    "ADD": {"activation": "NONE"},
    "MUL": {"activation": "NONE"},
    "RESHAPE": {},
    "SOFTMAX": {"beta": 1.0},
    "PAD": {},
}

# Ops whose input 1 is a weight tensor that may carry a block structure.
WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


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

    @classmethod
    def from_json(cls, d: dict) -> "Quant":
        return cls(np.array(d["scale"], dtype=np.float32), np.array(d["zero_point"]), d.get("axis"))


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
        return self.attrs.get(key, OP_ATTRS[self.type].get(key))


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
        return self.tensors[op.inputs[1]] if op.type in WEIGHTED_OPS else None

    def replace(self, **changes) -> "Graph":
        return dataclasses.replace(self, **changes)

    def with_tensor(self, tensor: Tensor) -> "Graph":
        tensors = dict(self.tensors)
        tensors[tensor.name] = tensor
        return self.replace(tensors=tensors)

    def validate(self) -> None:
        """Refuse a graph that breaks an IR invariant; the error names the tensor or op."""
        for t in self.tensors.values():
            _validate_tensor(t)
        produced = set(self.inputs)
        for name in self.inputs + self.outputs:
            self.tensor(name)
        for op in self.ops:
            _validate_op(self, op, produced)
            produced.update(op.outputs)
        for name in self.outputs:
            if name not in produced:
                raise IRError(f"graph output '{name}' is produced by no op")
        for op in self.ops:
            w = self.weight_of(op)
            if w is not None and w.blocks is not None:
                w.blocks.check(weight_matrix(op.type, w.data), w.name)


def _validate_tensor(t: Tensor) -> None:
    if t.dtype not in DTYPES:
        raise IRError(f"tensor '{t.name}': dtype '{t.dtype}' is not one of {', '.join(DTYPES)}")
    if any((not isinstance(d, int)) or d < 0 for d in t.shape):
        raise IRError(f"tensor '{t.name}': shape {t.shape} is not a tuple of non-negative ints")
    if t.data is not None:
        if tuple(t.data.shape) != tuple(t.shape):
            raise IRError(f"tensor '{t.name}': data shape {t.data.shape} does not match shape {t.shape}")
        if t.data.dtype != np.dtype(t.dtype):
            raise IRError(f"tensor '{t.name}': data dtype {t.data.dtype} does not match dtype {t.dtype}")
    if t.quant is not None:
        q = t.quant
        if len(q.scale) != len(q.zero_point) or len(q.scale) == 0:
            raise IRError(f"tensor '{t.name}': quantization has {len(q.scale)} scales, {len(q.zero_point)} zero points")
        if q.axis is not None and not (0 <= q.axis < len(t.shape) and t.shape[q.axis] == len(q.scale)):
            raise IRError(f"tensor '{t.name}': per-axis quantization axis {q.axis} does not fit shape {t.shape}")
        if q.axis is None and len(q.scale) != 1:
            raise IRError(f"tensor '{t.name}': per-tensor quantization needs exactly one scale")
        if not np.all(np.isfinite(q.scale)) or np.any(q.scale <= 0):
            raise IRError(f"tensor '{t.name}': quantization scales must be finite and positive")
    if t.blocks is not None and t.data is None:
        raise IRError(f"tensor '{t.name}': a block structure needs constant data")


def _validate_op(graph: Graph, op: Op, produced: set[str]) -> None:
    if op.type not in OP_TYPES:
        raise IRError(f"op '{op.name}': unknown op type '{op.type}'")
    unknown = set(op.attrs) - set(OP_ATTRS[op.type])
    if unknown:
        raise IRError(f"op '{op.name}' ({op.type}): unknown attribute(s) {sorted(unknown)}")
    act = op.attr("activation")
    if act is not None and act not in ACTIVATIONS:
        raise IRError(f"op '{op.name}': activation '{act}' is not one of {', '.join(ACTIVATIONS)}")
    pad = op.attr("padding")
    if pad is not None and pad not in PADDINGS:
        raise IRError(f"op '{op.name}': padding '{pad}' is not SAME or VALID")
    for name in op.inputs:
        if not name:
            continue
        t = graph.tensors.get(name)
        if t is None:
            raise IRError(f"op '{op.name}': input tensor '{name}' does not exist")
        if not t.is_constant and name not in produced:
            raise IRError(f"op '{op.name}': input '{name}' is used before it is produced (ops must be in order)")
    for name in op.outputs:
        if name not in graph.tensors:
            raise IRError(f"op '{op.name}': output tensor '{name}' does not exist")


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

