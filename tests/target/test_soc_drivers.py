"""The SoC clock drivers of the real boards, run on the host against a fake register file: with the ready
bits a chip raises they program the PLL, flash wait states, prescalers and UART pins to reach the board's
rated clock (and read it back); with none (QEMU's RCC stub, a dead oscillator) every wait is bounded and the
chip stays on its reset clock, settled = 0."""

import shutil
import subprocess
from pathlib import Path

import pytest

from toolchain.boards import load_board
from toolchain.build import board_defines
from toolchain.resources import firmware_dir

HARNESS = Path(__file__).parent / "fixtures" / "soc_host" / "soc_host.c"

# Ready bits per family: (register, value) a running chip shows, incl. SWS = PLL in RCC_CFGR.
READY = {
    "stm32f4": {0x40023800: (1 << 1) | (1 << 25), 0x40023808: 0x2 << 2, 0x40007004: (1 << 16) | (1 << 17)},
    "stm32f1": {0x40021000: (1 << 1) | (1 << 25), 0x40021004: 0x2 << 2},
    "stm32l4": {0x40021000: (1 << 10) | (1 << 25), 0x40021008: 0x3 << 2},
    "stm32g0": {0x40021000: (1 << 10) | (1 << 25), 0x40021008: 0x2 << 3},
}
# Reset values that are not ready bits: the L4's RCC_CR starts with MSIRANGE = 6 (4 MHz).
RESET = {"stm32l4": {0x40021000: 0x6 << 4}}
FLASH_ACR = {"stm32f4": 0x40023C00, "stm32f1": None, "stm32l4": 0x40022000, "stm32g0": 0x40022000}
GPIO_BASE = {"stm32f4": lambda port: 0x40020000 + 0x400 * port, "stm32l4": lambda port: 0x48000000 + 0x400 * port,
             "stm32g0": lambda port: 0x50000000 + 0x400 * port}
# board: (rated core clock, UART kernel clock, flash wait states, reset core clock)
EXPECTED = {
    "netduinoplus2": (168_000_000, 84_000_000, 5, 16_000_000),   # USART1 on APB2 = /2
    "nucleo-f446re": (180_000_000, 45_000_000, 5, 16_000_000),   # USART2 on APB1 = /4
    "stm32f746g-disco": (216_000_000, 108_000_000, 7, 16_000_000),
    "nucleo-l4r5zi": (120_000_000, 120_000_000, 5, 4_000_000),   # LPUART1 on PCLK1; MSI 4 MHz after reset
    "nucleo-g0b1re": (64_000_000, 64_000_000, 2, 16_000_000),
    "stm32vldiscovery": (24_000_000, 24_000_000, None, 8_000_000),
}


def run_driver(board_name: str, tmp_path: Path, args: list[str]) -> list[str]:
    compiler = shutil.which("gcc")
    assert compiler, "gcc is required (run: make setup)"
    board = load_board(board_name)
    exe = tmp_path / f"soc-{board_name}"
    drivers = firmware_dir() / "drivers"
    subprocess.run([compiler, "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O1", *board_defines(board), "-I", str(drivers),
                    f'-DSOC_SOURCE="soc_{board.soc}.c"', str(HARNESS), "-o", str(exe)], check=True)
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=True, timeout=30).stdout.split()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_clock_set_up_reaches_the_rated_clock_when_the_chip_answers(name, tmp_path):
    board = load_board(name)
    cpu_hz, uart_hz, wait_states, _ = EXPECTED[name]
    preset = [f"{address:#x}={value:#x}" for address, value in READY[board.soc].items()]
    queries = [f"?{FLASH_ACR[board.soc]:#x}"] if FLASH_ACR[board.soc] else []
    out = run_driver(name, tmp_path, preset + queries)
    assert out[:3] == [str(cpu_hz), str(uart_hz), "1"] and cpu_hz == board.clock_hz
    if wait_states is not None:
        assert int(out[3], 16) & 0xF == wait_states


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_clock_set_up_gives_up_on_a_chip_that_never_answers(name, tmp_path):
    reset_hz = EXPECTED[name][3]
    preset = [f"{address:#x}={value:#x}" for address, value in RESET.get(load_board(name).soc, {}).items()]
    assert run_driver(name, tmp_path, preset)[:3] == [str(reset_hz), str(reset_hz), "0"]


@pytest.mark.parametrize("name", ["nucleo-f446re", "nucleo-l4r5zi", "nucleo-g0b1re", "stm32f746g-disco"])
def test_uart_pins_get_their_alternate_function(name, tmp_path):
    board = load_board(name)
    gpio = GPIO_BASE[board.soc]
    queries = []
    for pin in (board.uart.tx_pin, board.uart.rx_pin):
        base = gpio(pin.port)
        queries += [f"?{base:#x}", f"?{base + 0x20 + 4 * (pin.number // 8):#x}"]  # MODER, AFRL/AFRH
    values = [int(v, 16) for v in run_driver(name, tmp_path, queries)[3:]]
    for i, pin in enumerate((board.uart.tx_pin, board.uart.rx_pin)):
        moder, afr = values[2 * i], values[2 * i + 1]
        assert (moder >> 2 * pin.number) & 0x3 == 0x2  # alternate function mode
        assert (afr >> 4 * (pin.number % 8)) & 0xF == board.uart.pin_function
