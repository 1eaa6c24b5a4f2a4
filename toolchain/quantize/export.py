"""Export a calibrated QuantProgram to the IR: int8 tensors in TFLite layouts, per-channel weights with their
block structures, int32 biases, fused activations, explicit PAD where torch padding is not TFLite SAME/VALID.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir import BlockKind, BlockStructure, Graph, Op, Quant, Tensor, matrix_to_weight
from .capture import Step, padding_mode
from .program import QuantProgram
from .scheme import unified_blocks_zeroed


@dataclass
class ExportReport:
    """What export changed beyond rounding: unified blocks whose every magnitude rounded to 0 became pruned."""

    pruned_by_rounding: dict[str, int] = field(default_factory=dict)  # layer -> blocks

    @property
    def total_pruned_by_rounding(self) -> int:
        return sum(self.pruned_by_rounding.values())


def export_graph(prog: QuantProgram, name: str, metadata: dict | None = None) -> tuple[Graph, ExportReport]:
    builder = _GraphBuilder(prog)
    for step in prog.program.steps:
        getattr(builder, f"_{step.kind}")(step)
    meta = dict(metadata or {})
    meta["blocks_pruned_by_rounding"] = builder.report.total_pruned_by_rounding
    graph = Graph(name, builder.tensors, tuple(builder.ops), ("input",), (prog.program.output,), meta)
    graph.validate()
    return graph, builder.report


def _nhwc(shape: tuple[int, ...]) -> tuple[int, ...]:
    shape = (1,) + tuple(int(d) for d in shape[1:])
    return (shape[0], shape[2], shape[3], shape[1]) if len(shape) == 4 else shape


class _GraphBuilder:
    def __init__(self, prog: QuantProgram):
        self.prog = prog
        self.tensors: dict[str, Tensor] = {}
        self.ops: list[Op] = []
        self.report = ExportReport()

    def _activation_tensor(self, value: str, torch_shape: tuple[int, ...], quant_value: str | None = None) -> str:
        quant = self.prog.quant_of(quant_value or value).to_ir()
        self.tensors[value] = Tensor(value, _nhwc(torch_shape), "int8", quant)
        return value

    def _op(self, step: Step, op_type: str, inputs: tuple[str, ...], attrs: dict | None = None) -> None:
        self._activation_tensor(step.output, step.out_shape)
        self.ops.append(Op(step.name, op_type, inputs, (step.output,), attrs or {}))

    def _input(self, step: Step) -> None:
        self._activation_tensor("input", step.out_shape)

    def _conv(self, step: Step) -> None:
        op_type = step.attrs["op_type"]
        padding = padding_mode(step)
        source = step.inputs[0]
        if padding is None:
            source, padding = self._explicit_pad(step), "VALID"
        weight, bias = self._weights(step, op_type)
        attrs = {"stride": step.attrs["stride"], "padding": padding, "dilation": step.attrs["dilation"],
                 "activation": step.activation}
        if op_type == "DEPTHWISE_CONV_2D":
            attrs["depth_multiplier"] = step.module.out_channels // step.module.in_channels
        self._op(step, op_type, (source, weight, bias), attrs)

    def _explicit_pad(self, step: Step) -> str:
        ph, pw = step.attrs["padding"]
        n, c, h, w = step.in_shape
        name = f"{step.name}.pad"
        paddings = np.array([[0, 0], [ph, ph], [pw, pw], [0, 0]], np.int32)
        self.tensors[f"{name}.paddings"] = Tensor(f"{name}.paddings", (4, 2), "int32", None, paddings)
        self._activation_tensor(name, (n, c, h + 2 * ph, w + 2 * pw), quant_value=step.inputs[0])
        self.ops.append(Op(name, "PAD", (step.inputs[0], f"{name}.paddings"), (name,)))
        return name

    def _fc(self, step: Step) -> None:
        weight, bias = self._weights(step, "FULLY_CONNECTED")
        self._op(step, "FULLY_CONNECTED", (step.inputs[0], weight, bias), {"activation": step.activation})

    def _weights(self, step: Step, op_type: str) -> tuple[str, str]:
        lq = self.prog.layer_quant(step)
        codes = lq.codes.numpy().astype(np.int8)
        structure = self._block_structure(step, lq)
        if op_type == "CONV_2D":
            o, i, kh, kw = step.module.weight.shape
            shape, axis = (o, kh, kw, i), 0
        elif op_type == "DEPTHWISE_CONV_2D":
            o, _, kh, kw = step.module.weight.shape
            shape, axis = (1, kh, kw, o), 3
        else:
            shape, axis = codes.shape, 0
        channels = len(lq.scales)
        weight = Tensor(f"{step.name}.weight", tuple(shape), "int8",
                        Quant(lq.scales.numpy(), np.zeros(channels, np.int64), axis),
                        matrix_to_weight(op_type, codes, shape), structure)
        bias = Tensor(f"{step.name}.bias", (channels,), "int32",
                      Quant(lq.bias_scales.numpy(), np.zeros(channels, np.int64), 0),
                      lq.bias_codes.numpy().astype(np.int32))
        for tensor in (weight, bias):
            self.tensors[tensor.name] = tensor
        return weight.name, bias.name

    def _block_structure(self, step: Step, lq) -> BlockStructure | None:
        structure = self.prog.structures.get(step.name)
        if structure is None:
            return None
        kinds = np.array(structure.kinds, dtype=np.uint8)
        zeroed = unified_blocks_zeroed(lq.codes, kinds, structure.bo, structure.bi)
        kinds[zeroed] = BlockKind.PRUNED
        if np.any(zeroed):
            self.report.pruned_by_rounding[step.name] = int(zeroed.sum())
        codes = lq.codes.numpy().astype(np.int8)
        blocks = BlockStructure.from_matrix(codes, kinds, structure.bo, structure.bi)
        blocks.check(codes, f"{step.name}.weight")
        return blocks

    def _pool(self, step: Step, op_type: str) -> None:
        attrs = {"filter": step.attrs["kernel"], "stride": step.attrs["stride"], "padding": padding_mode(step),
                 "activation": step.activation}
        self._op(step, op_type, step.inputs, attrs)

    def _maxpool(self, step: Step) -> None:
        self._pool(step, "MAX_POOL_2D")

    def _avgpool(self, step: Step) -> None:
        self._pool(step, "AVERAGE_POOL_2D")

    def _add(self, step: Step) -> None:
        self._op(step, "ADD", step.inputs, {"activation": step.activation})

    def _reshape(self, step: Step) -> None:
        self._op(step, "RESHAPE", step.inputs)

    def _softmax(self, step: Step) -> None:
        self._op(step, "SOFTMAX", step.inputs, {"beta": 1.0})
