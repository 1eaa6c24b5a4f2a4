"""One `OpDef` per op type: everything the stages need to know about an op, in one registry.

An OpDef names the op's attributes (with their defaults), its inputs (`InputRule`s: role, dtype, constness,
optional), which of them are data the kernel reads, whether its output may reuse its first input's storage,
its shape rule (`toolchain.ir.shapes`), its reference kernel (`toolchain.ir.reference_ops`) and the builder of
its integer parameters (`toolchain.ir.arith`). `Graph.validate()`, `.mun` loading, the reference executor,
the importers and exporters and the planner read `OPS`; the plan side keeps its own per-op builders (template
params) and kernel variants, keyed by the op type these definitions name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..errors import IRError
from . import arith, reference_ops, shapes
from .shapes import InputRule

if TYPE_CHECKING:
    from .graph import Graph, Op

ReferenceKernel = Callable[["Graph", "Op", dict[str, np.ndarray], str], np.ndarray]


@dataclass(frozen=True)
class OpDef:
    name: str  # the TFLite builtin name, e.g. "CONV_2D"
    inputs: tuple[InputRule, ...]
    output_shape: Callable  # (op, inputs) -> shape or shapes.Conforms; raises shapes.ShapeProblem
    reference: ReferenceKernel
    attrs: dict[str, Any] = field(default_factory=dict)  # attribute -> default
    params: Callable | None = None  # (graph, op) -> the integer parameters of toolchain.ir.arith
    weight_channel_axis: int | None = None  # ops with a weight input: the axis per-channel scales run along
    data_inputs: int = 1  # leading inputs that are tensors the kernel reads (the rest: weights, bias, tables)
    in_place: bool = False  # the output may take its first input's storage when that input dies here
    output_dtype: str = "int8"

    @property
    def min_inputs(self) -> int:
        return sum(1 for rule in self.inputs if not rule.optional)

    @property
    def weighted(self) -> bool:
        """Input 1 is a weight matrix (`weight_matrix` view) that may carry a block structure."""
        return self.weight_channel_axis is not None


_ACTIVATION = InputRule("activation", "int8", constant=False)
_WEIGHTED = (_ACTIVATION, InputRule("weight", "int8", constant=True),
             InputRule("bias", "int32", constant=True, optional=True))
_OPERANDS = (InputRule("operand", "int8", constant=None), InputRule("operand", "int8", constant=None))
_WINDOW = {"stride": (1, 1), "padding": "VALID"}
_FUSED = {"activation": "NONE"}


def _binary(name: str, reference: ReferenceKernel, params: Callable) -> OpDef:
    return OpDef(name, _OPERANDS, shapes.broadcast_shape, reference, dict(_FUSED), params, data_inputs=2,
                 in_place=True)


def _pool(name: str, reference: ReferenceKernel) -> OpDef:
    return OpDef(name, (_ACTIVATION,), shapes.pool_shape, reference, {"filter": (1, 1), **_WINDOW, **_FUSED},
                 arith.pool_params)


OP_DEFS: tuple[OpDef, ...] = (
    OpDef("CONV_2D", _WEIGHTED, shapes.conv_shape, reference_ops.conv2d,
          {**_WINDOW, "dilation": (1, 1), **_FUSED}, arith.conv_params, weight_channel_axis=0),
    OpDef("DEPTHWISE_CONV_2D", _WEIGHTED, shapes.depthwise_shape, reference_ops.depthwise_conv2d,
          {**_WINDOW, "dilation": (1, 1), "depth_multiplier": 1, **_FUSED}, arith.conv_params,
          weight_channel_axis=3),
    OpDef("FULLY_CONNECTED", _WEIGHTED, shapes.fully_connected_shape, reference_ops.fully_connected,
          dict(_FUSED), arith.fc_params, weight_channel_axis=0),
    _pool("AVERAGE_POOL_2D", reference_ops.average_pool2d),
    _pool("MAX_POOL_2D", reference_ops.max_pool2d),
    _binary("ADD", reference_ops.add, arith.add_params),
    _binary("MUL", reference_ops.mul, arith.mul_params),
    OpDef("RESHAPE", (_ACTIVATION,), shapes.reshape_shape, reference_ops.reshape),
    OpDef("SOFTMAX", (_ACTIVATION,), shapes.softmax_shape, reference_ops.softmax, {"beta": 1.0},
          arith.softmax_params),
    OpDef("PAD", (_ACTIVATION, InputRule("paddings", "int32", constant=True),
                  InputRule("pad value", "int8", constant=True, optional=True)),
          shapes.pad_shape, reference_ops.pad, params=arith.pad_params),
)

OPS: dict[str, OpDef] = {definition.name: definition for definition in OP_DEFS}

# Views of OPS for the code that only asks which ops there are.
OP_TYPES: tuple[str, ...] = tuple(OPS)
OP_ATTRS: dict[str, dict[str, Any]] = {name: definition.attrs for name, definition in OPS.items()}
WEIGHTED_OPS: tuple[str, ...] = tuple(name for name, definition in OPS.items() if definition.weighted)


def op_def(op_type: str) -> OpDef:
    try:
        return OPS[op_type]
    except KeyError:
        raise IRError(f"unknown op type '{op_type}'; munify supports {', '.join(OP_TYPES)}") from None
