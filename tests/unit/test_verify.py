"""Acceptance: the reference is bit-exact with TensorFlow Lite Micro on the MLPerf Tiny models and with LiteRT
on every intermediate tensor; verify notices and locates a difference; inputs stay unsaturated."""

import dataclasses
import json

import numpy as np
import pytest

from toolchain.cli import main
from toolchain.inputs import draw_inputs
from toolchain.interpreters import LiteRTInterpreter, TflmInterpreter
from toolchain.ir import OPS, reference
from toolchain.verify import verify_model

MODELS = {"kws": "kws_ref_model.tflite", "resnet": "pretrainedResnet_quant.tflite", "ad01": "ad01_int8.tflite"}


@pytest.fixture
def model_path(models_dir):
    return lambda name: models_dir / MODELS[name]


@pytest.mark.parametrize("model", ["kws", "resnet", "ad01"])
def test_bit_exact_against_tflm(model, model_path):
    report = verify_model(model_path(model), "tflm", n=10, seed=0)
    assert report.bit_exact, report.summary()
    assert report.mismatches == 0 and report.max_abs_diff == 0
    assert all(d.elements > 0 for d in report.outputs)


def test_bit_exact_against_litert_on_every_intermediate(model_path):
    report = verify_model(model_path("kws"), "litert", n=10, seed=3)
    assert report.bit_exact, report.summary()
    assert len(report.intermediates) == 13 and all(d.elements > 0 for d in report.intermediates)


def test_litert_single_rounding_is_needed_for_its_fully_connected(imported_model, model_path):
    # Without single rounding on FULLY_CONNECTED the first op of AD01 already differs from LiteRT on ties.
    graph = imported_model("ad01")
    litert = LiteRTInterpreter(model_path("ad01"))
    first_op_output = graph.ops[0].outputs[0]
    differing = 0
    for inputs in draw_inputs(graph, 10, 0):
        actual = litert.run_all(inputs)[first_op_output]
        differing += np.count_nonzero(reference.run_all(graph, inputs)[first_op_output] != actual)
        tuned = reference.run_all(graph, inputs, single_rounding=litert.single_rounding)
        assert np.array_equal(tuned[first_op_output], actual)
    assert differing > 0


def test_verify_names_the_first_differing_op(monkeypatch, model_path):
    """Perturb the reference's third op by one step: LiteRT comparison must blame exactly that op."""
    graph_ops = []
    original = OPS["ADD"].reference

    def off_by_one_add(graph, op, values, rounding):
        graph_ops.append(op.name)
        out = original(graph, op, values, rounding).astype(np.int16) + 1
        return np.clip(out, -128, 127).astype(np.int8)

    monkeypatch.setitem(OPS, "ADD", dataclasses.replace(OPS["ADD"], reference=off_by_one_add))
    report = verify_model(model_path("resnet"), "litert", n=2, seed=0)
    assert not report.bit_exact
    assert report.first_mismatch_op == graph_ops[0] and report.first_mismatch_op_type == "ADD"
    assert report.to_json()["first_mismatch_op"] == graph_ops[0]


def test_cli_verify_json_and_exit_codes(tmp_path, capsys, monkeypatch, model_path):
    out = tmp_path / "v.json"
    model = str(model_path("ad01"))
    assert main(["verify", model, "--against", "tflm", "--inputs", "3", "--seed", "4", "--sigma", "30",
                 "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["sigma"] == 30 and doc["seed"] == 4
    assert {k: doc[k] for k in ("model", "against", "inputs", "mismatches", "max_abs_diff", "bit_exact")} == {
        "model": "ad01_int8.tflite", "against": "tflm", "inputs": 3, "mismatches": 0, "max_abs_diff": 0,
        "bit_exact": True}
    assert "bit-exact: yes" in capsys.readouterr().out

    original = OPS["FULLY_CONNECTED"].reference
    monkeypatch.setitem(OPS, "FULLY_CONNECTED", dataclasses.replace(
        OPS["FULLY_CONNECTED"], reference=lambda g, op, v, r: (original(g, op, v, r) // 2).astype(np.int8)))
    assert main(["verify", model, "--inputs", "1", "--json", str(out)]) == 1
    doc = json.loads(out.read_text())
    assert doc["bit_exact"] is False and doc["mismatches"] > 0 and doc["max_abs_diff"] > 0


def test_cli_verify_refuses_a_non_tflite_model(tmp_path, capsys):
    ir_file = tmp_path / "m.mun"
    ir_file.write_bytes(b"x")
    assert main(["verify", str(ir_file)]) == 2
    assert "needs the original .tflite" in capsys.readouterr().err


def test_tflm_wrapper_runs_the_model(imported_model, model_path):
    graph = imported_model("kws")
    x = draw_inputs(graph, 1, 0)[0]
    (out,) = TflmInterpreter(model_path("kws")).run(x)
    assert out.dtype == np.int8 and out.size == 12
    np.testing.assert_array_equal(out.reshape(-1), reference.run(graph, x)[0].reshape(-1))


def test_draw_inputs_is_seeded_and_centred_on_the_zero_point(imported_model):
    graph = imported_model("kws")
    a, b, c = draw_inputs(graph, 4, 7), draw_inputs(graph, 4, 7), draw_inputs(graph, 4, 8)
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b))
    assert not np.array_equal(a[0][0], c[0][0])
    x = np.stack([inp[0] for inp in a]).astype(float)
    zero_point = int(graph.tensor(graph.inputs[0]).quant.zero_point[0])
    assert a[0][0].dtype == np.int8 and a[0][0].shape == graph.tensor(graph.inputs[0]).shape
    assert abs(x.mean() - zero_point) < 0.5 and 3 < x.std() < 5


@pytest.mark.parametrize("model", ["kws", "resnet"])
def test_inputs_leave_softmax_outputs_unsaturated(imported_model, model):
    """No input may drive the classifier to a one-hot output (every class but one at -128)."""
    graph = imported_model(model)
    for inputs in draw_inputs(graph, 30, 0):
        probabilities = reference.run(graph, inputs)[0].reshape(-1)
        assert np.count_nonzero(probabilities > -128) >= 2, probabilities


def test_missing_interpreters_are_setup_errors(monkeypatch, model_path):
    import sys

    from toolchain.errors import SetupError

    for module in ("ai_edge_litert", "ai_edge_litert.interpreter", "tflite_runtime",
                   "tflite_runtime.interpreter"):
        monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(SetupError, match="pip install ai-edge-litert"):
        LiteRTInterpreter(model_path("ad01"))
    monkeypatch.setitem(sys.modules, "tflite_micro.python.tflite_micro.runtime", None)
    monkeypatch.setitem(sys.modules, "tflite_micro.python.tflite_micro", None)
    with pytest.raises(SetupError, match="pip install tflite-micro"):
        TflmInterpreter(model_path("ad01"))


def test_regression_fc_multiplier_rounding_tie_matches_tflm(imported_model, model_path):
    """A full-range AD01 input whose last layer lands on a rounding tie: the float32 scale product gave -22
    where TFLite Micro gives -21 (output 369)."""
    graph = imported_model("ad01")
    rng = np.random.default_rng(99)
    x = [rng.integers(-128, 128, (1, 640)).astype(np.int8) for _ in range(137)][-1]
    (expected,) = TflmInterpreter(model_path("ad01")).run([x])
    np.testing.assert_array_equal(reference.run(graph, [x])[0].reshape(-1), expected.reshape(-1))
    assert expected.reshape(-1)[369] == -21
