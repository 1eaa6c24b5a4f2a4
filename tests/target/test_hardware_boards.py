"""The real boards (no hardware here): each builds the firmware with its own SoC and UART drivers, links at
its datasheet memory map, and fits; the MLPerf Tiny ad01 model (271 KiB of weights) fits the one with the
least memory (the NUCLEO-F446RE: 512 KiB of flash, 128 KiB of RAM)."""

import json
import subprocess
from pathlib import Path

import pytest

from target_support import FAKE_MODEL, HARDWARE_BOARDS, require_tools
from toolchain.boards import load_board
from toolchain.build import build_model, build_sources
from toolchain.importers.tflite import import_tflite
from toolchain.ir import save

MODELS = Path(__file__).parents[2] / "examples" / "models" / "mlperf-tiny"
FLASH_BASE = {"nrf52840-dk": 0x0000_0000}  # the STM32 boards boot from flash at 0x08000000


def _symbol(elf: Path, name: str) -> int:
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    return next(int(line.split()[0], 16) for line in out.splitlines() if line.endswith(f" {name}"))


@pytest.mark.parametrize("name", HARDWARE_BOARDS)
def test_board_builds_with_its_own_drivers_at_its_memory_map(name, tmp_path):
    require_tools()
    board = load_board(name)
    assert board.runner in ("openocd", "pyocd") and not board.semihosting and board.timer.measured
    build = build_sources(FAKE_MODEL, board, tmp_path / "build")
    linked = (build.out_dir / "firmware.map").read_text()
    assert f"obj/fw/drivers/soc_{board.soc}.o" in linked and f"obj/fw/drivers/uart_{board.uart.driver}.o" in linked
    assert _symbol(build.elf, "vector_table") == FLASH_BASE.get(name, 0x0800_0000) == board.flash.origin
    assert board.ram.origin <= _symbol(build.elf, "__stack_top") <= board.ram.origin + board.ram.length
    assert build.sizes.flash_bytes < board.flash.length
    disassembly = subprocess.run(["arm-none-eabi-objdump", "-d", str(build.elf)], capture_output=True, text=True,
                                 check=True).stdout
    assert "bkpt" not in disassembly  # no semihosting call: without a debugger it would fault


def test_ad01_fits_the_smallest_real_board(tmp_path):
    require_tools()
    model = tmp_path / "ad01.mun"
    save(import_tflite(MODELS / "ad01_int8.tflite"), model)
    smallest = min(HARDWARE_BOARDS, key=lambda name: (load_board(name).flash.length, load_board(name).ram.length))
    assert smallest == "nucleo-f446re"  # 512 KiB / 128 KiB; the G0B1RE has 512 KiB / 144 KiB
    board = load_board(smallest)
    sizes = build_model(model, board, tmp_path / smallest).sizes
    assert sizes.weights_bytes >= 264_000 and sizes.flash_bytes < board.flash.length
    assert sizes.static_ram_bytes + sizes.stack_reserved_bytes < board.ram.length
    assert json.loads((tmp_path / smallest / "build.json").read_text())["board"] == smallest
