"""`munify bench`: measure every model variant on every QEMU board and regenerate docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..extras import require_compress_extra

HELP = "measure models on every QEMU board against the TFLM + CMSIS-NN anchors; regenerate docs/BENCHMARKS.md"
OUTPUT_FILES = ("out", "json")
OUTPUT_DIRS = ("img_dir", "work")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="smoke run (< 5 min): the MLPerf Tiny models, dense + one budget, on mps2-an386")
    parser.add_argument("--out", type=Path, default=Path("docs/BENCHMARKS.md"), help="Markdown report")
    parser.add_argument("--json", type=Path, default=Path("docs/benchmarks.json"), help="every figure as JSON")
    parser.add_argument("--img-dir", type=Path, default=Path("docs/img"), help="where the plots go")
    parser.add_argument("--work", type=Path, default=Path("munify-out/bench"), help="IR files and builds")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    require_compress_extra("munify bench")
    from ..bench import run_bench

    doc = run_bench(args.quick, args.out, args.json, args.img_dir, args.work, progress=not args.no_progress)
    failed = [f"{r['model']}/{r['variant']} on {r['board']}" for r in doc["rows"] if not r["bit_exact"]]
    failed += [f"{f['model']}/{f['variant']} on {f['board']} ({f['error']})" for f in doc["failures"]]
    print(f"wrote {args.out}, {args.json} and plots in {args.img_dir}/ ({doc['seconds']} s)")
    if failed:
        print("NOT bit-exact or failed: " + "; ".join(failed))
        return 1
    return 0
