"""A Linux board over SSH (run.runner = "ssh", e.g. a Raspberry Pi 4): copy the static firmware binary with
scp to `[hardware] ssh_dir` on `ssh_host`, then run it there with `ssh`, the device protocol on the remote
process's stdin/stdout. Key-based login only (BatchMode: never a password prompt that would hang the run).
The Linux port's ticks are CLOCK_MONOTONIC nanoseconds of the board itself.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MunifyError
from ..harness.transport import DeviceError, LineTransport, PipeTransport
from ..process import end_process_group, format_command, log, run_logged
from .base import Runner

if TYPE_CHECKING:
    from ..boards import Board

COPY_TIMEOUT = 120.0
EXIT_TIMEOUT = 10.0
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=10")
NS_PER_MS = 1_000_000


class SshRunner(Runner):
    time_unit = "ns"
    boots_on_start = True  # a fresh process prints the boot banner
    hardware_keys = ("ssh_host",)

    def __init__(self, board: Board, elf: Path):
        super().__init__(board, elf)
        self.process: subprocess.Popen | None = None
        self.transport: LineTransport | None = None

    @property
    def remote_path(self) -> str:
        return f"{self.board.hardware.ssh_dir.rstrip('/')}/munify-{self.board.name}-{self.elf.stem}"

    def copy_command(self) -> list[str]:
        return ["scp", "-q", *SSH_OPTIONS, str(self.elf), f"{self.board.hardware.ssh_host}:{self.remote_path}"]

    def run_command(self) -> list[str]:
        return ["ssh", "-T", *SSH_OPTIONS, self.board.hardware.ssh_host, f"chmod +x {self.remote_path} && "
                                                                          f"exec {self.remote_path}"]

    def describe(self) -> list[str]:
        return [format_command(self.copy_command()), format_command(self.run_command()) +
                "   (protocol on the remote stdin/stdout)"]

    @staticmethod
    def count(ticks: int, tick_hz: int) -> int:
        return round(ticks * 1_000_000_000 / tick_hz)

    def report_details(self, latency_ns: int) -> dict:
        return {"latency_ms": round(latency_ns / NS_PER_MS, 6)}

    def start(self) -> LineTransport:
        host = self.board.hardware.ssh_host
        copied = run_logged(self.copy_command(), timeout=COPY_TIMEOUT, install_hint="apt-get install openssh-client")
        if copied.returncode != 0:
            message = (copied.stderr or copied.stdout).strip().splitlines()
            raise MunifyError(f"board '{self.board.name}': copying the firmware to {host} failed "
                              f"({message[-1] if message else 'scp exited with ' + str(copied.returncode)}); check "
                              "that 'ssh HOST' logs in without a password (ssh-copy-id) and hardware.ssh_dir exists")
        command = self.run_command()
        log.info("run: %s", format_command(command))
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, start_new_session=True)
        self.transport = PipeTransport(self.process)
        return self.transport

    def wait_exit(self, timeout: float = EXIT_TIMEOUT) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"board '{self.board.name}': the remote firmware did not exit within {timeout:.0f} s") \
                from None

    def exit_status(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        process, self.process = self.process, None
        if process is not None:
            end_process_group(process, signal.SIGTERM)  # ssh closes the session: the remote process gets SIGHUP
