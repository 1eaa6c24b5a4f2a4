"""`munify plan MODEL.mun --board B`: show the kernel, weight layout and arena placement of every layer."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..boards import DEFAULT_BOARD, FEATURES, load_board
from ..build import check_fits
from ..errors import MunifyError
from ..ir import load
from ..plan import format_plan, make_plan, plan_to_json
from ..plan.registry import OPTIMIZE_MODES

HELP = "plan a model for a board: kernel and weight layout per layer, static arena (text or --json)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="munify IR file (.mun)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--board", help="board name or board .toml file (its ISA features pick the kernels)")
    target.add_argument("--features", help="comma-separated ISA features instead of a board, e.g. dsp,fpu "
                                           "(costs: each kernel family's fitted CPU)")
    parser.add_argument("--optimize", choices=OPTIMIZE_MODES, default="balanced",
                        help="speed: fastest kernels, larger layouts; size: minimal packed weights (default: "
                             "balanced)")
    parser.add_argument("--kernel", action="append", default=[], metavar="OP=KERNEL",
                        help="force a kernel variant on an op (repeatable), e.g. conv_2d_0=conv_dense_generic")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")


def target_from_args(args: argparse.Namespace) -> tuple[frozenset[str], str | None]:
    """The ISA features and the CPU (None with --features) to plan for."""
    if args.features is not None:
        features = frozenset(f.strip() for f in args.features.split(",") if f.strip())
        unknown = sorted(features - set(FEATURES))
        if unknown:
            raise MunifyError(f"unknown feature(s) {', '.join(unknown)}; use any of {', '.join(FEATURES)}")
        return features, None
    board = load_board(args.board or DEFAULT_BOARD)
    return board.features, board.cpu


def forced_kernels(pairs: list[str]) -> dict[str, str]:
    force = {}
    for pair in pairs:
        op, sep, kernel = pair.partition("=")
        if not sep or not op or not kernel:
            raise MunifyError(f"--kernel '{pair}' is not OP=KERNEL; e.g. --kernel conv_2d_0=conv_dense_generic")
        force[op] = kernel
    return force


def run(args: argparse.Namespace) -> int:
    features, cpu = target_from_args(args)
    plan = make_plan(load(args.model), features, args.optimize, force=forced_kernels(args.kernel), cpu=cpu)
    if args.board:
        check_fits(plan.model_name, load_board(args.board), plan.const_bytes, plan.arena_size)
    print(plan_to_json(plan) if args.json else format_plan(plan))
    return 0
