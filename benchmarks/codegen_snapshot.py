"""Render the generated C and the JSON plan of .mun models for a set of boards into one directory tree.

A refactor of the plan or codegen side must leave this tree byte-identical (`diff -r before after`):

    PYTHONPATH=. python benchmarks/codegen_snapshot.py OUT_DIR MODEL.mun [MODEL.mun ...]

OUT_DIR/<model>/<board>/<optimize>/ holds the C sources and plan.json. No compiler runs. A change that adds
plan keys or edits the comments of copied kernel headers is checked with

    PYTHONPATH=. python benchmarks/codegen_snapshot.py --compare BEFORE AFTER [--new-plan-keys cpu,costs]

which fails unless every file is byte-identical, differs only inside C comments, or is a plan.json that
differs only by the named new keys.
"""

from __future__ import annotations

import argparse
import json
import re
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


def _without_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def compare(before: Path, after: Path, new_plan_keys: tuple[str, ...]) -> dict[str, list[str]]:
    """Files of two snapshots by how they differ: identical, comments (C comments only), plan_keys (plan.json
    only by `new_plan_keys`), other (anything else, or a file only one side has)."""
    names = {p.relative_to(root) for root in (before, after) for p in root.rglob("*") if p.is_file()}
    found: dict[str, list[str]] = {"identical": [], "comments": [], "plan_keys": [], "other": []}
    for name in sorted(names):
        old, new = before / name, after / name
        if not (old.is_file() and new.is_file()):
            kind = "other"
        elif old.read_bytes() == new.read_bytes():
            kind = "identical"
        elif name.name == "plan.json":
            plan = json.loads(new.read_text())
            kind = "plan_keys" if {k: v for k, v in plan.items() if k not in new_plan_keys} == json.loads(
                old.read_text()) else "other"
        else:
            kind = "comments" if _without_comments(old.read_text()) == _without_comments(new.read_text()) else "other"
        found[kind].append(str(name))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, nargs="?")
    parser.add_argument("models", type=Path, nargs="*")
    parser.add_argument("--boards", default=",".join(BOARDS), help="comma-separated board names")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("BEFORE", "AFTER"),
                        help="compare two snapshots instead of writing one")
    parser.add_argument("--new-plan-keys", default="", help="comma-separated plan.json keys AFTER may add")
    args = parser.parse_args()
    if args.compare:
        found = compare(*args.compare, tuple(k for k in args.new_plan_keys.split(",") if k))
        print(", ".join(f"{len(files)} {kind}" for kind, files in found.items()))
        for name in found["other"][:20]:
            print(f"differs: {name}")
        return 1 if found["other"] else 0
    if args.out_dir is None or not args.models:
        parser.error("give OUT_DIR and at least one MODEL.mun (or --compare BEFORE AFTER)")
    for model in args.models:
        snapshot(model, args.out_dir, tuple(args.boards.split(",")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
