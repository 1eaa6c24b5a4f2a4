"""The importer on small models built here with the flatbuffers builder: every supported op and option, and
one refusal per unsupported feature (op, quantization, dtype, subgraphs), each with a message naming it.

The valid model is also loaded by LiteRT, so "valid" here means what TensorFlow Lite means.
"""

from __future__ import annotations

import copy

import flatbuffers
import numpy as np
import pytest
import tflite
from tflite.BuiltinOperator import BuiltinOperator as BO
from tflite.TensorType import TensorType as TT

from toolchain.errors import ModelImportError
from toolchain.importers import import_tflite
from toolchain.summary import summarize

RNG = np.random.default_rng(7)


def _q(scale, zero_point=0, dim=0):
    scale = np.atleast_1d(np.asarray(scale, np.float32))
    zero_point = np.broadcast_to(np.asarray(zero_point, np.int64), scale.shape)
    return {"scale": scale, "zero_point": zero_point, "dim": dim}


def base_spec() -> dict:
    """input 1x8x8x4 -> PAD -> DEPTHWISE (x2) -> MAX_POOL -> MUL(x, x) -> FC on the 4D tensor -> 1x3."""
    t = {
        "input": dict(shape=[1, 8, 8, 4], type=TT.INT8, quant=_q(0.05, -3)),
        "paddings": dict(shape=[4, 2], type=TT.INT32, data=np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)),
        "padded": dict(shape=[1, 10, 10, 4], type=TT.INT8, quant=_q(0.05, -3)),
        "dw_w": dict(shape=[1, 3, 3, 8], type=TT.INT8, quant=_q(np.linspace(0.01, 0.02, 8), 0, 3),
                     data=RNG.integers(-127, 128, (1, 3, 3, 8)).astype(np.int8)),
        "dw_b": dict(shape=[8], type=TT.INT32, quant=_q(np.linspace(0.01, 0.02, 8) * 0.05, 0, 0),
                     data=RNG.integers(-500, 500, 8).astype(np.int32)),
        "dw_out": dict(shape=[1, 8, 8, 8], type=TT.INT8, quant=_q(0.04, -128)),
        "pooled": dict(shape=[1, 4, 4, 8], type=TT.INT8, quant=_q(0.04, -128)),
        "squared": dict(shape=[1, 4, 4, 8], type=TT.INT8, quant=_q(0.02, -128)),
        "fc_w": dict(shape=[3, 128], type=TT.INT8, quant=_q(0.003),
                     data=RNG.integers(-127, 128, (3, 128)).astype(np.int8)),
        "fc_b": dict(shape=[3], type=TT.INT32, quant=_q(0.003 * 0.02), data=np.array([1, -2, 3], np.int32)),
        "logits": dict(shape=[1, 3], type=TT.INT8, quant=_q(0.1, 5)),
    }
    ops = [
        dict(code=BO.PAD, inputs=["input", "paddings"], outputs=["padded"], options=("PadOptions", {})),
        dict(code=BO.DEPTHWISE_CONV_2D, inputs=["padded", "dw_w", "dw_b"], outputs=["dw_out"],
             options=("DepthwiseConv2DOptions", dict(Padding=1, StrideW=1, StrideH=1, DepthMultiplier=2,
                                                     FusedActivationFunction=3, DilationWFactor=1,
                                                     DilationHFactor=1))),
        dict(code=BO.MAX_POOL_2D, inputs=["dw_out"], outputs=["pooled"],
             options=("Pool2DOptions", dict(Padding=1, StrideW=2, StrideH=2, FilterWidth=2, FilterHeight=2,
                                            FusedActivationFunction=0))),
        dict(code=BO.MUL, inputs=["pooled", "pooled"], outputs=["squared"],
             options=("MulOptions", dict(FusedActivationFunction=2))),
        dict(code=BO.FULLY_CONNECTED, inputs=["squared", "fc_w", "fc_b"], outputs=["logits"],
             options=("FullyConnectedOptions", dict(FusedActivationFunction=0, KeepNumDims=False))),
    ]
    return {"tensors": t, "ops": ops, "inputs": ["input"], "outputs": ["logits"], "subgraphs": 1}


def build(spec: dict) -> bytes:
    """Serialize a spec to a .tflite flatbuffer with the generated tflite builder functions."""
    b = flatbuffers.Builder(4096)
    names = list(spec["tensors"])
    index = {name: i for i, name in enumerate(names)}
    buffers = [_table(b, "Buffer", {})]
    tensor_offsets = []
    for name in names:
        t = spec["tensors"][name]
        buffer = 0
        if t.get("data") is not None:
            data = b.CreateNumpyVector(np.frombuffer(np.ascontiguousarray(t["data"]).tobytes(), np.uint8))
            buffers.append(_table(b, "Buffer", {"Data": data}))
            buffer = len(buffers) - 1
        fields = {"Name": b.CreateString(t.get("name", name)), "Shape": b.CreateNumpyVector(np.array(t["shape"], np.int32)),
                  "Type": t["type"], "Buffer": buffer}
        if t.get("quant") is not None:
            q = t["quant"]
            fields["Quantization"] = _table(b, "QuantizationParameters", {
                "Scale": b.CreateNumpyVector(q["scale"]), "ZeroPoint": b.CreateNumpyVector(q["zero_point"]),
                "QuantizedDimension": q["dim"]})
        tensor_offsets.append(_table(b, "Tensor", fields))
    codes = []
    op_offsets = []
    for op in spec["ops"]:
        key = (op["code"], op.get("custom"))
        if key not in codes:
            codes.append(key)
        opt_name, opt_fields = op["options"]
        fields = {"OpcodeIndex": codes.index(key),
                  "Inputs": b.CreateNumpyVector(np.array([index.get(n, -1) for n in op["inputs"]], np.int32)),
                  "Outputs": b.CreateNumpyVector(np.array([index[n] for n in op["outputs"]], np.int32))}
        if opt_name:
            fields["BuiltinOptionsType"] = getattr(tflite.BuiltinOptions, opt_name)
            fields["BuiltinOptions"] = _table(b, opt_name, opt_fields)
        op_offsets.append(_table(b, "Operator", fields))
    code_offsets = []
    for code, custom in codes:
        fields = {"DeprecatedBuiltinCode": min(code, 127), "BuiltinCode": code, "Version": 1}
        if custom:
            fields["CustomCode"] = b.CreateString(custom)
        code_offsets.append(_table(b, "OperatorCode", fields))
    subgraph_fields = {
        "Tensors": _vector(b, tensor_offsets), "Operators": _vector(b, op_offsets),
        "Inputs": b.CreateNumpyVector(np.array([index[n] for n in spec["inputs"]], np.int32)),
        "Outputs": b.CreateNumpyVector(np.array([index[n] for n in spec["outputs"]], np.int32)),
        "Name": b.CreateString("main"),
    }
    subgraph = _table(b, "SubGraph", subgraph_fields)
    model = _table(b, "Model", {"Version": 3, "OperatorCodes": _vector(b, code_offsets),
                                "Subgraphs": _vector(b, [subgraph] * spec["subgraphs"]),
                                "Buffers": _vector(b, buffers)})
    b.Finish(model, file_identifier=b"TFL3")
    return bytes(b.Output())


def _table(b, name: str, fields: dict) -> int:
    getattr(tflite, f"{name}Start")(b)
    for field, value in fields.items():
        getattr(tflite, f"{name}Add{field}")(b, value)
    return getattr(tflite, f"{name}End")(b)


def _vector(b, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _import(spec: dict, tmp_path):
    path = tmp_path / "synthetic.tflite"
    path.write_bytes(build(spec))
    return import_tflite(path)


def test_builder_makes_a_model_litert_runs(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=build(base_spec()))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.zeros((1, 8, 8, 4), np.int8))
    interpreter.invoke()
    assert interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).shape == (1, 3)


def test_every_supported_op_and_option_is_mapped(tmp_path):
    spec = base_spec()
    graph = _import(spec, tmp_path)
    pad, dw, pool, mul, fc = graph.ops
    assert [op.type for op in graph.ops] == ["PAD", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "MUL", "FULLY_CONNECTED"]
    assert pad.inputs == ("input", "paddings")
    np.testing.assert_array_equal(graph.tensor("paddings").data, spec["tensors"]["paddings"]["data"])
    assert dw.attrs == {"padding": "VALID", "stride": (1, 1), "dilation": (1, 1), "depth_multiplier": 2,
                        "activation": "RELU6"}
    assert graph.tensor("dw_w").quant.axis == 3 and len(graph.tensor("dw_w").quant.scale) == 8
    np.testing.assert_array_equal(graph.tensor("dw_b").data, spec["tensors"]["dw_b"]["data"])
    assert pool.attrs == {"padding": "VALID", "stride": (2, 2), "filter": (2, 2), "activation": "NONE"}
    assert mul.inputs == ("pooled", "pooled") and mul.attrs == {"activation": "RELU_N1_TO_1"}
    assert fc.inputs == ("squared", "fc_w", "fc_b") and graph.tensor("squared").shape == (1, 4, 4, 8)
    assert graph.tensor("input").quant.zero_point[0] == -3 and graph.tensor("input").quant.axis is None
    assert summarize(graph).macs == 8 * 8 * 8 * 9 + 3 * 128


def test_absent_bias_becomes_an_empty_input(tmp_path):
    spec = base_spec()
    spec["ops"][4]["inputs"][2] = ""  # serialized as tensor index -1
    del spec["tensors"]["fc_b"]
    graph = _import(spec, tmp_path)
    assert graph.ops[-1].inputs == ("squared", "fc_w", "")


@pytest.mark.parametrize("op, position, role", [(1, 2, "bias"), (1, 1, "weight"), (4, 0, "activation"),
                                                 (0, 1, "paddings")])
def test_absent_required_input_is_refused(op, position, role, tmp_path):
    """Index -1 is only for inputs TensorFlow Lite reads as optional (the FULLY_CONNECTED bias): LiteRT
    refuses a depthwise bias of -1 and crashes on other absent inputs."""
    spec = base_spec()
    spec["ops"][op]["inputs"][position] = ""  # serialized as tensor index -1
    with pytest.raises(ModelImportError, match=rf"op {op} \(.*\): its {role} input is -1 \(absent\)"):
        _import(spec, tmp_path)


def test_reshape_shape_input_out_of_range_is_refused(tmp_path):
    spec = base_spec()
    spec["tensors"]["flat"] = dict(shape=[1, 128], type=TT.INT8, quant=_q(0.02, -128))
    spec["ops"].insert(4, dict(code=BO.RESHAPE, inputs=["squared", ""], outputs=["flat"],
                               options=("ReshapeOptions", {})))
    spec["ops"][5]["inputs"][0] = "flat"
    with pytest.raises(ModelImportError, match=r"op 4 \(RESHAPE\) lists shape tensor -1"):
        _import(spec, tmp_path)


def test_file_cut_short_by_one_byte_is_refused(tmp_path, models_dir):
    """The importer reads every field of the flatbuffer, not just the ones munify uses: a cut in a field
    only the interpreters read would otherwise import and fail later in `verify`."""
    for model in ("ad01_int8.tflite", "kws_ref_model.tflite"):
        path = tmp_path / model
        path.write_bytes((models_dir / model).read_bytes()[:-1])
        with pytest.raises(ModelImportError, match="not a valid .tflite file"):
            import_tflite(path)


def test_duplicate_and_missing_tensor_names_are_made_unique(tmp_path):
    spec = base_spec()
    spec["tensors"]["squared"]["name"] = "pooled"  # two tensors called "pooled" in the flatbuffer
    spec["tensors"]["dw_out"]["name"] = ""
    graph = _import(spec, tmp_path)
    assert graph.ops[2].outputs == ("pooled",) and graph.ops[3].outputs == ("pooled_1",)
    assert graph.ops[4].inputs[0] == "pooled_1"
    assert graph.ops[1].outputs == ("tensor_5",)  # unnamed: named by its TFLite index


def _mutated(change) -> dict:
    spec = copy.deepcopy(base_spec())
    change(spec)
    return spec


def _set_tensor(name, **fields):
    return lambda s: s["tensors"][name].update(fields)


def _set_op(i, **fields):
    return lambda s: s["ops"][i].update(fields)


REFUSALS = {
    "unsupported op": (_set_op(3, code=BO.SUB, options=("SubOptions", {})),
                       r"op 3 is SUB \(builtin code 41\), which munify does not support"),
    "unsupported op with two outputs": (
        lambda s: s["ops"][2].update(code=BO.SPLIT, outputs=["pooled", "squared"], options=(None, {})),
        r"op 2 is SPLIT \(builtin code 49\), which munify does not support"),
    "custom op": (_set_op(2, code=BO.CUSTOM, custom="MyPool", options=(None, {})),
                  r"op 2 is CUSTOM\(MyPool\)"),
    "two subgraphs": (lambda s: s.update(subgraphs=2), r"2 subgraphs"),
    "float activation": (_set_tensor("pooled", type=TT.FLOAT32, quant=None),
                         r"tensor 'pooled' \(input/output of op 2, MAX_POOL_2D\) is float32"),
    "int16 activations": (_set_tensor("input", type=TT.INT16),
                          r"tensor 'input' \(activation of op 0, PAD\) is int16"),
    "uint8 model": (_set_tensor("input", type=TT.UINT8), r"tensor 'input' .* is uint8"),
    "per-channel activation": (_set_tensor("input", quant=_q([0.1, 0.2, 0.3, 0.4], 0, 3)),
                               r"tensor 'input' .* quantized per channel; .* weights only"),
    "missing activation quantization": (_set_tensor("dw_out", quant=None),
                                        r"tensor 'dw_out' .* has no quantization parameters"),
    "missing weight quantization": (_set_tensor("fc_w", quant=None),
                                    r"tensor 'fc_w' \(weight of op 4, FULLY_CONNECTED\) has no quantization"),
    "asymmetric weights": (_set_tensor("fc_w", quant=_q(0.003, 4)), r"tensor 'fc_w' .* non-zero weight zero"),
    "per-channel along the wrong axis": (_set_tensor("dw_w", quant=_q(np.full(3, 0.01), 0, 1)),
                                         r"tensor 'dw_w' .* along axis 1; DEPTHWISE_CONV_2D weights .* axis 3"),
    "computed weights": (_set_tensor("fc_w", data=None), r"tensor 'fc_w' .* must be a constant"),
    "int8 bias": (_set_tensor("fc_b", type=TT.INT8, data=np.array([1, 2, 3], np.int8)),
                  r"tensor 'fc_b' \(bias of op 4, FULLY_CONNECTED\) is int8, expected int32"),
    "fused tanh": (_set_op(3, options=("MulOptions", dict(FusedActivationFunction=4))),
                   r"op 3 \(MUL\) uses fused activation 4"),
    "options of the wrong type": (_set_op(2, options=("Conv2DOptions", dict(Padding=1, StrideW=2, StrideH=2))),
                                  r"op 2 \(MAX_POOL_2D\) carries options of the wrong type"),
    "missing conv options": (_set_op(1, options=(None, {})), r"op 1 \(DEPTHWISE_CONV_2D\) has no builtin options"),
    "wrong output shape": (_set_tensor("pooled", shape=[1, 5, 5, 8]),
                           r"op 'max_pool_2d_2' \(MAX_POOL_2D\): output 'pooled' has shape \[1, 5, 5, 8\], "
                           r"expected \[1, 4, 4, 8\]"),
    "depth multiplier disagrees": (_set_op(1, options=("DepthwiseConv2DOptions", dict(
        Padding=1, StrideW=1, StrideH=1, DepthMultiplier=1, DilationWFactor=1, DilationHFactor=1))),
        r"depth multiplier 1"),
    "weight data of the wrong size": (_set_tensor("fc_w", data=np.zeros(100, np.int8)),
                                      r"tensor 'fc_w' .* has 100 bytes of data, its shape \[3, 128\] needs 384"),
    "dynamic shape": (_set_tensor("input", shape=[-1, 8, 8, 4]), r"tensor 'input' .* static, non-empty shapes"),
    "zero stride": (_set_op(2, options=("Pool2DOptions", dict(Padding=1, StrideW=0, StrideH=2, FilterWidth=2,
                                                              FilterHeight=2))),
                    r"op 2 \(MAX_POOL_2D\) has stride \(2, 0\); it must be >= 1"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_unsupported_features_are_refused_by_name(case, tmp_path):
    change, pattern = REFUSALS[case]
    with pytest.raises(ModelImportError, match=pattern):
        _import(_mutated(change), tmp_path)


@pytest.mark.parametrize("against", ["litert", "tflm"])
def test_imported_ops_run_bit_exact_in_the_reference(against, tmp_path):
    """The attributes mapped above mean what TFLite means: the reference on the IR matches the interpreters."""
    from toolchain.verify import verify_model

    path = tmp_path / "synthetic.tflite"
    path.write_bytes(build(base_spec()))
    report = verify_model(path, against=against, n=3, seed=1)
    assert report.bit_exact, report.summary()
