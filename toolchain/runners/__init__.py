"""How a board is reached: one runner class per `run.runner` kind of a board file.

A runner is a context manager: entering boots (or reaches) the firmware and yields its line transport; leaving
always stops it. `wait_exit()` returns the firmware's exit status after it was told to stop, `count(ticks,
tick_hz)` converts ticks to the runner's `time_unit`, and `boots_on_start` says whether a boot banner follows.
"""

from __future__ import annotations

from pathlib import Path

from ..boards import Board
from ..errors import MunifyError


def runner_for(board: Board, elf: Path):
    from .qemu import QemuSystemRunner, QemuUserRunner
    from .flashers import GdbRunner, OpenocdRunner, PyocdRunner
    from .serial_port import SerialPortRunner
    from .ssh import SshRunner

    runners = {"qemu-system": QemuSystemRunner, "qemu-user": QemuUserRunner, "serial": SerialPortRunner,
               "pyocd": PyocdRunner, "openocd": OpenocdRunner, "gdb": GdbRunner, "ssh": SshRunner}
    if board.runner not in runners:
        raise MunifyError(f"board '{board.name}': runner '{board.runner}' is not available in this munify "
                          f"(available: {', '.join(runners)})")
    return runners[board.runner](board, elf)
