"""One run of a firmware on its board: start the board's runner, run a device session on its line, wait for
the firmware's exit status and, when asked and the runner can, read the exact instruction counts
(runners/insn_count.py). A protocol error says how the firmware stopped, when the runner can tell."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..harness.protocol import DeviceInfo
from ..harness.session import Case, SessionResult, run_session
from ..harness.transport import DeviceError
from .base import Runner
from .insn_count import ExactCounts
from .registry import runner_for

if TYPE_CHECKING:
    from ..boards import Board

FAULT_EXIT_STATUS = 3  # firmware/ports/cortex-m/startup.c
EXACT_COUNTS_DEFAULT = True  # QEMU runs load the instruction-count plugin unless told not to


@dataclass(frozen=True)
class FirmwareRun:
    session: SessionResult
    exact: ExactCounts | None
    runner: Runner


def run_firmware(board: Board, elf: Path, make_cases: Callable[[DeviceInfo], list[Case]],
                 exact_counts: bool = EXACT_COUNTS_DEFAULT) -> FirmwareRun:
    """Boot `elf` on `board`, run the cases `make_cases` derives from the firmware's own description, stop it."""
    runner = runner_for(board, elf)
    counting = exact_counts and runner.count_exactly()
    exact = None
    with runner as transport:
        try:
            session = run_session(transport, make_cases, runner.count, runner.boots_on_start)
            status = runner.wait_exit()
            if status == 0 and counting:
                exact = runner.exact_counts(len(session.info.layers))
        except DeviceError as exc:
            raise _explain(exc, runner.exit_status()) from None
    if status != 0:
        raise DeviceError(f"the firmware exited with status {status} instead of 0")
    return FirmwareRun(session, exact, runner)


def _explain(error: DeviceError, status: int | None) -> DeviceError:
    """Add how the firmware stopped, when it did, to a protocol error."""
    if status is None:
        return error
    if status == FAULT_EXIT_STATUS:
        return DeviceError(f"the firmware crashed (CPU fault, exit status {status}): {error}")
    return DeviceError(f"the firmware stopped with exit status {status}: {error}")
