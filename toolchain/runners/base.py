"""`Runner`: how one firmware on one board is started, talked to and stopped; every runner kind subclasses it.

`with runner as transport:` boots (or reaches) the firmware and yields its line (a LineTransport); leaving
always stops it, and a failed start stops whatever it had begun. After the firmware was told to stop,
`wait_exit()` returns its exit status. `count(ticks, tick_hz)` converts the firmware's ticks to `time_unit`.
A runner that can count instructions exactly (QEMU with the plugin) overrides `count_exactly` and
`exact_counts`; one on a real board adds `report_details` (clock, milliseconds).
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # boards.py reads the runner names from registry.py: runners only take a Board
    from ..boards import Board
    from ..harness.transport import LineTransport
    from .insn_count import ExactCounts


class Runner(abc.ABC):
    time_unit = "ticks"
    boots_on_start = True  # whether the firmware's boot banner follows start() (else the client syncs)
    hardware_keys: tuple[str, ...] = ()  # the board file's `[hardware]` keys this runner needs
    counts_instructions = False  # whether it can run the instruction-count plugin (count_exactly)

    def __init__(self, board: Board, elf: Path):
        self.board = board
        self.elf = Path(elf)

    @abc.abstractmethod
    def start(self) -> LineTransport:
        """Bring the board up and return its line."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Release the board; safe to call more than once."""

    @abc.abstractmethod
    def wait_exit(self) -> int:
        """The firmware's exit status, once it was told to stop."""

    @abc.abstractmethod
    def exit_status(self) -> int | None:
        """How the firmware stopped, if it already has and the runner can tell; else None."""

    @abc.abstractmethod
    def describe(self) -> list[str]:
        """What start() runs, for --dry-run."""

    @abc.abstractmethod
    def count(self, ticks: int, tick_hz: int) -> int:
        """Firmware ticks in `time_unit`."""

    def count_exactly(self) -> bool:
        """Ask for exact instruction counts on the next start(); False when this runner cannot count them."""
        return False

    def exact_counts(self, n_layers: int) -> ExactCounts | None:
        """After wait_exit(): the exact counts of the run, or None."""
        return None

    def report_details(self, latency: int) -> dict:
        """What a run report adds for this runner (real boards: the clock and the latency in ms)."""
        return {}

    def __enter__(self) -> LineTransport:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
