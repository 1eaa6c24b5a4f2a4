"""Helpers of the NEON target tests: plans that run NEON kernels on every matrix op, built for an AArch64
board and checked layer by layer under qemu-aarch64."""

from __future__ import annotations

from pathlib import Path

from toolchain.boards import load_board
from toolchain.build import build_sources
from toolchain.codegen import write
from toolchain.run import graph_cases, run_cases
from toolchain.plan import layers, make_plan
from toolchain.plan.registry import candidates
from toolchain.plan.kernels.neon import NEON_VARIANTS

NEON_NAMES = {v.name for v in NEON_VARIANTS}
MATRIX_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def neon_force(graph, features: frozenset, seed: int) -> dict[str, str]:
    """Op name -> a NEON kernel that applies to it, rotating through the applicable ones with `seed`."""
    force = {}
    for index, op in enumerate(graph.ops):
        if op.type not in MATRIX_OPS:
            continue
        spec = layers.build(graph, op, "speed")
        names = sorted({v.name for mode in ("speed", "balanced", "size")
                        for v in candidates(op.type, features, spec.facts.kinds, mode, spec.params)
                        if v.name in NEON_NAMES})
        if names:
            force[op.name] = names[(seed + index) % len(names)]
    return force


def run_forced(graph, board_name: str, out: Path, force: dict[str, str], inputs: int = 2, seed: int = 0):
    """Build `graph` for the board with the kernels `force` names and run it, every layer checked."""
    board = load_board(board_name)
    plan = make_plan(graph, board.features, "speed", force=force)
    write(plan, out / "model")
    build = build_sources(out / "model", board, out / "build")
    ops = {op.name: op.type for op in graph.ops}
    report = run_cases(build, lambda info: graph_cases(graph, inputs, seed, True, [n for n, _ in info.layers]), ops)
    return plan, report
