"""Real boards on a serial port: flash the ELF (or not), then talk to the firmware over the board's UART.

`SerialPortRunner` (run.runner = "serial"): the board file's `flash_command` (argv with {elf} and
{pyocd_target} placeholders; empty when the board is flashed by hand). The flashing runners in
`flashers.py` (pyocd, openocd, gdb) are subclasses that build their own command.

The serial line (`[hardware] serial_port`, any pyserial URL, `--port` overrides it) is opened by
`board_line.open_board_line`: a missing or busy port, a silent or garbled board and a reset mid-run become
one-line errors naming the board, the port and the fix. Latency is in core cycles: with `timer.measured` the
firmware's tick rate is the core clock it read back (ticks are cycles, SysTick or DWT CYCCNT), and the
report adds milliseconds at that clock. A real board cannot end the emulator: `munify exit N` is confirmed by
its `m-munify-exit-N` line instead.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from typing import TYPE_CHECKING

from ..errors import MunifyError
from ..harness.transport import LineTransport
from ..process import format_command, run_logged
from .base import Runner
from .board_line import HANDSHAKE_TIMEOUT, open_board_line

if TYPE_CHECKING:
    from ..boards import Board

FLASH_TIMEOUT = 300.0
EXIT_TIMEOUT = 10.0
_EXIT_LINE = re.compile(r"^m-munify-exit-(\d+)$")


class FlashError(MunifyError):
    """The flashing tool failed: no probe, no GDB server, or the tool itself reported an error."""


class SerialPortRunner(Runner):
    time_unit = "cycles"
    boots_on_start = False  # the board may have booted long ago: the client syncs instead
    hardware_keys = ("serial_port",)
    tool_hint = "the board's flashing tool"
    handshake_timeout = HANDSHAKE_TIMEOUT

    def __init__(self, board: Board, elf: Path):
        super().__init__(board, elf)
        self.transport: LineTransport | None = None
        self.tick_hz_seen: int | None = None

    # ---- flashing ------------------------------------------------------------------------------------
    def flash_command(self) -> list[str]:
        hardware = self.board.hardware
        values = {"elf": str(self.elf), "pyocd_target": hardware.pyocd_target or ""}
        return [part.format(**values) for part in hardware.flash_command]

    def probe_missing(self, output: str) -> bool:
        """Whether the tool's output says it found no debug probe (subclasses know their tool's words)."""
        return False

    def flash(self) -> None:
        command = self.flash_command()
        if not command:
            return
        result = run_logged(command, timeout=FLASH_TIMEOUT, install_hint=self.tool_hint)
        if result.returncode == 0:
            return
        output = (result.stderr + "\n" + result.stdout).strip()
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        last = next((line for line in lines if line.lower().startswith("error")), lines[-1] if lines else "no output")
        where = f"board '{self.board.name}'"
        if self.probe_missing(output):
            raise FlashError(f"{where}: no debug probe found ({command[0]}: {last}); connect the board's "
                             "debug USB port, check the udev rules and that no other debugger holds the probe, or "
                             "flash it by hand and use --runner serial")
        raise FlashError(f"flashing {where} failed ({command[0]} exited with {result.returncode}: {last})")

    # ---- running -------------------------------------------------------------------------------------
    def describe(self) -> list[str]:
        """What start() runs, for --dry-run."""
        command = self.flash_command()
        flash = format_command(command) if command else "(flashed by hand)"
        hardware = self.board.hardware
        return [flash, f"open {hardware.serial_port} at {hardware.baud} baud; send 'name' (the board must answer "
                       f"within {self.handshake_timeout:g} s)"]

    def start(self) -> LineTransport:
        self.flash()
        hardware = self.board.hardware
        self.transport = open_board_line(self.board, hardware.serial_port, hardware.baud, self.handshake_timeout)
        return self.transport

    def count(self, ticks: int, tick_hz: int) -> int:
        """Ticks as core cycles: measured ticks are cycles; otherwise scale to the board's nominal clock."""
        self.tick_hz_seen = tick_hz
        if self.board.timer.measured:
            return ticks
        return round(ticks * self.board.clock_hz / tick_hz)

    def report_details(self, latency_cycles: int) -> dict:
        """What a report adds on a real board: the clock the firmware measured and the latency in ms at it."""
        clock = self.tick_hz_seen if self.board.timer.measured and self.tick_hz_seen else self.board.clock_hz
        return {"clock_hz": clock, "clock_source": "measured" if self.board.timer.measured else "board file",
                "latency_ms": round(latency_cycles * 1000 / clock, 6)}

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
