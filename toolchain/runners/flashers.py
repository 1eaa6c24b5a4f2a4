"""Runners that flash a real board through its debug probe, then run it over its serial port
(`SerialPortRunner`). Each builds its tool's command line and knows how that tool says "no probe".

- `PyocdRunner` (run.runner = "pyocd"): `pyocd flash --target <pyocd_target> <elf>` (programs, resets, runs;
  pip install 'munify[hil]').
- `OpenocdRunner` ("openocd", Debian package openocd): `openocd <openocd_args> -c "program <elf> verify reset
  exit"`.
- `GdbRunner` ("gdb", Debian package gdb-multiarch): any GDB server (pyOCD's `gdbserver`, OpenOCD, QEMU's
  gdbstub) at `gdb_remote`: `target extended-remote`, `load`, the reset command (`gdb_reset`, default
  `monitor reset`; QEMU wants `monitor system_reset`), `detach` so the target runs on.
"""

from __future__ import annotations

import re

from ..process import run_logged
from .serial_port import FLASH_TIMEOUT, FlashError, SerialPortRunner

GDB = "gdb-multiarch"
GDB_CONNECT_SECONDS = 2  # gdb retries a refused connection until this runs out; a live server answers at once
_OPENOCD_NO_PROBE = re.compile(r"open failed|no device found|unable to find|not found.*(st-?link|j-?link|cmsis)|"
                               r"LIBUSB_ERROR|Error: No J-Link", re.IGNORECASE)
_PYOCD_NO_PROBE = re.compile(r"no (connected )?(debug )?probes?|no available debug probes", re.IGNORECASE)
_GDB_NO_SERVER = re.compile(r"Connection refused|Connection timed out|could not connect|"
                            r"Remote communication error|Remote connection closed", re.IGNORECASE)


class PyocdRunner(SerialPortRunner):
    hardware_keys = ("serial_port", "pyocd_target")
    tool_hint = "pip install 'munify[hil]'"

    def flash_command(self) -> list[str]:
        if self.board.hardware.flash_command:
            return super().flash_command()
        return ["pyocd", "flash", "--target", self.board.hardware.pyocd_target, str(self.elf)]

    def probe_missing(self, output: str) -> bool:
        return bool(_PYOCD_NO_PROBE.search(output))


class OpenocdRunner(SerialPortRunner):
    hardware_keys = ("serial_port", "openocd_args")
    tool_hint = "apt-get install openocd"

    def flash_command(self) -> list[str]:
        return ["openocd", *self.board.hardware.openocd_args, "-c", f"program {self.elf} verify reset exit"]

    def probe_missing(self, output: str) -> bool:
        return bool(_OPENOCD_NO_PROBE.search(output))


class GdbRunner(SerialPortRunner):
    tool_hint = f"apt-get install {GDB}"

    def flash_command(self) -> list[str]:
        hardware = self.board.hardware
        steps = ["set pagination off", "set confirm off", f"set tcp connect-timeout {GDB_CONNECT_SECONDS}", f"target extended-remote {hardware.gdb_remote}", "load",
                 hardware.gdb_reset, "detach"]
        return [GDB, "-nx", "-batch", *[arg for step in steps for arg in ("-ex", step)], str(self.elf)]

    def probe_missing(self, output: str) -> bool:
        return bool(_GDB_NO_SERVER.search(output))

    def flash(self) -> None:
        # gdb -batch exits 0 even when `target` failed (the later commands just error): check its words too.
        command = self.flash_command()
        result = run_logged(command, timeout=FLASH_TIMEOUT, install_hint=self.tool_hint)
        output = (result.stderr + "\n" + result.stdout).strip()
        remote = self.board.hardware.gdb_remote
        if self.probe_missing(output):
            raise FlashError(f"board '{self.board.name}': no GDB server at {remote} ({_last(output)}); start one "
                             "first (pyocd gdbserver, or openocd, both on port 3333) or set hardware.gdb_remote")
        if result.returncode != 0 or "Transfer rate" not in output:
            raise FlashError(f"flashing board '{self.board.name}' through {remote} failed ({GDB}: {_last(output)})")


def _last(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
