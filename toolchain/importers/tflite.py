"""Import a fully int8-quantized `.tflite` model into the IR.

Two phases keep a damaged file from reaching the IR half-read:
  1. `_read_model` copies everything munify needs out of the flatbuffer into plain records. Any exception the
     flatbuffers bindings raise on garbage (struct.error, IndexError, ...) becomes one ModelImportError saying
     the file is not a valid .tflite; vector lengths are checked against the file size before they are walked.
  2. `_GraphBuilder` turns the records into a Graph, refusing float/hybrid models, unsupported ops and
     unsupported quantization with a message naming the tensor or op; `Graph.validate()` then checks every
     op's shapes against the IR's shape rules (toolchain.ir.shapes).

Layouts stay TFLite's (the IR uses them). RESHAPE's optional shape tensor is dropped: the output tensor's
shape is the truth. FULLY_CONNECTED with keep_num_dims=False and a 4D input (e.g. after a pooling layer)
keeps its input as is; the reference flattens it through the weight shape [O, I] (batch = size / I).
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tflite
from tflite.utils import BUILTIN_OPCODE2NAME
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from ..errors import IRError, ModelImportError
from ..ir import OP_TYPES, Graph, Op, Quant, Tensor, op_def

# Everything the flatbuffers bindings (and numpy views into the buffer) raise on malformed input.
_FLATBUFFER_ERRORS = (struct.error, IndexError, ValueError, TypeError, KeyError, AttributeError,
                      UnicodeDecodeError, OverflowError, AssertionError, RecursionError, MemoryError)

_TYPE_NAMES = {v: k.lower() for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
_IR_DTYPES = {tflite.TensorType.INT8: "int8", tflite.TensorType.INT32: "int32"}
_FLOAT_TYPES = (tflite.TensorType.FLOAT32, tflite.TensorType.FLOAT16, tflite.TensorType.FLOAT64,
                tflite.TensorType.BFLOAT16)
_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
_PADDINGS = {0: "SAME", 1: "VALID"}
_MAX_RANK = 6
_MAX_ELEMENTS = 1 << 28  # far beyond any microcontroller; stops a flipped bit from claiming terabytes
_OPT = tflite.BuiltinOptions


@dataclass(frozen=True)
class _TfliteOp:
    """How a TFLite builtin maps onto the munify op of the same name (`toolchain.ir.ops.OPS`)."""

    options_type: int  # the BuiltinOptions union member
    options_class: type | None  # its reader; None: munify reads nothing from it
    needs_options: bool  # the op is meaningless without them
    # Inputs TensorFlow Lite lets a model leave out with index -1 (LiteRT refuses a CONV_2D or
    # DEPTHWISE_CONV_2D that lists a bias input of -1; FULLY_CONNECTED reads its bias as optional).
    optional_inputs: frozenset[str] = frozenset()
    max_inputs: int | None = None  # fewer than the OpDef takes (PAD: a pad value input is PADV2's)


_TFLITE_OPS = {
    "CONV_2D": _TfliteOp(_OPT.Conv2DOptions, tflite.Conv2DOptions, True),
    "DEPTHWISE_CONV_2D": _TfliteOp(_OPT.DepthwiseConv2DOptions, tflite.DepthwiseConv2DOptions, True),
    "FULLY_CONNECTED": _TfliteOp(_OPT.FullyConnectedOptions, tflite.FullyConnectedOptions, False,
                                 optional_inputs=frozenset({"bias"})),
    "AVERAGE_POOL_2D": _TfliteOp(_OPT.Pool2DOptions, tflite.Pool2DOptions, True),
    "MAX_POOL_2D": _TfliteOp(_OPT.Pool2DOptions, tflite.Pool2DOptions, True),
    "ADD": _TfliteOp(_OPT.AddOptions, tflite.AddOptions, False),
    "MUL": _TfliteOp(_OPT.MulOptions, tflite.MulOptions, False),
    "SOFTMAX": _TfliteOp(_OPT.SoftmaxOptions, tflite.SoftmaxOptions, True),
    "RESHAPE": _TfliteOp(_OPT.ReshapeOptions, None, False),
    "PAD": _TfliteOp(_OPT.PadOptions, None, False, max_inputs=2),
}
_CONVERT_HINT = ("convert it with full-integer quantization (TFLiteConverter: optimizations=[DEFAULT], "
                 "a representative_dataset, inference_input_type/inference_output_type=tf.int8)")


class _Malformed(ValueError):
    """Raised while reading the flatbuffer; reported as 'not a valid .tflite file'."""


@dataclass
class _TflQuant:
    scale: np.ndarray
    zero_point: np.ndarray
    dimension: int
    custom: bool


@dataclass
class _TflTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    type: int
    data: bytes | None
    quant: _TflQuant | None
    variable: bool
    sparse: bool


@dataclass
class _TflOp:
    index: int
    type: str  # builtin name, or "CUSTOM(<code>)"
    builtin_code: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any] | None


@dataclass
class _TflModel:
    subgraphs: int
    tensors: list[_TflTensor] = field(default_factory=list)
    ops: list[_TflOp] = field(default_factory=list)
    inputs: tuple[int, ...] = ()
    outputs: tuple[int, ...] = ()
    version: int = 0


def import_tflite(path: str | Path) -> Graph:
    """Read an int8 `.tflite` model into a validated IR graph, or raise ModelImportError."""
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise ModelImportError(f"{path}: cannot read the model ({exc.strerror})") from None
    try:
        model = _read_model(buf)
    except _FLATBUFFER_ERRORS as exc:
        raise ModelImportError(f"{path}: not a valid .tflite file ({type(exc).__name__}: {exc}); "
                               "re-export the model from TensorFlow Lite") from None
    graph = _GraphBuilder(path, model, hashlib.sha256(buf).hexdigest()).build()
    try:
        graph.validate()
    except IRError as exc:
        raise ModelImportError(f"{path}: the imported graph is not valid: {exc}") from None
    return graph


# ---------------------------------------------------------------- phase 1: flatbuffer -> plain records


def _read_model(buf: bytes) -> _TflModel:
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise _Malformed("no TFL3 file identifier")
    _unpack_everything(buf)
    m = tflite.Model.GetRootAs(buf, 0)
    subgraphs = _length(m.SubgraphsLength(), buf)
    model = _TflModel(subgraphs=subgraphs, version=int(m.Version()))
    if subgraphs != 1:
        return model
    sg = m.Subgraphs(0)
    opcodes = [_read_opcode(m.OperatorCodes(i)) for i in range(_length(m.OperatorCodesLength(), buf))]
    buffers = _BufferReader(m, buf)
    model.tensors = [_read_tensor(i, sg.Tensors(i), buffers) for i in range(_length(sg.TensorsLength(), buf))]
    model.ops = [_read_op(i, sg.Operators(i), opcodes) for i in range(_length(sg.OperatorsLength(), buf))]
    model.inputs = _int_vector(sg.InputsAsNumpy())
    model.outputs = _int_vector(sg.OutputsAsNumpy())
    return model


def _unpack_everything(buf: bytes) -> None:
    """Read every field of the flatbuffer once, as TFLite Micro's Python interpreter does on load, so that a
    cut-short or damaged file fails here and not later in `verify` (munify itself reads only some fields)."""
    schema.ModelT.InitFromPackedBuf(buf, 0)


def _length(n: int, buf: bytes, item_bytes: int = 4) -> int:
    """A vector length the file can actually hold (a flipped bit can claim billions of entries)."""
    if n < 0 or n * item_bytes > len(buf):
        raise _Malformed(f"vector of {n} entries does not fit in a {len(buf)}-byte file")
    return n


def _int_vector(arr) -> tuple[int, ...]:
    return () if isinstance(arr, int) else tuple(int(v) for v in arr)


def _read_opcode(oc) -> tuple[int, str | None]:
    custom = oc.CustomCode()
    return int(oc.BuiltinCode()), custom.decode("utf-8") if custom is not None else None


class _BufferReader:
    def __init__(self, model, buf: bytes):
        self._model, self._buf = model, buf
        self._count = _length(model.BuffersLength(), buf)

    def data(self, index: int) -> bytes | None:
        """The bytes of buffer `index`, or None for an empty (activation) buffer."""
        if index == 0:
            return None
        if not 0 <= index < self._count:
            raise _Malformed(f"buffer index {index} out of range (0..{self._count - 1})")
        b = self._model.Buffers(index)
        offset, size = int(b.Offset()), int(b.Size())
        if offset > 1:  # large models keep buffer data after the flatbuffer
            if offset + size > len(self._buf):
                raise _Malformed(f"buffer {index} points past the end of the file")
            return self._buf[offset:offset + size] or None
        data = b.DataAsNumpy()
        return None if isinstance(data, int) or data.size == 0 else data.tobytes()


def _read_tensor(index: int, t, buffers: _BufferReader) -> _TflTensor:
    name = t.Name()
    return _TflTensor(
        index=index,
        name=name.decode("utf-8") if name else "",
        shape=_int_vector(t.ShapeAsNumpy()),
        type=int(t.Type()),
        data=buffers.data(int(t.Buffer())),
        quant=_read_quant(t.Quantization()),
        variable=bool(t.IsVariable()),
        sparse=t.Sparsity() is not None,
    )


def _read_quant(q) -> _TflQuant | None:
    if q is None or q.ScaleLength() == 0:
        return None
    scale = q.ScaleAsNumpy()
    zero_point = q.ZeroPointAsNumpy()
    zero_point = np.zeros(0, np.int64) if isinstance(zero_point, int) else zero_point.astype(np.int64)
    return _TflQuant(scale.astype(np.float32), zero_point, int(q.QuantizedDimension()), q.DetailsType() != 0)


def _read_op(index: int, op, opcodes: list[tuple[int, str | None]]) -> _TflOp:
    opcode_index = int(op.OpcodeIndex())
    if not 0 <= opcode_index < len(opcodes):
        raise _Malformed(f"op {index} uses opcode {opcode_index}, the model has {len(opcodes)}")
    code, custom = opcodes[opcode_index]
    op_type = f"CUSTOM({custom})" if custom is not None else BUILTIN_OPCODE2NAME.get(code, f"BUILTIN_{code}")
    return _TflOp(index, op_type, code, _int_vector(op.InputsAsNumpy()), _int_vector(op.OutputsAsNumpy()),
                  _read_options(op_type, op))


def _read_options(op_type: str, op) -> dict[str, Any] | None:
    """The raw builtin options of a supported op, {} when absent, None when of the wrong union type."""
    if op_type not in _TFLITE_OPS:
        return {}
    expected_type, options_class = _TFLITE_OPS[op_type].options_type, _TFLITE_OPS[op_type].options_class
    union_type = int(op.BuiltinOptionsType())
    table = op.BuiltinOptions()
    if union_type == _OPT.NONE or table is None:
        return {}
    if union_type != expected_type:
        return None
    if options_class is None:
        return {}
    opts = options_class()
    opts.Init(table.Bytes, table.Pos)
    getters = [g for g in ("Padding", "StrideW", "StrideH", "DilationWFactor", "DilationHFactor",
                           "DepthMultiplier", "FusedActivationFunction", "FilterWidth", "FilterHeight",
                           "Beta", "WeightsFormat", "KeepNumDims") if hasattr(opts, g)]
    return {g: getattr(opts, g)() for g in getters}


# ---------------------------------------------------------------- phase 2: records -> IR


class _GraphBuilder:
    def __init__(self, path: Path, model: _TflModel, sha256: str):
        self.path, self.model, self.sha256 = path, model, sha256
        self.names: dict[int, str] = {}
        self.tensors: dict[str, Tensor] = {}

    def fail(self, message: str) -> ModelImportError:
        return ModelImportError(f"{self.path}: {message}")

    def build(self) -> Graph:
        if self.model.subgraphs != 1:
            raise self.fail(f"the model has {self.model.subgraphs} subgraphs; munify imports single-subgraph "
                            "models only (no control flow or multiple signatures)")
        self.refuse_unsupported_ops()
        ops = [self.op_inputs_outputs(op) for op in self.model.ops]
        self.refuse_float_tensors(ops)
        self.name_tensors(ops)
        ir_ops = [self.convert_op(op, inputs, outputs) for op, (inputs, outputs) in zip(self.model.ops, ops)]
        graph_inputs = tuple(self.names[self.tensor_index(i, "graph input")] for i in self.model.inputs)
        graph_outputs = tuple(self.names[self.tensor_index(i, "graph output")] for i in self.model.outputs)
        if not graph_inputs or not graph_outputs:
            raise self.fail("the model declares no graph inputs or outputs")
        metadata = {"source": self.path.name, "source_format": "tflite", "source_sha256": self.sha256,
                    "tflite_schema_version": self.model.version}
        return Graph(self.path.stem, self.tensors, tuple(ir_ops), graph_inputs, graph_outputs, metadata)

    def tensor_index(self, index: int, where: str) -> int:
        if not 0 <= index < len(self.model.tensors):
            raise self.fail(f"{where} refers to tensor {index}, the model has {len(self.model.tensors)}; "
                            "the file is not a valid .tflite")
        if index not in self.names:
            raise self.fail(f"{where} tensor {index} is not connected to any op")
        return index

    def op_inputs_outputs(self, op: _TflOp) -> tuple[list[int], list[int]]:
        """Tensor indices of the op (-1 = absent optional input); RESHAPE's shape tensor is dropped."""
        inputs = list(op.inputs[:1]) if op.type == "RESHAPE" else list(op.inputs)
        if op.type == "RESHAPE" and len(op.inputs) > 1 and not 0 <= op.inputs[1] < len(self.model.tensors):
            raise self.fail(f"op {op.index} (RESHAPE) lists shape tensor {op.inputs[1]}, the model has "
                            f"{len(self.model.tensors)}; TensorFlow Lite would read it: the file is not valid")
        for i in inputs + list(op.outputs):
            if not -1 <= i < len(self.model.tensors):
                raise self.fail(f"op {op.index} ({op.type}) refers to tensor {i}, the model has "
                                f"{len(self.model.tensors)}; the file is not a valid .tflite")
        if len(op.outputs) != 1 or -1 in op.outputs:
            raise self.fail(f"op {op.index} ({op.type}) has {len(op.outputs)} outputs, expected 1")
        return inputs, list(op.outputs)

    def refuse_unsupported_ops(self) -> None:
        for op in self.model.ops:
            if op.type not in OP_TYPES:
                raise self.fail(f"op {op.index} is {op.type} (builtin code {op.builtin_code}), which munify "
                                f"does not support; supported ops: {', '.join(OP_TYPES)}")

    def refuse_float_tensors(self, ops: list[tuple[list[int], list[int]]]) -> None:
        for op, (inputs, outputs) in zip(self.model.ops, ops):
            for i in inputs + outputs:
                t = self.model.tensors[i] if i >= 0 else None
                if t is not None and t.type in _FLOAT_TYPES:
                    kind = "hybrid (float activations, int8 weights)" if _has_int8_weights(self.model) else "float"
                    raise self.fail(f"tensor {_label(t)} (input/output of op {op.index}, {op.type}) is "
                                    f"{_TYPE_NAMES.get(t.type, t.type)}: this is a {kind} model; munify imports "
                                    f"only fully int8-quantized models: {_CONVERT_HINT}")

    def name_tensors(self, ops: list[tuple[list[int], list[int]]]) -> None:
        """Keep TFLite names; deduplicate with a numeric suffix; name unnamed tensors by index."""
        used = sorted({i for inputs, outputs in ops for i in inputs + outputs if i >= 0}
                      | {i for i in self.model.inputs + self.model.outputs if 0 <= i < len(self.model.tensors)})
        taken: set[str] = set()
        for i in used:
            base = self.model.tensors[i].name or f"tensor_{i}"
            name, n = base, 1
            while name in taken:
                name, n = f"{base}_{n}", n + 1
            taken.add(name)
            self.names[i] = name

    def convert_op(self, op: _TflOp, inputs: list[int], outputs: list[int]) -> Op:
        if op.options is None:
            raise self.fail(f"op {op.index} ({op.type}) carries options of the wrong type; "
                            "the file is not a valid .tflite")
        roles = _input_roles(op.type, len(inputs))
        if roles is None:
            raise self.fail(f"op {op.index} ({op.type}) has {len(inputs)} inputs, which munify does not support")
        ir_inputs = []
        for role, i in zip(roles, inputs):
            if i < 0:
                if role not in _TFLITE_OPS[op.type].optional_inputs:
                    raise self.fail(f"op {op.index} ({op.type}): its {role} input is -1 (absent), and {op.type} "
                                    f"requires it; drop the input from the op or give the tensor")
                ir_inputs.append("")
                continue
            ir_inputs.append(self.add_tensor(op, i, role))
        for i in outputs:
            self.add_tensor(op, i, "output")
        attrs = _attrs(self, op)
        return Op(f"{op.type.lower()}_{op.index}", op.type, tuple(ir_inputs),
                  tuple(self.names[i] for i in outputs), attrs)

    def add_tensor(self, op: _TflOp, index: int, role: str) -> str:
        name = self.names[index]
        if name not in self.tensors:
            self.tensors[name] = _convert_tensor(self, op, self.model.tensors[index], name, role)
        else:
            _check_role(self, op, self.tensors[name], role)
        return name


def _label(t: _TflTensor) -> str:
    return f"'{t.name}'" if t.name else f"#{t.index} (unnamed)"


def _has_int8_weights(model: _TflModel) -> bool:
    return any(t.data is not None and t.type == tflite.TensorType.INT8 for t in model.tensors)


def _input_roles(op_type: str, n_inputs: int) -> tuple[str, ...] | None:
    """What each input of an op is; None when the op has an input count munify cannot run."""
    definition = op_def(op_type)
    most = _TFLITE_OPS[op_type].max_inputs or len(definition.inputs)
    if not definition.min_inputs <= n_inputs <= most:
        return None
    return tuple(rule.role for rule in definition.inputs[:n_inputs])


def _convert_tensor(b: _GraphBuilder, op: _TflOp, t: _TflTensor, name: str, role: str) -> Tensor:
    where = f"tensor '{name}' ({role} of op {op.index}, {op.type})"
    if t.sparse or t.variable:
        raise b.fail(f"{where} is {'sparse' if t.sparse else 'a variable'}; munify imports dense constant "
                     "weights and plain activations only")
    if len(t.shape) > _MAX_RANK or any(d <= 0 for d in t.shape) or math.prod(t.shape) > _MAX_ELEMENTS:
        raise b.fail(f"{where} has shape {list(t.shape)}; munify needs static, non-empty shapes of rank "
                     f"<= {_MAX_RANK} and at most {_MAX_ELEMENTS} elements")
    dtype = _IR_DTYPES.get(t.type)
    if dtype is None:
        raise b.fail(f"{where} is {_TYPE_NAMES.get(t.type, t.type)}; munify imports int8 models with int32 "
                     f"biases only: {_CONVERT_HINT}")
    data = _tensor_data(b, where, t, dtype)
    quant = _quant(b, where, t)
    tensor = Tensor(name, tuple(t.shape), dtype, quant, data)
    _check_role(b, op, tensor, role)
    return tensor


def _tensor_data(b: _GraphBuilder, where: str, t: _TflTensor, dtype: str) -> np.ndarray | None:
    if t.data is None:
        return None
    expected = math.prod(t.shape) * np.dtype(dtype).itemsize
    if len(t.data) != expected:
        raise b.fail(f"{where} has {len(t.data)} bytes of data, its shape {list(t.shape)} needs {expected}; "
                     "the file is not a valid .tflite")
    return np.frombuffer(t.data, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(t.shape)


def _quant(b: _GraphBuilder, where: str, t: _TflTensor) -> Quant | None:
    q = t.quant
    if q is None:
        return None
    if q.custom:
        raise b.fail(f"{where} uses custom quantization details, which munify does not support")
    if len(q.zero_point) != len(q.scale):
        raise b.fail(f"{where} has {len(q.scale)} scales and {len(q.zero_point)} zero points")
    if not np.all(np.isfinite(q.scale)) or np.any(q.scale <= 0):
        raise b.fail(f"{where} has a quantization scale that is not finite and positive")
    if len(q.scale) == 1:
        return Quant(q.scale, q.zero_point)
    if not 0 <= q.dimension < len(t.shape) or t.shape[q.dimension] != len(q.scale):
        raise b.fail(f"{where} has {len(q.scale)} per-channel scales along axis {q.dimension}, which does not "
                     f"fit its shape {list(t.shape)}")
    return Quant(q.scale, q.zero_point, q.dimension)


def _check_role(b: _GraphBuilder, op: _TflOp, t: Tensor, role: str) -> None:
    """Refuse a tensor whose dtype, constness or quantization munify cannot run in this role."""
    where = f"tensor '{t.name}' ({role} of op {op.index}, {op.type})"
    constant_roles = {"weight", "bias", "paddings"}
    if role in constant_roles and not t.is_constant:
        raise b.fail(f"{where} must be a constant; munify does not support computed {role}s")
    if role in ("activation", "output") and t.is_constant:
        raise b.fail(f"{where} is a constant where munify expects an activation; fold it away before export")
    expected_dtype = "int32" if role in ("bias", "paddings") else "int8"
    if t.dtype != expected_dtype:
        raise b.fail(f"{where} is {t.dtype}, expected {expected_dtype}: {_CONVERT_HINT}")
    if role == "paddings":
        return
    q = t.quant
    if q is None:
        if role == "bias":
            return
        raise b.fail(f"{where} has no quantization parameters; munify needs scale and zero point on every "
                     f"int8 tensor: {_CONVERT_HINT}")
    if role == "weight":
        _check_weight_quant(b, where, op.type, t)
    elif role != "bias":
        if q.per_channel:
            raise b.fail(f"{where} is quantized per channel; munify supports per-channel quantization for "
                         "weights only (activations must be per-tensor)")
        if not -128 <= int(q.zero_point[0]) <= 127:
            raise b.fail(f"{where} has zero point {int(q.zero_point[0])} outside the int8 range")


def _check_weight_quant(b: _GraphBuilder, where: str, op_type: str, t: Tensor) -> None:
    q = t.quant
    if np.any(q.zero_point != 0):
        raise b.fail(f"{where} has non-zero weight zero points; munify supports symmetric int8 weights "
                     "(TFLite's int8 scheme)")
    axis = op_def(op_type).weight_channel_axis
    if q.per_channel and q.axis != axis:
        raise b.fail(f"{where} is quantized per channel along axis {q.axis}; {op_type} weights must be "
                     f"quantized along their output-channel axis {axis}")


def _attrs(b: _GraphBuilder, op: _TflOp) -> dict[str, Any]:
    o = op.options
    needs_options = _TFLITE_OPS[op.type].needs_options
    if needs_options and not o:
        raise b.fail(f"op {op.index} ({op.type}) has no builtin options; the file is not a valid .tflite")
    attrs: dict[str, Any] = {}
    if "FusedActivationFunction" in o:
        act = o["FusedActivationFunction"]
        if act not in _ACTIVATIONS:
            raise b.fail(f"op {op.index} ({op.type}) uses fused activation {act}, which munify does not support "
                         f"(supported: {', '.join(_ACTIVATIONS.values())})")
        attrs["activation"] = _ACTIVATIONS[act]
    if "Padding" in o:
        if o["Padding"] not in _PADDINGS:
            raise b.fail(f"op {op.index} ({op.type}) has unknown padding {o['Padding']}")
        attrs["padding"] = _PADDINGS[o["Padding"]]
    for attr, (h, w) in {"stride": ("StrideH", "StrideW"), "dilation": ("DilationHFactor", "DilationWFactor"),
                         "filter": ("FilterHeight", "FilterWidth")}.items():
        if h in o:
            attrs[attr] = (int(o[h]), int(o[w]))
            if min(attrs[attr]) < 1:
                raise b.fail(f"op {op.index} ({op.type}) has {attr} {attrs[attr]}; it must be >= 1")
    if op.type == "DEPTHWISE_CONV_2D":
        attrs["depth_multiplier"] = int(o["DepthMultiplier"])
    if op.type == "SOFTMAX":
        attrs["beta"] = float(o["Beta"])
        if not math.isfinite(attrs["beta"]) or attrs["beta"] <= 0:
            raise b.fail(f"op {op.index} (SOFTMAX) has beta {attrs['beta']}; it must be finite and positive")
    if o.get("WeightsFormat", 0) != 0:
        raise b.fail(f"op {op.index} (FULLY_CONNECTED) uses shuffled weights, which munify does not support")
    return attrs
