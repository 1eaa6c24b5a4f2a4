"""Exact instruction counts and firmware hashes of `munify run` on a few boards, to show that a refactor of the
run side changes nothing: run it before and after, then compare the two JSON files.

    .venv/bin/python benchmarks/run_counts.py -o before.json [--boards mps2-an386 mps3-an547 aarch64-linux]
    .venv/bin/python benchmarks/run_counts.py -o after.json
    .venv/bin/python benchmarks/run_counts.py --compare before.json after.json

Per board: the exact instructions per inference and per layer (the QEMU plugin; never cycles), memory, bit
exactness and the sha256 of firmware.elf, for the MLPerf Tiny DS-CNN (kws_ref_model) on 2 seeded inputs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

from toolchain.boards import load_board
from toolchain.build import ELF_NAME
from toolchain.importers import import_tflite
from toolchain.ir import save
from toolchain.run import run_model

MODEL = Path(__file__).resolve().parents[1] / "examples" / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
BOARDS = ("mps2-an386", "mps3-an547", "aarch64-linux")


def counts(board_name: str, work: Path) -> dict:
    model = work / "kws.mun"
    if not model.is_file():
        save(import_tflite(MODEL), model)
    build_dir = work / f"build-{board_name}"
    report = run_model(model, load_board(board_name), build_dir, 2, 0)
    exact = report.latency.instructions_exact
    return {"instructions_per_inference": exact.per_inference if exact else None,
            "layers": {layer.name: [layer.kernel, layer.instructions_exact] for layer in report.layers},
            "memory": report.to_json()["memory"], "bit_exact": report.bit_exact,
            "elf_sha256": hashlib.sha256((build_dir / ELF_NAME).read_bytes()).hexdigest()}


def compare(before: dict, after: dict) -> int:
    differing = 0
    for board in sorted(set(before) | set(after)):
        same = before.get(board) == after.get(board)
        differing += not same
        figure = (after.get(board) or {}).get("instructions_per_inference")
        print(f"{board}: {'identical' if same else 'DIFFERENT'} ({figure} instructions per inference)")
    return 1 if differing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, help="write the counts here (JSON)")
    parser.add_argument("--boards", nargs="+", default=list(BOARDS))
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        return compare(*(json.loads(path.read_text()) for path in args.compare))
    with tempfile.TemporaryDirectory(prefix="munify-run-counts-") as tmp:
        doc = {board: counts(board, Path(tmp)) for board in args.boards}
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
