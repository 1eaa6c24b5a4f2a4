"""The third-party interpreters run in a child process: a model that crashes one (LiteRT segfaults on a
RESHAPE whose shape input index is -1) or a file cut short is a one-line MunifyError naming the interpreter
and the model, never a dead munify or a traceback."""

from __future__ import annotations

import pytest
import tflite

from toolchain.cli import main
from toolchain.errors import MunifyError
from toolchain.inputs import draw_inputs
from toolchain.interpreters import make_interpreter
from toolchain.ir import reference


def reshape_shape_input_removed(source: bytes) -> bytes:
    """The model with the RESHAPE's second input index (its shape tensor) set to -1."""
    model = tflite.Model.GetRootAs(source, 0)
    graph = model.Subgraphs(0)
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        if model.OperatorCodes(op.OpcodeIndex()).BuiltinCode() == tflite.BuiltinOperator.RESHAPE:
            table = op._tab
            start = table.Vector(table.Offset(6))  # Operator.inputs
            patched = bytearray(source)
            patched[start + 4:start + 8] = (-1).to_bytes(4, "little", signed=True)
            return bytes(patched)
    raise AssertionError("the model has no RESHAPE")


@pytest.fixture
def crashing_model(tmp_path, models_dir):
    path = tmp_path / "kws_reshape_minus_one.tflite"
    path.write_bytes(reshape_shape_input_removed((models_dir / "kws_ref_model.tflite").read_bytes()))
    return path


def test_a_litert_segfault_is_a_munify_error_naming_interpreter_and_model(crashing_model, imported_model):
    inputs = draw_inputs(imported_model("kws"), 1, 0)[0]
    with pytest.raises(MunifyError) as info:
        with make_interpreter("litert", crashing_model) as litert:
            litert.run_all(inputs)
    message = str(info.value)
    assert "LiteRT crashed" in message and "SIGSEGV" in message and str(crashing_model) in message
    assert "\n" not in message


def test_the_isolated_interpreters_answer_like_the_in_process_ones(models_dir, imported_model):
    graph = imported_model("ad01")
    inputs = draw_inputs(graph, 1, 0)[0]
    with make_interpreter("tflm", models_dir / "ad01_int8.tflite") as tflm, \
            make_interpreter("litert", models_dir / "ad01_int8.tflite") as litert:
        assert not tflm.keeps_intermediates and litert.keeps_intermediates
        assert litert.single_rounding == frozenset({"FULLY_CONNECTED"})
        (out,) = tflm.run(inputs)
        assert out.reshape(-1).tolist() == reference.run(graph, inputs)[0].reshape(-1).tolist()
        expected = reference.run_all(graph, inputs, single_rounding=litert.single_rounding)
        tensors = litert.run_all(inputs)
        assert all(tensors[op.outputs[0]].tolist() == expected[op.outputs[0]].tolist() for op in graph.ops)
        process = tflm._process
    assert not process.is_alive()


@pytest.mark.parametrize("against,expected", [("tflm", "TensorFlow Lite Micro cannot load the model"),
                                              ("litert", "LiteRT cannot load the model")])
def test_a_truncated_file_is_a_clean_error(tmp_path, models_dir, against, expected):
    cut = tmp_path / "cut.tflite"
    cut.write_bytes((models_dir / "ad01_int8.tflite").read_bytes()[:-1])
    with pytest.raises(MunifyError, match=expected):
        make_interpreter(against, cut)
    assert main(["verify", str(cut), "--against", against, "--inputs", "1"]) == 2


def test_an_interpreter_that_does_not_answer_is_stopped(monkeypatch, models_dir):
    monkeypatch.setattr("toolchain.interpreters.CALL_TIMEOUT_S", 0.01)  # shorter than a child's start-up
    with pytest.raises(MunifyError, match="TensorFlow Lite Micro did not answer within 0.01 s"):
        make_interpreter("tflm", models_dir / "ad01_int8.tflite")
