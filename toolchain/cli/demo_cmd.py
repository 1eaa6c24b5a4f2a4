"""`munify demo`: train, compress, quantize, build and run the MNIST CNN dense and compressed on a QEMU board."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..boards import DEFAULT_BOARD, load_board
from ..errors import MunifyError
from ..extras import require_compress_extra

HELP = "the whole pipeline on the built-in MNIST CNN: compress, build, run dense vs compressed, one table"
OUTPUT_DIRS = ("out",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--board", default=DEFAULT_BOARD, help=f"QEMU board (default {DEFAULT_BOARD})")
    parser.add_argument("-o", "--out", type=Path, default=Path("munify-out/demo"), help="output directory")
    parser.add_argument("--device-samples", type=int, default=100,
                        help="test images run on the device (default 100)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    require_compress_extra("munify demo")
    from ..demo import render_table, run_demo

    if args.device_samples < 1:
        raise MunifyError(f"--device-samples must be at least 1, not {args.device_samples}")
    board = load_board(args.board)
    summary = run_demo(board, args.out, args.device_samples, progress=not args.no_progress)
    print()
    print(render_table(summary))
    print(f"\nartefacts in {args.out}/ (summary.json, run-*.json, *.mun, build-*/, *.png)")
    return 0
