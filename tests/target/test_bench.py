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


def _row(variant: str, board: str, layers: list[tuple[str, int]], model: str = "mnist_cnn") -> dict:
    return {"model": model, "variant": variant, "board": board, "accuracy": {"test_top1": 0.97},
            "weights_bytes_stored": 100, "bit_exact": True, "instructions": sum(n for _, n in layers),
            "layers": [{"blocks": blocks, "instructions": n} for blocks, n in layers]}


def test_mnist_headline_states_each_target_and_the_bound_of_the_dense_layers():
    from toolchain.bench import anchors
    from toolchain.bench_report import mnist_headline

    dense = _row("dense", "mps2-an386", [("dense", 200), ("", 20), ("dense", 780)])
    admm75 = _row("admm75", "mps2-an386", [("dense", 200), ("", 20), ("1x8: 25% D", 300)])  # 0.52x
    admm90 = _row("admm90", "mps2-an386", [("dense", 200), ("", 20), ("1x8: 10% D", 250)])  # 0.47x
    md = mnist_headline({"anchors": anchors(), "rows": [dense, admm75, admm90]})
    assert "| admm75 | 97.0% test | 100 | 520 | 0.520x | 4,614,560 |" in md
    assert "`admm75`: 0.520x of dense (target <= 0.55: met)" in md
    assert "`admm90`: 0.470x of dense (target <= 0.45: NOT met)" in md
    # first conv + pool are 0.220 of dense; the rest runs at (0.47 - 0.22) / 0.78 = 0.321x; 0.45 needs 0.295x
    assert "are 0.220 of the dense model, the layers with blocks run at 0.321x of their dense cost (within" in md
    assert "the whole model needs them at 0.295x" in md
    assert "run at 0.385x of their dense cost (within the target)" in md  # admm75: (0.52 - 0.22) / 0.78


def test_mnist_headline_says_when_the_layers_with_blocks_miss_the_target_too():
    from toolchain.bench import anchors
    from toolchain.bench_report import mnist_headline

    dense = _row("dense", "mps2-an386", [("dense", 200), ("", 20), ("dense", 780)])
    admm90 = _row("admm90", "mps2-an386", [("dense", 200), ("", 20), ("1x8: 10% D", 400)])  # 0.62x
    md = mnist_headline({"anchors": anchors(), "rows": [dense, admm90]})
    # (0.62 - 0.22) / 0.78 = 0.513 > 0.45
    assert "the layers with blocks run at 0.513x of their dense cost (above the target)" in md


def test_mnist_headline_compares_speed_builds_with_the_dense_speed_build():
    from toolchain.bench import anchors
    from toolchain.bench_report import mnist_headline

    dense = _row("dense", "mps2-an386", [("dense", 1000)])
    dense_speed = _row("dense-speed", "mps2-an386", [("dense", 200), ("dense", 600)])
    speed = _row("admm75-speed", "mps2-an386", [("dense", 200), ("1x8: 25% D", 240)])  # 440 / 800
    md = mnist_headline({"anchors": anchors(), "rows": [dense, dense_speed, speed]})
    assert "| admm75-speed | 97.0% test | 100 | 440 | 0.550x |" in md
    assert "`admm75-speed`: 0.550x of dense (0.440x of the default, balanced, dense build) (target <= 0.55: met)" in md


def test_mve_anchor_table_compares_the_m55_rows_with_cmsis_nn():
    from toolchain.bench import CMSIS_NN_MVE_BOARD, anchors
    from toolchain.bench_report import mve_anchor_table

    rows = [_row("dense", CMSIS_NN_MVE_BOARD, [("", 907_782)], model="kws_ref_model"),
            _row("pt50", "mps2-an386", [("", 1)], model="kws_ref_model")]
    md = mve_anchor_table({"anchors": anchors(), "rows": rows})
    assert "| kws_ref_model | dense | 1,815,565 | 907,782 | **0.50x** | <= 0.9 | yes |" in md
    assert "| kws_ref_model | pt50 |" not in md  # another board's row is not compared with the M55 anchor


def test_tile_variants_run_only_on_boards_with_their_feature(tmp_path):
    from toolchain.bench import MVE_TILE_FEATURE

    tile = Variant("kws_ref_model", "pt80-4x16", tmp_path / "x.mun", None, board_feature=MVE_TILE_FEATURE)
    every = Variant("kws_ref_model", "pt50", tmp_path / "y.mun", None)
    assert tile.runs_on(load_board("mps3-an547")) and not tile.runs_on(load_board("mps2-an386"))
    assert every.runs_on(load_board("mps2-an386")) and every.runs_on(load_board("aarch64-linux"))


def test_kernel_sweep_section_quotes_the_sweep_targets_with_their_source(tmp_path):
    from toolchain.bench_report import KERNEL_SWEEP, kernel_sweep_section

    assert kernel_sweep_section(tmp_path) == ""  # no sweep run: no section
    sweep = tmp_path / KERNEL_SWEEP
    sweep.parent.mkdir()
    sweep.write_text("# sweep\n\nIssue 8 kernel targets, all blocks unified:\n\n- 1 x 8 <= 0.6: conv3x3 0.48 (met)\n"
                     "- 1 x 4 <= 0.7: conv3x3 0.58 (met)\n\n### 3x3 conv\n")
    md = kernel_sweep_section(tmp_path)
    assert "(bench/DSP-UNIFIED.md)" in md and "benchmarks.unified_sweep" in md
    assert "- 1 x 8 <= 0.6: conv3x3 0.48 (met)\n- 1 x 4 <= 0.7: conv3x3 0.58 (met)" in md
    assert "### 3x3 conv" not in md
