"""The firmware served to the MLCommons Tiny runner (mlcommons/tiny, benchmark/runner) on a pseudo-terminal,
QEMU in its MLPerf mode (runners/qemu.py, docs/PROTOCOL.md): `munify run --serve-mlperf`, and the tests and
benchmarks that drive it with harness/mlperf_runner.py's `RunnerSide`."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..harness.protocol import DeviceClient
from .qemu import QemuSystemRunner

if TYPE_CHECKING:
    from ..boards import Board


@contextlib.contextmanager
def served_on_pty(board: Board, elf: Path):
    """Boot `elf` under QEMU's MLPerf mode and yield the QemuSystemRunner, whose `.pty` is then quiet: munify's
    line first reads away whatever the firmware printed (its banner, if the pty was open in time) and is
    closed, so the runner finds the line of a board that booted earlier. One stray line would shift every
    reply the runner reads."""
    qemu = QemuSystemRunner(board, elf, mlperf=True)
    with qemu:
        DeviceClient(qemu.transport, timeout=30).sync()
        qemu.transport.close()
        qemu.transport = None
        yield qemu


def serve(board: Board, elf: Path, announce) -> int:
    """Serve the firmware on a quiet pty until QEMU stops or the user interrupts; `announce(pty)` tells where.
    Returns QEMU's exit status, or 0 after Ctrl-C / SIGTERM."""
    with served_on_pty(board, elf) as qemu:
        announce(qemu.pty)
        try:
            while (status := qemu.exit_status()) is None:
                pass  # exit_status() waits up to a second for QEMU
        except KeyboardInterrupt:
            return 0
    return status
