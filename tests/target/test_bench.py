"""munify bench's measurement and report on a real model under QEMU, and its pure helpers."""

import pytest

from toolchain.bench import TFLM_ANCHORS, Variant, loglog_slope, measure, scaling
from toolchain.bench_report import render_markdown
from toolchain.boards import load_board
from toolchain.ir import save


@pytest.mark.qemu
def test_measure_and_render_ad01(imported_model, tmp_path):
    graph = imported_model("ad01")
    path = tmp_path / "ad01.mun"
    save(graph, path)
    row = measure(Variant("ad01_int8", "dense", path, graph), load_board("mps2-an386"), tmp_path, n_inputs=1)
    assert row["bit_exact"] is True
    assert row["macs"] == 264_192
    assert 0 < row["instructions"] < TFLM_ANCHORS["ad01_int8"]["instructions"] * 3
    assert row["memory"]["weights_bytes"] >= 264_192
    # per-layer counts come from a traced run (hook overhead, 40-instruction ticks): within 1% of the total
    layer_sum = sum(layer["instructions"] for layer in row["layers"])
    assert abs(layer_sum - row["instructions"]) <= 0.01 * row["instructions"]
    doc = {"command": "munify bench", "machine": {"cpu": "x", "cores": 2, "platform": "p", "python": "3.11",
                                                  "qemu": "q", "arm_gcc": "g"},
           "git_revision": "abc", "anchors": {"tflm_cmsis_nn_m4": TFLM_ANCHORS}, "rows": [row],
           "scaling": scaling([row]), "seconds": 1.0}
    md = render_markdown(doc, tmp_path / "img", tmp_path)
    ratio = row["instructions"] / TFLM_ANCHORS["ad01_int8"]["instructions"]
    assert f"**{ratio:.2f}x**" in md
    assert "| ad01_int8 | 583,280 |" in md


def test_loglog_slope_recovers_the_exponent():
    xs = [10, 100, 1000]
    assert loglog_slope(xs, [3 * x ** 1.5 for x in xs]) == pytest.approx(1.5, abs=1e-3)
    assert loglog_slope([5, 5], [1, 2]) is None
