"""Render the generated C and the JSON plan of .mun models for a set of boards into one directory tree.

A refactor of the plan or codegen side must leave this tree byte-identical (`diff -r before after`):

    PYTHONPATH=. python benchmarks/codegen_snapshot.py OUT_DIR MODEL.mun [MODEL.mun ...]

OUT_DIR/<model>/<board>/<optimize>/ holds the C sources and plan.json. No compiler runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from toolchain.boards import load_board
from toolchain.codegen import generate
from toolchain.ir import load
from toolchain.plan import plan_to_json
from toolchain.plan.registry import OPTIMIZE_MODES

BOARDS = ("mps2-an385", "mps2-an386", "mps3-an547", "aarch64-linux", "aarch64-linux-dotprod")


def snapshot(model: Path, out_dir: Path, boards: tuple[str, ...]) -> None:
    graph = load(model)
    for board_name in boards:
        board = load_board(board_name)
        for optimize in OPTIMIZE_MODES:
            target = out_dir / model.stem / board_name / optimize
            target.mkdir(parents=True, exist_ok=True)
            plan = generate(graph, target, board.features, optimize, cpu=board.cpu)
            (target / "plan.json").write_text(plan_to_json(plan))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--boards", default=",".join(BOARDS), help="comma-separated board names")
    args = parser.parse_args()
    for model in args.models:
        snapshot(model, args.out_dir, tuple(args.boards.split(",")))


if __name__ == "__main__":
    main()
