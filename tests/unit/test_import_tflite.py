"""The TFLite importer against the MLPerf Tiny models: op lists read independently with the tflite package."""

from __future__ import annotations

import numpy as np
import pytest
import tflite
from tflite.utils import opcode2name

from toolchain.errors import ModelImportError
from toolchain.importers import import_tflite

MODEL_FILES = {"kws": "kws_ref_model.tflite", "resnet": "pretrainedResnet_quant.tflite", "ad01": "ad01_int8.tflite"}


def _tflite_ops(path):
    """(op type, input tensor indices, output tensor indices) straight from the flatbuffer."""
    model = tflite.Model.GetRootAs(path.read_bytes(), 0)
    sg = model.Subgraphs(0)
    ops = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex()).BuiltinCode()
        ops.append((opcode2name(code), list(op.InputsAsNumpy()), list(op.OutputsAsNumpy())))
    return model, sg, ops


@pytest.mark.parametrize("name", sorted(MODEL_FILES))
def test_ops_and_weights_match_the_flatbuffer(name, models_dir, imported_model):
    path = models_dir / MODEL_FILES[name]
    model, sg, tfl_ops = _tflite_ops(path)
    graph = imported_model(name)
    assert [op.type for op in graph.ops] == [t for t, _, _ in tfl_ops]
    for op, (_, inputs, outputs) in zip(graph.ops, tfl_ops):
        out = sg.Tensors(outputs[0])
        assert graph.tensor(op.outputs[0]).shape == tuple(out.ShapeAsNumpy())
        if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            w = sg.Tensors(inputs[1])
            raw = model.Buffers(w.Buffer()).DataAsNumpy().view(np.int8).reshape(tuple(w.ShapeAsNumpy()))
            weight = graph.weight_of(op)
            assert weight.blocks is None and weight.dtype == "int8"
            np.testing.assert_array_equal(weight.data, raw)
            scales = w.Quantization().ScaleAsNumpy()
            np.testing.assert_array_equal(weight.quant.scale, scales)
            assert weight.quant.per_channel == (len(scales) > 1)
            bias = graph.tensor(op.inputs[2])
            assert bias.dtype == "int32" and bias.shape == (weight.shape[3 if op.type == "DEPTHWISE_CONV_2D" else 0],)
        if op.type == "RESHAPE":
            assert len(op.inputs) == 1


def test_kws_structure(imported_model):
    graph = imported_model("kws")
    types = [op.type for op in graph.ops]
    assert types.count("CONV_2D") == 5 and types.count("DEPTHWISE_CONV_2D") == 4
    assert types[-4:] == ["AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    first = graph.ops[0]
    assert first.attrs == {"stride": (2, 2), "padding": "SAME", "dilation": (1, 1), "activation": "RELU"}
    dw = graph.ops[1]
    assert dw.attr("depth_multiplier") == 1 and graph.weight_of(dw).quant.axis == 3
    assert graph.ops[9].attrs["filter"] == (25, 5)
    assert graph.tensor(graph.inputs[0]).shape == (1, 49, 10, 1)
    assert graph.tensor(graph.outputs[0]).quant.scale[0] == np.float32(1 / 256)


def test_resnet_has_three_residual_adds_and_ad01_ten_dense_layers(imported_model):
    resnet = imported_model("resnet")
    assert [op.type for op in resnet.ops].count("ADD") == 3
    assert sum(op.type == "CONV_2D" for op in resnet.ops) == 9
    ad01 = imported_model("ad01")
    assert [op.type for op in ad01.ops] == ["FULLY_CONNECTED"] * 10
    assert [op.attr("activation") for op in ad01.ops] == ["RELU"] * 9 + ["NONE"]


def test_names_are_unique_readable_and_stable(models_dir, imported_model):
    graph = imported_model("resnet")
    assert len({op.name for op in graph.ops}) == len(graph.ops)
    assert graph.ops[3].name == "add_3"
    assert graph.inputs == ("input_1_int8",) and graph.outputs == ("Identity_int8",)
    again = import_tflite(models_dir / MODEL_FILES["resnet"])
    assert list(again.tensors) == list(graph.tensors)


def test_float_model_is_refused_naming_the_first_float_tensor(models_dir):
    with pytest.raises(ModelImportError, match=r"tensor 'input_1' .* is float32.*int8"):
        import_tflite(models_dir / "kws_ref_model_float32.tflite")


def test_missing_file_is_an_import_error(tmp_path):
    with pytest.raises(ModelImportError, match="cannot read"):
        import_tflite(tmp_path / "nope.tflite")


def test_import_is_deterministic_and_roundtrips(models_dir, tmp_path, capsys):
    from toolchain.cli import main
    from toolchain.ir import load

    model = models_dir / MODEL_FILES["resnet"]
    first, second = tmp_path / "a.mun", tmp_path / "b.mun"
    assert main(["import", str(model), "-o", str(first)]) == 0
    assert main(["import", str(model), "-o", str(second)]) == 0
    assert "16 ops" in capsys.readouterr().out
    assert first.read_bytes() == second.read_bytes()
    graph = load(first)
    assert graph.metadata["source_sha256"] == "3c002613d1b2475eb51dd78dfb85a546c8ae658dee71cf6ade43b022fe205415"
    assert "model/flatten/Const" not in graph.tensors  # RESHAPE's shape tensor is dropped
