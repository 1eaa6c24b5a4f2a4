"""`munify export`: IR -> .tflite. The exported file must import back to the same graph, and LiteRT and
TensorFlow Lite Micro must compute on it exactly what munify's reference computes on the IR: for the shipped
MLPerf Tiny models, for post-training compressed ones and for a compressed model from the torch pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from toolchain.cli import main
from toolchain.compress.post_training import compress_graph
from toolchain.errors import MunifyError
from toolchain.exporters import export_tflite, tflite_bytes
from toolchain.importers import import_tflite
from toolchain.inputs import draw_inputs
from toolchain.interpreters import AGAINST, make_interpreter
from toolchain.ir import Graph, Op, reference, save
from toolchain.quantize import quantize_model
from toolchain.verify import verify_model

from quant_helpers import random_structures
from test_quantize_export import _exotic, _loader


def assert_same_computation(original: Graph, imported: Graph) -> None:
    """Same ops in the same order over tensors with the same shapes, dtypes, data and quantization."""
    assert [op.type for op in imported.ops] == [op.type for op in original.ops]
    for a, b in zip(original.ops, imported.ops):
        assert _attrs(a) == _attrs(b), a.name
        assert len(a.inputs) == len(b.inputs) and len(a.outputs) == len(b.outputs), a.name
        for name_a, name_b in zip(a.inputs + a.outputs, b.inputs + b.outputs):
            assert bool(name_a) == bool(name_b), a.name
            if name_a:
                _assert_same_tensor(original.tensor(name_a), imported.tensor(name_b))
    assert len(imported.inputs) == len(original.inputs) and len(imported.outputs) == len(original.outputs)


def _attrs(op: Op) -> dict:
    from toolchain.ir import OP_ATTRS

    return {key: op.attr(key) for key in OP_ATTRS[op.type]}


def _assert_same_tensor(a, b) -> None:
    assert (a.shape, a.dtype) == (b.shape, b.dtype), a.name
    assert (a.data is None) == (b.data is None), a.name
    if a.data is not None:
        assert np.array_equal(a.data, b.data), a.name
    if a.quant is not None and a.dtype == "int8":
        assert np.array_equal(a.quant.scale, b.quant.scale) and np.array_equal(a.quant.zero_point, b.quant.zero_point)
        assert a.quant.axis == b.quant.axis or len(a.quant.scale) == 1, a.name


def _roundtrip(graph: Graph, tmp_path, name: str):
    path = export_tflite(graph, tmp_path / f"{name}.tflite")
    imported = import_tflite(path)
    assert_same_computation(graph, imported)
    return path


def assert_interpreters_match_reference(graph: Graph, path, n: int, seed: int) -> None:
    """The reference on the IR itself (not on a re-import) against each interpreter on the exported file."""
    for against in AGAINST:
        interpreter = make_interpreter(against, path)
        for inputs in draw_inputs(graph, n, seed):
            expected = reference.run(graph, inputs, single_rounding=interpreter.single_rounding)
            for want, got in zip(expected, interpreter.run(inputs), strict=True):
                assert np.array_equal(want, np.asarray(got).reshape(want.shape)), against


@pytest.mark.parametrize("model", ["kws", "resnet", "ad01"])
def test_shipped_models_roundtrip_bit_exact_through_both_interpreters(imported_model, tmp_path, model):
    path = _roundtrip(imported_model(model), tmp_path, model)
    for against in ("tflm", "litert"):
        report = verify_model(path, against, n=3, seed=1)
        assert report.bit_exact, report.summary()


def test_post_training_compressed_model_runs_bit_exact_in_both_interpreters(imported_model, tmp_path):
    graph = compress_graph(imported_model("kws"), 1, 8, 0.4, 0.4)
    path = _roundtrip(graph, tmp_path, "kws_1x8")
    assert_interpreters_match_reference(graph, path, n=3, seed=2)


def test_torch_compressed_model_with_every_layer_runs_bit_exact(tmp_path):
    model = _exotic()
    q = quantize_model(model, random_structures(model, bo=1, bi=4, prune=0.3, unify=0.5), _loader())
    assert any(t.blocks is not None for t in q.graph.tensors.values())
    path = _roundtrip(q.graph, tmp_path, "exotic")
    assert_interpreters_match_reference(q.graph, path, n=8, seed=3)


def test_export_is_deterministic(imported_model):
    graph = imported_model("ad01")
    assert tflite_bytes(graph) == tflite_bytes(graph)


def test_cli_exports_and_leaves_nothing_on_error(imported_model, tmp_path, capsys):
    mun = tmp_path / "kws.mun"
    save(imported_model("kws"), mun)
    assert main(["export", str(mun), "-o", str(tmp_path / "kws.tflite")]) == 0
    assert import_tflite(tmp_path / "kws.tflite").ops
    assert main(["export", str(tmp_path / "missing.mun"), "-o", str(tmp_path / "x.tflite")]) == 2
    assert not (tmp_path / "x.tflite").exists()
    assert "error" in capsys.readouterr().err


def test_an_op_without_tflite_export_is_named(imported_model):
    graph = imported_model("ad01")
    op = graph.ops[0]
    broken = graph.replace(ops=(Op(op.name, "NOT_AN_OP", op.inputs, op.outputs),) + graph.ops[1:])
    with pytest.raises(MunifyError, match=op.name):
        from toolchain.exporters.tflite import _ModelWriter

        _ModelWriter(broken).operator(broken.ops[0])
