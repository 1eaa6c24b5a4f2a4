"""The runner kinds by their `run.runner` name in a board file: the one table that boards.py (names, the
board-file keys each needs), `munify run --runner` and `runner_for` read."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MunifyError
from .base import Runner
from .flashers import GdbRunner, OpenocdRunner, PyocdRunner
from .qemu import QemuSystemRunner, QemuUserRunner
from .serial_port import SerialPortRunner
from .ssh import SshRunner

if TYPE_CHECKING:
    from ..boards import Board

RUNNERS: dict[str, type[Runner]] = {
    "qemu-system": QemuSystemRunner, "qemu-user": QemuUserRunner, "serial": SerialPortRunner,
    "pyocd": PyocdRunner, "openocd": OpenocdRunner, "gdb": GdbRunner, "ssh": SshRunner}
RUNNER_NAMES = tuple(RUNNERS)
# Flash a real MCU board, then talk over its serial port.
HARDWARE_RUNNERS = tuple(name for name, kind in RUNNERS.items() if issubclass(kind, SerialPortRunner))


def hardware_keys(runner: str) -> tuple[str, ...]:
    """The `[hardware]` keys of a board file that runner `runner` cannot do without."""
    return RUNNERS[runner].hardware_keys


def runner_for(board: Board, elf: Path) -> Runner:
    if board.runner not in RUNNERS:
        raise MunifyError(f"board '{board.name}': runner '{board.runner}' is not available in this munify "
                          f"(available: {', '.join(RUNNERS)})")
    return RUNNERS[board.runner](board, elf)
