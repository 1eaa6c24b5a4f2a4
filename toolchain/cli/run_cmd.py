"""`munify run`: run a model on a board (QEMU or a real board), check it bit-exact against the reference, measure it."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from ..boards import DEFAULT_BOARD, load_board
from ..build import OPTIMIZE_LEVELS, default_build_dir, dry_run_commands, is_up_to_date
from ..errors import MunifyError
from ..report import render
from ..runners.process import configure_logging

HELP = "run a model on a board (QEMU or a real one): bit-exact check against the reference, latency, memory"
OUTPUT_FILES = ("json",)
REPLACED_DIRS = ("build_dir",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="the model (.mun)")
    parser.add_argument("--board", default=DEFAULT_BOARD, help=f"board name or board .toml (default {DEFAULT_BOARD})")
    parser.add_argument("--inputs", type=int, default=3, help="number of seeded random inputs (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs (default 0)")
    parser.add_argument("--layers", action="store_true",
                        help="also check every layer's output and name the first layer that differs")
    parser.add_argument("--exact-counts", action=argparse.BooleanOptionalAction, default=True,
                        help="QEMU boards: count executed instructions exactly, per inference and per layer, "
                             "with munify's TCG plugin (default on; QEMU emulates 1.2-1.9x slower, "
                             "a small share of a run)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the report as JSON")
    parser.add_argument("--build-dir", type=Path, help="build directory (default munify-out/<model>-<board>-<opt>)")
    parser.add_argument("--optimize", choices=OPTIMIZE_LEVELS, default="balanced")
    parser.add_argument("--model-id", metavar="ID",
                        help="the MLPerf Tiny model id the firmware reports (kws01, ic01, vww01, ad01; default: the "
                             "model's own, or a shipped MLPerf model's by its hash or name)")
    parser.add_argument("--serve-mlperf", action="store_true",
                        help="instead: serve the firmware to the MLCommons Tiny runner on a pseudo-terminal, QEMU in "
                             "its MLPerf mode (docs/PROTOCOL.md), until Ctrl-C")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log every command (-vv: and its output)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")


def _dry_run(args, board, build_dir: Path) -> None:
    from ..build import ELF_NAME
    from ..runners import runner_for
    from ..runners.insn_count import exact_counts_note
    from ..runners.qemu import QemuProcess

    if not (args.model.is_file() and is_up_to_date(args.model, board, build_dir, args.optimize, args.model_id)):
        print("\n".join(dry_run_commands(board, build_dir, args.optimize)))
    if args.serve_mlperf:
        from ..runners.qemu import QemuSystemRunner

        print("\n".join(QemuSystemRunner(board, build_dir / ELF_NAME, mlperf=True).describe()))
        return
    runner = runner_for(board, build_dir / ELF_NAME)
    print("\n".join(runner.describe()))
    if args.exact_counts and isinstance(runner, QemuProcess):
        print(exact_counts_note())
    print(f"send {args.inputs} input(s) (seed {args.seed}); compare with the reference; 'munify exit 0'")


def _serve_mlperf(args, board, build_dir: Path) -> int:
    from ..build import build_model, is_up_to_date, load_result
    from ..harness.mlperf import profile_of
    from ..harness.mlperf_runner import serve
    from ..ir import load
    from ..runners.qemu import icount_option

    if board.runner != "qemu-system":
        raise MunifyError(f"--serve-mlperf needs a board emulated by qemu-system (the Cortex-M boards); "
                          f"'{board.name}' runs on '{board.runner}'")
    if not is_up_to_date(args.model, board, build_dir, args.optimize, args.model_id):
        build_model(args.model, board, build_dir, args.optimize, args.model_id)
    build = load_result(build_dir, board)

    model_id = profile_of(load(args.model), args.model_id).model_id

    def announce(pty: str) -> None:
        print(f"serving {build.model_name} (model id {model_id}) on {pty}, QEMU -icount "
              f"{icount_option(board, mlperf=True)}; Ctrl-C stops", flush=True)

    return serve(board, build.elf, announce)


def _exit_on_termination() -> None:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so every finally block (QEMU's process-group kill) runs."""
    def stop(signum, frame):
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)


def run(args: argparse.Namespace) -> int:
    from ..harness.session import run_model

    configure_logging(args.verbose)
    _exit_on_termination()
    if args.inputs < 1:
        raise MunifyError(f"--inputs must be at least 1, not {args.inputs}")
    if args.seed < 0:
        raise MunifyError(f"--seed must be a non-negative integer, not {args.seed}")
    board = load_board(args.board)
    build_dir = args.build_dir or default_build_dir(args.model, board, args.optimize)
    if args.dry_run:
        _dry_run(args, board, build_dir)
        return 0
    if args.serve_mlperf:
        return _serve_mlperf(args, board, build_dir)
    report = run_model(args.model, board, build_dir, args.inputs, args.seed, args.layers, args.optimize,
                       args.exact_counts, model_id=args.model_id)
    print(render(report))
    if args.json:
        report.write_json(args.json)
    return 0 if report.bit_exact else 1
