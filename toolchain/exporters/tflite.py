"""Export an IR graph as an int8 `.tflite` model that LiteRT and TensorFlow Lite Micro run.

The file is built with the object API of LiteRT's own generated schema bindings
(`ai_edge_litert.schema_py_generated`), so every field is the schema's, not a hand-made flatbuffer.
Compressed graphs export their weights as plain dense int8 tensors: a unified block is a run of weights of equal
magnitude and a pruned block a run of zeros, so any TFLite runtime computes exactly what munify's kernels
compute, only without the speed-up. That makes a compressed model checkable in the runtime a user already
trusts (`munify verify` on the exported file).

Layouts are TFLite's already (the IR uses them). What the IR drops on import is rebuilt here: RESHAPE gets its
int32 shape tensor, and a bias without quantization parameters gets the scheme's input_scale * weight_scale.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from ..errors import MunifyError
from ..fsutil import atomic_write_bytes
from ..ir import Graph, Op, Quant, Tensor, op_def

TFLITE_SCHEMA_VERSION = 3
# TFLite's builtin operator codes and, per op, the options table and the op version the TFLite converter
# assigns for int8 tensors (the runtimes' resolvers accept it; the kernels do not depend on it).
_OPS = {
    "CONV_2D": (schema.BuiltinOperator.CONV_2D, 3),
    "DEPTHWISE_CONV_2D": (schema.BuiltinOperator.DEPTHWISE_CONV_2D, 3),
    "FULLY_CONNECTED": (schema.BuiltinOperator.FULLY_CONNECTED, 4),
    "AVERAGE_POOL_2D": (schema.BuiltinOperator.AVERAGE_POOL_2D, 2),
    "MAX_POOL_2D": (schema.BuiltinOperator.MAX_POOL_2D, 2),
    "ADD": (schema.BuiltinOperator.ADD, 2),
    "MUL": (schema.BuiltinOperator.MUL, 2),
    "RESHAPE": (schema.BuiltinOperator.RESHAPE, 1),
    "SOFTMAX": (schema.BuiltinOperator.SOFTMAX, 2),
    "PAD": (schema.BuiltinOperator.PAD, 2),
}
_TENSOR_TYPES = {"int8": schema.TensorType.INT8, "int16": schema.TensorType.INT16,
                 "int32": schema.TensorType.INT32, "float32": schema.TensorType.FLOAT32}
_ACTIVATIONS = {"NONE": schema.ActivationFunctionType.NONE, "RELU": schema.ActivationFunctionType.RELU,
                "RELU_N1_TO_1": schema.ActivationFunctionType.RELU_N1_TO_1,
                "RELU6": schema.ActivationFunctionType.RELU6}
_PADDINGS = {"SAME": schema.Padding.SAME, "VALID": schema.Padding.VALID}


def export_tflite(graph: Graph, path: str | Path) -> Path:
    """Write `graph` as a .tflite file (atomically) and return its path."""
    path = Path(path)
    atomic_write_bytes(path, tflite_bytes(graph))
    return path


def tflite_bytes(graph: Graph) -> bytes:
    graph.validate()
    model = _ModelWriter(graph).model()
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class _ModelWriter:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.buffers = [schema.BufferT()]  # buffer 0: the empty buffer of every activation
        self.tensors: list[schema.TensorT] = []
        self.tensor_index: dict[str, int] = {}
        self.opcodes: list[schema.OperatorCodeT] = []
        self.opcode_index: dict[str, int] = {}

    def model(self) -> schema.ModelT:
        operators = [self.operator(op) for op in self.graph.ops]
        subgraph = schema.SubGraphT()
        subgraph.name = "main"
        subgraph.tensors = self.tensors
        subgraph.operators = operators
        subgraph.inputs = [self.tensor_index[n] for n in self.graph.inputs]
        subgraph.outputs = [self.tensor_index[n] for n in self.graph.outputs]
        model = schema.ModelT()
        model.version = TFLITE_SCHEMA_VERSION
        model.description = f"munify export of {self.graph.name}"
        model.operatorCodes = self.opcodes
        model.subgraphs = [subgraph]
        model.buffers = self.buffers
        return model

    def operator(self, op: Op) -> schema.OperatorT:
        if op.type not in _OPS:
            raise MunifyError(f"op '{op.name}' ({op.type}) has no TFLite export; export supports "
                              f"{', '.join(_OPS)}")
        operator = schema.OperatorT()
        operator.opcodeIndex = self.opcode(op.type)
        operator.inputs = [self.input_tensor(op, i, name) for i, name in enumerate(op.inputs)]
        if op.type == "RESHAPE":
            operator.inputs.append(self.constant_tensor(f"{op.name}/shape", _reshape_target(self.graph, op)))
        operator.outputs = [self.tensor(self.graph.tensor(name)) for name in op.outputs]
        operator.builtinOptionsType, operator.builtinOptions = _options(self.graph, op)
        return operator

    def opcode(self, op_type: str) -> int:
        if op_type not in self.opcode_index:
            code, version = _OPS[op_type]
            opcode = schema.OperatorCodeT()
            opcode.builtinCode = code
            opcode.deprecatedBuiltinCode = min(code, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
            opcode.version = version
            self.opcode_index[op_type] = len(self.opcodes)
            self.opcodes.append(opcode)
        return self.opcode_index[op_type]

    def input_tensor(self, op: Op, position: int, name: str) -> int:
        if not name:
            return -1  # an absent optional input (no bias)
        tensor = self.graph.tensor(name)
        if position == 2 and op_def(op.type).weighted and tensor.quant is None:
            tensor = tensor.replace(quant=_bias_quant(self.graph, op))
        return self.tensor(tensor)

    def tensor(self, t: Tensor) -> int:
        if t.name in self.tensor_index:
            return self.tensor_index[t.name]
        out = schema.TensorT()
        out.name = t.name
        out.shape = list(t.shape)
        out.type = _TENSOR_TYPES[t.dtype]
        out.buffer = self.buffer(t.data) if t.data is not None else 0
        if t.quant is not None:
            out.quantization = _quantization(t)
        self.tensor_index[t.name] = len(self.tensors)
        self.tensors.append(out)
        return self.tensor_index[t.name]

    def constant_tensor(self, name: str, data: np.ndarray) -> int:
        while name in self.graph.tensors or name in self.tensor_index:
            name += "_"
        return self.tensor(Tensor(name, tuple(data.shape), str(data.dtype), None, data))

    def buffer(self, data: np.ndarray) -> int:
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<")).tobytes(),
                                    dtype=np.uint8)
        self.buffers.append(buffer)
        return len(self.buffers) - 1


def _quantization(t: Tensor) -> schema.QuantizationParametersT:
    q = schema.QuantizationParametersT()
    q.scale = [float(s) for s in t.quant.scale]
    q.zeroPoint = [int(z) for z in t.quant.zero_point]
    q.quantizedDimension = t.quant.axis or 0
    return q


def _bias_quant(graph: Graph, op: Op):
    """TFLite's scheme: bias scale = input scale * weight scale (per output channel), zero point 0."""
    x, w = graph.tensor(op.inputs[0]).quant, graph.tensor(op.inputs[1]).quant
    scales = x.scale[0].astype(np.float64) * w.scale.astype(np.float64)
    return Quant(scales.astype(np.float32), np.zeros(len(scales), np.int64), 0 if w.per_channel else None)


def _reshape_target(graph: Graph, op: Op) -> np.ndarray:
    return np.array(graph.tensor(op.outputs[0]).shape, dtype=np.int32)


def _options(graph: Graph, op: Op):
    kind = schema.BuiltinOptions
    if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        depthwise = op.type == "DEPTHWISE_CONV_2D"
        o = schema.DepthwiseConv2DOptionsT() if depthwise else schema.Conv2DOptionsT()
        o.padding = _PADDINGS[op.attr("padding")]
        o.strideH, o.strideW = op.attr("stride")
        o.dilationHFactor, o.dilationWFactor = op.attr("dilation")
        o.fusedActivationFunction = _ACTIVATIONS[op.attr("activation")]
        if depthwise:
            o.depthMultiplier = op.attr("depth_multiplier")
            return kind.DepthwiseConv2DOptions, o
        return kind.Conv2DOptions, o
    if op.type in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        o = schema.Pool2DOptionsT()
        o.padding = _PADDINGS[op.attr("padding")]
        o.strideH, o.strideW = op.attr("stride")
        o.filterHeight, o.filterWidth = op.attr("filter")
        o.fusedActivationFunction = _ACTIVATIONS[op.attr("activation")]
        return kind.Pool2DOptions, o
    if op.type == "FULLY_CONNECTED":
        o = schema.FullyConnectedOptionsT()
        o.fusedActivationFunction = _ACTIVATIONS[op.attr("activation")]
        o.keepNumDims = _keeps_num_dims(graph, op)
        return kind.FullyConnectedOptions, o
    if op.type in ("ADD", "MUL"):
        o = schema.AddOptionsT() if op.type == "ADD" else schema.MulOptionsT()
        o.fusedActivationFunction = _ACTIVATIONS[op.attr("activation")]
        return (kind.AddOptions if op.type == "ADD" else kind.MulOptions), o
    if op.type == "SOFTMAX":
        o = schema.SoftmaxOptionsT()
        o.beta = float(op.attr("beta"))
        return kind.SoftmaxOptions, o
    if op.type == "RESHAPE":
        o = schema.ReshapeOptionsT()
        o.newShape = list(graph.tensor(op.outputs[0]).shape)
        return kind.ReshapeOptions, o
    return kind.PadOptions, schema.PadOptionsT()


def _keeps_num_dims(graph: Graph, op: Op) -> bool:
    """keep_num_dims=True where the output keeps the input's leading dimensions (rank > 2)."""
    x, out = graph.tensor(op.inputs[0]).shape, graph.tensor(op.outputs[0]).shape
    return len(out) > 2 and tuple(out[:-1]) == tuple(x[:-1])
