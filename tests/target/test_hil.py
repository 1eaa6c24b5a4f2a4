"""Hardware in the loop: ad01 bit-exact on a real board, in cycles at the clock the firmware measured. Never in
CI (marker `hil`, deselected by default); run with a board on the desk:

    MUNIFY_HIL_BOARD=nucleo-l4r5zi MUNIFY_HIL_PORT=/dev/ttyACM0 .venv/bin/python -m pytest -m hil tests/target

MUNIFY_HIL_BOARD is a board name or file whose runner flashes a real board (serial, pyocd, openocd, gdb);
MUNIFY_HIL_PORT overrides its serial port, MUNIFY_HIL_RUNNER its runner (docs/BOARDS.md)."""

import os
from pathlib import Path

import pytest

from toolchain.boards import HARDWARE_RUNNERS, load_board, with_overrides
from toolchain.run import run_model
from toolchain.importers.tflite import import_tflite
from toolchain.ir import save

MODELS = Path(__file__).parents[2] / "examples" / "models" / "mlperf-tiny"


@pytest.mark.hil
def test_ad01_is_bit_exact_on_a_real_board(tmp_path):
    name = os.environ.get("MUNIFY_HIL_BOARD")
    assert name, "set MUNIFY_HIL_BOARD to a real board (and MUNIFY_HIL_PORT to its serial port)"
    board = with_overrides(load_board(name), os.environ.get("MUNIFY_HIL_RUNNER"), os.environ.get("MUNIFY_HIL_PORT"))
    assert board.runner in HARDWARE_RUNNERS, f"board '{board.name}' is not a real board (runner {board.runner})"
    model = tmp_path / "ad01.mun"
    save(import_tflite(MODELS / "ad01_int8.tflite"), model)
    report = run_model(model, board, tmp_path / "build", n_inputs=3, seed=0)
    assert report.bit_exact, report.mismatches[:1]
    assert report.latency.unit == "cycles" and report.latency.min > 0
    if board.timer.measured:  # the firmware read its clock back: it must be the rated one
        assert report.extra["clock_hz"] == board.clock_hz and report.extra["clock_source"] == "measured"
    assert report.extra["latency_ms"] > 0
