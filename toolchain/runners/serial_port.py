"""A real board on a serial port (run.runner = "serial", or "pyocd" to flash with pyOCD).

The board file's `[hardware]` table gives the port (`serial_port`, any pyserial URL), its `baud`, and how to
flash the ELF (`flash_command`, e.g. ["openocd", ...] with {elf} and {pyocd_target} placeholders; empty when
the board is flashed by hand; runner "pyocd" defaults to `pyocd flash --target {pyocd_target} {elf}`). The firmware's ticks count core clock cycles (SysTick on the CPU clock), so this
runner reports cycles. A real board cannot end the emulator: `munify exit N` is confirmed by its
`m-munify-exit-N` line instead.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from ..boards import Board
from ..errors import MunifyError
from ..harness.transport import LineTransport, SerialTransport
from .process import StartStop, format_command, run_logged

FLASH_TIMEOUT = 300.0
PYOCD_FLASH = ("pyocd", "flash", "--target", "{pyocd_target}", "{elf}")
EXIT_TIMEOUT = 10.0
_EXIT_LINE = re.compile(r"^m-munify-exit-(\d+)$")


class SerialPortRunner(StartStop):
    time_unit = "cycles"
    boots_on_start = False  # the board may have booted long ago: the client syncs instead

    def __init__(self, board: Board, elf: Path):
        self.board = board
        self.elf = Path(elf)
        self.transport: LineTransport | None = None

    def count(self, ticks: int, tick_hz: int) -> int:
        return round(ticks * self.board.clock_hz / tick_hz)

    def flash_command(self) -> list[str]:
        hardware = self.board.hardware
        values = {"elf": str(self.elf), "pyocd_target": hardware.pyocd_target or ""}
        template = hardware.flash_command or (PYOCD_FLASH if self.board.runner == "pyocd" else ())
        return [part.format(**values) for part in template]

    def describe(self) -> list[str]:
        """What start() runs, for --dry-run."""
        hardware = self.board.hardware
        command = self.flash_command()
        flash = format_command(command) if command else "(flashed by hand)"
        return [flash, f"open {hardware.serial_port} at {hardware.baud} baud"]

    def flash(self) -> None:
        command = self.flash_command()
        if not command:
            return
        hint = "pip install 'munify[hil]'" if command[0] == "pyocd" else "the board's flashing tool"
        result = run_logged(command, timeout=FLASH_TIMEOUT, install_hint=hint)
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip().splitlines()
            raise MunifyError(f"flashing board '{self.board.name}' failed ({command[0]} exited with "
                              f"{result.returncode}: {message[-1] if message else 'no output'})")

    def start(self) -> LineTransport:
        self.flash()
        self.transport = SerialTransport(self.board.hardware.serial_port, self.board.hardware.baud)
        return self.transport

    def wait_exit(self, timeout: float = EXIT_TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while True:
            match = _EXIT_LINE.match(self.transport.read_line(deadline))
            if match:
                return int(match.group(1))

    def exit_status(self) -> int | None:
        """A real board does not report how it stopped."""
        return None

    def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
