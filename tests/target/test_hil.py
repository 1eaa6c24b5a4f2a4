"""Hardware in the loop: ad01 bit-exact on a real board. Never in CI (marker `hil`, deselected by default);
run with `MUNIFY_HIL_BOARD=path/to/board.toml .venv/bin/python -m pytest -m hil tests/target`, the board
file having runner "serial" or "pyocd" and a [hardware] table (docs/PORTING.md)."""

import os
from pathlib import Path

import pytest

from toolchain.boards import load_board
from toolchain.harness.session import run_model
from toolchain.importers.tflite import import_tflite
from toolchain.ir import save

MODELS = Path(__file__).parents[2] / "examples" / "models" / "mlperf-tiny"


@pytest.mark.hil
def test_ad01_is_bit_exact_on_a_real_board(tmp_path):
    name = os.environ.get("MUNIFY_HIL_BOARD")
    assert name, "set MUNIFY_HIL_BOARD to a board file whose runner is serial or pyocd"
    board = load_board(name)
    assert board.runner in ("serial", "pyocd"), f"board '{board.name}' is not a real board (runner {board.runner})"
    model = tmp_path / "ad01.mun"
    save(import_tflite(MODELS / "ad01_int8.tflite"), model)
    report = run_model(model, board, tmp_path / "build", n_inputs=3, seed=0)
    assert report.bit_exact, report.mismatches[:1]
    assert report.latency.unit == "cycles" and report.latency.min > 0
