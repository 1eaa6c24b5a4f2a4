"""The real-SoC boards QEMU emulates (STM32F405, STM32F100, nRF51822, AN505 Cortex-M33): their UART and clock
drivers run, the clock set-up cannot hang where QEMU stubs the clock controller, a generated model runs
bit-exact on them layer by layer (the Cortex-M0 generic path included), and a model too large for a board
fails at plan and build time with the bytes over."""

from pathlib import Path

import pytest

from target_support import FAKE_MODEL, fake_reference, require_tools, tiny_fc_model
from toolchain.boards import load_board
from toolchain.build import BuildError, build_model, build_sources
from toolchain.cli import main
from toolchain.harness.protocol import DeviceClient
from toolchain.run import run_model
from toolchain.importers.tflite import import_tflite
from toolchain.ir import save
from toolchain.runners import runner_for

pytestmark = pytest.mark.qemu

BOARDS_DIR = Path(__file__).parents[2] / "boards"
MODELS = Path(__file__).parents[2] / "examples" / "models" / "mlperf-tiny"
INPUT = bytes((29 * i - 100) & 0xFF for i in range(16))
PLACEHOLDER_HZ = 1_000_000  # a timer.hz no board runs at: a measured clock must never report it


def measured_variant(tmp_path: Path, board: str) -> Path:
    """The board with timer.measured = true (as on real hardware) and a placeholder timer.hz."""
    text = (BOARDS_DIR / f"{board}.toml").read_text()
    timer = text[text.index("[timer]"):text.index("[run]")]
    text = text.replace(timer, f'[timer]\ndriver = "systick"\nhz = {PLACEHOLDER_HZ}\nmeasured = true\n\n')
    path = tmp_path / f"{board}-measured.toml"
    path.write_text(text.replace(f'name = "{board}"', f'name = "{board}-measured"'))
    return path


def reported_tick_hz(board_file: Path, tmp_path: Path) -> int:
    board = load_board(str(board_file))
    build = build_sources(FAKE_MODEL, board, tmp_path / board.name)
    with runner_for(board, build.elf) as transport:
        client = DeviceClient(transport, timeout=20)
        client.wait_ready()
        client.load(INPUT)
        assert client.infer(1, 0).output == fake_reference(INPUT)[1]
        return client.info().tick_hz


def test_stm32_clock_setup_times_out_under_qemu_and_stays_on_the_reset_clock(tmp_path):
    """QEMU's STM32 RCC reads 0: no ready bit ever sets. The bounded waits give up, the firmware boots on the
    reset clock, and a firmware that reports its measured clock reports the reset clock the registers show
    (HSI: 16 MHz on the F405, 8 MHz on the F100), not its rated one. (QEMU boards report timer.hz instead.)"""
    require_tools()
    assert reported_tick_hz(measured_variant(tmp_path, "netduinoplus2"), tmp_path) == 16_000_000
    assert reported_tick_hz(measured_variant(tmp_path, "stm32vldiscovery"), tmp_path) == 8_000_000


def test_nrf51_clock_setup_settles_and_reports_the_core_clock(tmp_path):
    """QEMU's nRF51 CLOCK reports HFCLKSTARTED: the set-up settles and the firmware reports the 16 MHz core
    clock it read back, not the board file's number."""
    require_tools()
    assert reported_tick_hz(measured_variant(tmp_path, "microbit"), tmp_path) == 16_000_000


@pytest.mark.parametrize("board, kernel", [("microbit", "fc_dense_generic"), ("stm32vldiscovery", "fc_dense_generic"),
                                           ("netduinoplus2", "fc_dense_dsp"), ("mps2-an505", "fc_dense_dsp")])
def test_tiny_model_runs_bit_exact_layer_by_layer(board, kernel, tmp_path):
    """Armv6-M (no DSP, no SMLAD) and the M3 take the generic kernels, the STM32F405's M4F and the Armv8-M
    mainline M33 the DSP ones. (The MLPerf Tiny models on these boards: benchmarks/boards_sweep.py.)"""
    require_tools()
    model = tiny_fc_model(tmp_path / "tiny.mun")
    report = run_model(model, load_board(board), tmp_path / "build", n_inputs=2, seed=4, layers=True)
    assert report.bit_exact, report.mismatches
    assert report.latency.unit == "instructions" and report.latency.min > 0
    assert [layer.kernel for layer in report.layers] == [kernel] * 2


def test_ad01_is_too_large_for_the_microbit_with_the_bytes_over(tmp_path, capsys):
    require_tools()
    model = tmp_path / "ad01.mun"
    save(import_tflite(MODELS / "ad01_int8.tflite"), model)
    out = tmp_path / "out"
    with pytest.raises(BuildError, match=r"model 'ad01_int8' is too large for board 'microbit': flash \(the weights "
                                         r"alone\) needs 270880 bytes, the board has 262144 \(flash \(256 KiB\)\): "
                                         r"8736 bytes over; RAM \(arena \+ stack alone\) \d+ of 16384 bytes"):
        build_model(model, load_board("microbit"), out)
    assert not out.exists()
    assert main(["build", str(model), "--board", "stm32vldiscovery", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "too large for board 'stm32vldiscovery': flash (the weights alone) needs 270880 bytes" in err
    assert err.count("\n") == 1 and not out.exists()
    assert main(["plan", str(model), "--board", "microbit"]) == 2  # already at plan time
    captured = capsys.readouterr()
    assert captured.out == "" and "is too large for board 'microbit'" in captured.err
    assert main(["plan", str(model), "--board", "netduinoplus2"]) == 0
