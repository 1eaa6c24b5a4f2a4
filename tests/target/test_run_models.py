"""MLPerf Tiny models end to end: import, generate, build, run under QEMU, bit-exact against the reference
(ad01 on every board, KWS with every layer checked on the default board), and a run that must fail."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from target_support import MODEL_BOARDS, require_tools
from toolchain.boards import load_board
from toolchain.build import build_model, load_result
from toolchain.cli import main
from toolchain.run import graph_cases, run_cases
from toolchain.importers.tflite import import_tflite
from toolchain.ir import load, save
from toolchain.plan.planner import make_plan

pytestmark = pytest.mark.qemu

MODELS = Path(__file__).parents[2] / "examples" / "models" / "mlperf-tiny"
REPORT_KEYS = {"model", "board", "runner", "inputs", "bit_exact", "mismatches", "latency", "layers", "prediction",
               "memory"}
HOOK_SLACK_PER_LAYER = 120
MEMORY_KEYS = {"flash_bytes", "weights_bytes", "code_bytes", "static_ram_bytes", "arena_bytes", "stack_bytes"}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    require_tools()
    root = tmp_path_factory.mktemp("models")
    paths = {}
    for name, file in (("ad01", "ad01_int8.tflite"), ("kws", "kws_ref_model.tflite")):
        paths[name] = root / f"{name}.mun"
        save(import_tflite(MODELS / file), paths[name])
    return paths


def run_cli(model: Path, board: str, tmp_path: Path, *extra: str) -> tuple[int, dict]:
    report_path = tmp_path / "report.json"
    status = main(["run", str(model), "--board", board, "--inputs", "2", "--seed", "3",
                   "--build-dir", str(tmp_path / "build"), "--json", str(report_path), *extra])
    return status, json.loads(report_path.read_text())


@pytest.mark.parametrize("board", MODEL_BOARDS)
def test_ad01_runs_bit_exact(models, board, tmp_path, capsys):
    status, report = run_cli(models["ad01"], board, tmp_path)
    assert status == 0
    assert set(report) == REPORT_KEYS and set(report["memory"]) == MEMORY_KEYS
    assert (report["model"], report["board"], report["runner"], report["inputs"]) == ("ad01_int8", board, "qemu", 2)
    assert report["bit_exact"] is True and report["mismatches"] == []
    latency = report["latency"]
    assert latency["unit"] == ("ns" if board == "aarch64-linux" else "instructions")
    assert 0 < latency["min"] <= latency["per_inference"] <= latency["max"]
    assert len(report["layers"]) == 10 and all(layer["op"] == "FULLY_CONNECTED" for layer in report["layers"])
    plan = make_plan(load(models["ad01"]), load_board(board).features)
    assert [layer["predicted"] for layer in report["layers"]] == [round(layer.cost) for layer in plan.layers]
    assert report["prediction"]["predicted"] == round(sum(layer.cost for layer in plan.layers))
    # Per-layer counts come from a hooked run: each carries a tick of rounding and a few dozen instructions
    # of hook overhead.
    if latency["unit"] == "instructions":
        layer_sum = sum(layer["count"] for layer in report["layers"])
        assert abs(layer_sum - latency["per_inference"]) <= HOOK_SLACK_PER_LAYER * len(report["layers"])
    memory = report["memory"]
    assert memory["weights_bytes"] >= 264_000 and memory["flash_bytes"] > memory["weights_bytes"]
    assert 0 < memory["stack_bytes"] < 16384 and memory["arena_bytes"] > 0
    out = capsys.readouterr().out
    assert "bit-exact: yes" in out and "predicted by the plan's cost model: " in out


def test_kws_runs_bit_exact_layer_by_layer(models, tmp_path):
    status, report = run_cli(models["kws"], "mps2-an386", tmp_path, "--layers")
    assert status == 0 and report["bit_exact"] is True
    ops = [layer["op"] for layer in report["layers"]]
    assert ops.count("CONV_2D") == 5 and ops.count("DEPTHWISE_CONV_2D") == 4 and ops[-1] == "SOFTMAX"


def test_wrong_weights_are_caught_at_the_first_differing_layer(models, tmp_path):
    """Firmware built from ad01, checked against a reference whose 6th layer has one weight changed."""
    from toolchain.ir import load

    board = load_board("mps2-an386")
    build = build_model(models["ad01"], board, tmp_path / "build")
    graph = load(models["ad01"])
    op = graph.ops[5]
    weight = graph.tensor(op.inputs[1])
    changed = weight.data.copy()
    changed[0, 0] = np.int8(-changed[0, 0] if changed[0, 0] != 0 else 1)
    wrong = graph.with_tensor(weight.replace(data=changed, blocks=None))
    report = run_cases(load_result(build.out_dir, board),
                       lambda info: graph_cases(wrong, 1, 0, True, [name for name, _ in info.layers]),
                       {o.name: o.type for o in graph.ops})
    assert not report.bit_exact
    output_mismatch, layer_mismatch = report.mismatches
    assert output_mismatch.tensor == "output" and output_mismatch.count > 0
    assert layer_mismatch.layer == op.name and layer_mismatch.tensor == op.outputs[0]


def test_report_is_byte_identical_across_runs(models, tmp_path):
    paths = []
    for attempt in range(2):
        paths.append(tmp_path / f"report{attempt}.json")
        assert main(["run", str(models["ad01"]), "--board", "mps2-an386", "--inputs", "2",
                     "--build-dir", str(tmp_path / "build"), "--json", str(paths[-1])]) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_run_rebuilds_only_when_an_input_changed(models, tmp_path):
    from toolchain.build import BUILD_INFO, fingerprint, is_up_to_date

    board = load_board("mps2-an385")
    build_model(models["ad01"], board, tmp_path / "build")
    # Other work on the code generator may land during the build; pin the fingerprint to now.
    info_path = tmp_path / "build" / BUILD_INFO
    info = json.loads(info_path.read_text())
    assert [layer["op"] for layer in info["layers"]] == ["FULLY_CONNECTED"] * 10
    assert info["layers"][0]["macs"] == 640 * 128
    info["fingerprint"] = fingerprint(models["ad01"].read_bytes(), board, "balanced")
    info_path.write_text(json.dumps(info))
    assert is_up_to_date(models["ad01"], board, tmp_path / "build", "balanced")
    assert not is_up_to_date(models["ad01"], board, tmp_path / "build", "size")
    assert not is_up_to_date(models["ad01"], load_board("mps2-an386"), tmp_path / "build", "balanced")
    assert not is_up_to_date(models["kws"], board, tmp_path / "build", "balanced")
    assert not is_up_to_date(models["ad01"], board, tmp_path / "elsewhere", "balanced")


def test_build_command_reports_sizes(models, tmp_path, capsys):
    out = tmp_path / "ad01-an547"
    assert main(["build", str(models["ad01"]), "--board", "mps3-an547", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    sizes = json.loads((out / "build.json").read_text())["sizes"]
    assert f"flash:      {sizes['flash_bytes']:>10,} B of 524,288" in printed
    assert f"  weights:  {sizes['weights_bytes']:>10,} B" in printed
    assert sizes["weights_bytes"] >= 264_000 and (out / "firmware.elf").is_file()


def test_model_that_does_not_fit_fails_before_compiling_with_the_bytes_over(models, tmp_path, capsys):
    board_file = Path(__file__).parents[2] / "boards" / "mps3-an547.toml"
    small = tmp_path / "small.toml"
    small.write_text(board_file.read_text().replace('name = "mps3-an547"', 'name = "small"')
                     .replace("flash = { origin = 0x0000_0000, length = 0x8_0000", "flash = { origin = 0x0000_0000, "
                              "length = 0x4_0000"))
    out = tmp_path / "out"
    assert main(["build", str(models["ad01"]), "--board", str(small), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    match = re.search(r"model 'ad01_int8' is too large for board 'small': flash \(the weights alone\) needs (\d+) "
                      r"bytes, the board has 262144 \(ITCM\): \d+ bytes over; RAM \(arena \+ stack alone\) \d+ of "
                      r"524288 bytes \(DTCM\) fits; compress the model", err)
    assert match and int(match.group(1)) > 270_000 and err.count("\n") == 1
    assert not out.exists()
