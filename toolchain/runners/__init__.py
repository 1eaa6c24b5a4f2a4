"""How a board is reached: one runner class per `run.runner` kind of a board file.

A runner is a context manager: entering boots the firmware and yields its serial transport; leaving always
stops it. `wait_exit()` returns the firmware's exit status after it was told to stop.
"""

from __future__ import annotations

from pathlib import Path

from ..boards import Board
from ..errors import MunifyError


def runner_for(board: Board, elf: Path):
    from .qemu import QemuSystemRunner, QemuUserRunner

    runners = {"qemu-system": QemuSystemRunner, "qemu-user": QemuUserRunner}
    if board.runner not in runners:
        raise MunifyError(f"board '{board.name}': runner '{board.runner}' is not available in this munify "
                          f"(available: {', '.join(runners)})")
    return runners[board.runner](board, elf)
