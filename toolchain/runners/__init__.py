"""How a board is reached: one `Runner` subclass (runners/base.py) per `run.runner` kind of a board file, all
named in runners/registry.py. `runner_for(board, elf)` picks the board's."""

from .registry import RUNNERS, runner_for

__all__ = ["RUNNERS", "runner_for"]
