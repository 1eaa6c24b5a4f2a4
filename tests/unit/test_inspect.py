"""summary.py and `munify inspect`: MACs from first principles, compressed-weight accounting, liveness, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from toolchain.cli import main
from toolchain.ir import BlockKind, BlockStructure, weight_matrix
from toolchain.summary import block_summary, peak_activation_bytes, summarize


def _dense_macs(graph, op):
    if graph.weight_of(op) is None:
        return 0
    out = graph.tensor(op.outputs[0]).shape
    w = graph.weight_of(op).shape
    if op.type == "CONV_2D":
        n, oh, ow, cout = out
        return n * oh * ow * cout * w[1] * w[2] * w[3]
    if op.type == "DEPTHWISE_CONV_2D":
        n, oh, ow, c = out
        return n * oh * ow * c * w[1] * w[2]
    if op.type == "FULLY_CONNECTED":
        return out[0] * w[0] * w[1]
    return 0


@pytest.mark.parametrize("name, approx_macs", [("kws", 2.66e6), ("resnet", 12.5e6), ("ad01", 0.264e6)])
def test_macs_match_the_layer_formulas(name, approx_macs, imported_model):
    graph = imported_model(name)
    s = summarize(graph)
    assert [op.macs for op in s.ops] == [_dense_macs(graph, op) for op in graph.ops]
    assert s.macs == sum(op.macs for op in s.ops) == s.macs_remaining
    assert s.macs == pytest.approx(approx_macs, rel=0.01)
    assert all(op.blocks in ("dense", "") for op in s.ops)


def test_kws_exact_totals(imported_model):
    s = summarize(imported_model("kws"))
    # conv 10x4 on 25x5x64 outputs + 4 x (dw 3x3 + pw 64x64) + fc 64x12
    assert s.macs == 125 * 64 * 40 + 4 * (125 * 64 * 9 + 125 * 64 * 64) + 64 * 12 == 2_656_768
    assert s.weight_bytes == 64 * 40 + 4 * (9 * 64 + 64 * 64) + 12 * 64
    assert s.bias_bytes == 4 * (64 * 9 + 12)
    assert s.params == s.weight_bytes + s.bias_bytes // 4


def _structured_ad01(imported_model, bo=2, bi=8):
    """ad01 with layer 1's 128x128 weight made structured: a known mix of dense, unified and pruned blocks."""
    graph = imported_model("ad01")
    op = graph.ops[1]
    weight = graph.weight_of(op)
    matrix = weight_matrix(op.type, weight.data).copy()
    gr, gc = matrix.shape[0] // bo, matrix.shape[1] // bi
    kinds = (np.arange(gr * gc).reshape(gr, gc) % 4).astype(np.uint8)  # 0,1,2,3 -> D,U,P,D
    kinds[kinds == 3] = BlockKind.DENSE
    rows = np.repeat(np.repeat(kinds, bo, 0), bi, 1)
    matrix[rows == BlockKind.PRUNED] = 0
    matrix = np.where(rows == BlockKind.UNIFIED, np.where(matrix < 0, -1, 1) * 7, matrix).astype(np.int8)
    blocks = BlockStructure.from_matrix(matrix, kinds, bo, bi)
    structured = weight.replace(data=matrix, blocks=blocks)
    return graph.with_tensor(structured), kinds, blocks


def test_compressed_weight_accounting(imported_model):
    graph, kinds, blocks = _structured_ad01(imported_model)
    graph.validate()
    row = summarize(graph).ops[1]
    n = kinds.size
    dense, unified, pruned = (int(np.sum(kinds == k)) for k in BlockKind)
    assert (dense, unified, pruned) == (n // 2, n // 4, n // 4)
    assert row.macs == 128 * 128
    assert row.macs_remaining == dense * 2 * 8 + unified * 2 == row.multiplies_remaining
    assert row.weight_bytes == blocks.stored_bytes() < 128 * 128
    assert row.blocks == "2x8: 50% D / 25% U / 25% P"
    total = summarize(graph)
    assert total.macs_remaining == total.macs - (128 * 128 - row.macs_remaining)


def test_block_summary_of_a_dense_tensor(imported_model):
    graph = imported_model("ad01")
    assert block_summary(graph.weight_of(graph.ops[0])) == "dense"


def test_peak_activation_memory(imported_model):
    # ad01: the largest moment is the 640-byte input beside the first 128-byte output (output: 128 + 640).
    assert peak_activation_bytes(imported_model("ad01")) == 768
    # resnet: during conv_2d_2 three 32x32x16 tensors are live (its input, its output, the skip branch).
    assert peak_activation_bytes(imported_model("resnet")) == 3 * 32 * 32 * 16


def test_inspect_table_and_json_agree_for_tflite_and_mun(models_dir, tmp_path, capsys):
    model = models_dir / "kws_ref_model.tflite"
    assert main(["inspect", str(model)]) == 0
    table = capsys.readouterr().out
    assert "depthwise_conv_2d_1" in table and "2,656,768" in table
    mun = tmp_path / "kws.mun"
    assert main(["import", str(model), "-o", str(mun)]) == 0
    capsys.readouterr()
    docs = []
    for path in (model, mun):
        assert main(["inspect", str(path), "--json"]) == 0
        docs.append(json.loads(capsys.readouterr().out))
    assert docs[0] == docs[1]
    doc = docs[0]
    assert doc["totals"]["macs"] == sum(op["macs"] for op in doc["ops"]) == 2_656_768
    assert doc["totals"]["weight_bytes"] == sum(op["weight_bytes"] for op in doc["ops"])
    assert doc["ops"][0]["output_shape"] == [1, 25, 5, 64]


def test_inspect_refuses_unknown_suffix(tmp_path, capsys):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"x")
    assert main(["inspect", str(bad)]) == 2
    assert "unknown model type" in capsys.readouterr().err


def test_cli_import_refuses_float_model_with_exit_2_and_no_output(models_dir, tmp_path):
    out = tmp_path / "float.mun"
    proc = subprocess.run([sys.executable, "-m", "toolchain", "import", str(models_dir / "kws_ref_model_float32.tflite"),
                           "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "float32" in proc.stderr and proc.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
