"""`munify run`: run a model on a board (QEMU or a real board), check it bit-exact against the reference, measure it."""

from __future__ import annotations

import argparse
import dataclasses
import signal
from pathlib import Path

from ..boards import DEFAULT_BOARD, RUNNERS, load_board, with_overrides
from ..build import (ELF_NAME, OPTIMIZE_LEVELS, build_model, default_build_dir, dry_run_commands, is_up_to_date,
                     load_result)
from ..errors import MunifyError
from ..harness.mlperf import profile_of
from ..input_files import accuracy, load_inputs, load_labels
from ..ir import load, reference
from ..process import configure_logging
from ..report import render
from ..run import run_model
from ..runners import runner_for
from ..runners.insn_count import exact_counts_note
from ..runners.mlperf_serve import serve
from ..runners.qemu import QemuSystemRunner, icount_option

HELP = "run a model on a board (QEMU or a real one): bit-exact check against the reference, latency, memory"
OUTPUT_FILES = ("json",)
REPLACED_DIRS = ("build_dir",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="the model (.mun)")
    parser.add_argument("--board", default=DEFAULT_BOARD, help=f"board name or board .toml (default {DEFAULT_BOARD})")
    parser.add_argument("--inputs", default="3", metavar="N|FILE.npy|DIR",
                        help="a number of seeded random inputs (default 3), or real input tensors: a .npy file "
                             "(one input or a batch) or a directory of them; float arrays are quantized")
    parser.add_argument("--labels", type=Path, metavar="FILE.npy",
                        help="class labels of the --inputs tensors (a DIR's labels.npy is used when present): "
                             "adds the on-device top-1 accuracy")
    parser.add_argument("--port", help="the board's serial port: any pyserial URL (/dev/ttyACM0, socket://host:port); "
                                       "overrides the board file")
    parser.add_argument("--runner", choices=RUNNERS,
                        help="how to flash and reach the board, overriding the board file's run.runner")
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
    if not (args.model.is_file() and is_up_to_date(args.model, board, build_dir, args.optimize, args.model_id)):
        print("\n".join(dry_run_commands(board, build_dir, args.optimize)))
    if args.serve_mlperf:
        print("\n".join(QemuSystemRunner(board, build_dir / ELF_NAME, mlperf=True).describe()))
        return
    runner = runner_for(board, build_dir / ELF_NAME)
    print("\n".join(runner.describe()))
    if args.exact_counts and runner.counts_instructions:
        print(exact_counts_note())
    what = f"{args.inputs} input(s) (seed {args.seed})" if args.inputs.isdigit() else f"the inputs in {args.inputs}"
    print(f"send {what}; compare with the reference; 'munify exit 0'")


def _serve_mlperf(args, board, build_dir: Path) -> int:
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
    configure_logging(args.verbose)
    _exit_on_termination()
    count = _input_count(args.inputs)
    if args.seed < 0:
        raise MunifyError(f"--seed must be a non-negative integer, not {args.seed}")
    board = with_overrides(load_board(args.board), args.runner, args.port)
    build_dir = args.build_dir or default_build_dir(args.model, board, args.optimize)
    if args.dry_run:
        _dry_run(args, board, build_dir)
        return 0
    if args.serve_mlperf:
        return _serve_mlperf(args, board, build_dir)
    inputs, labels = _input_files(args) if count is None else (None, None)
    report = run_model(args.model, board, build_dir, count or len(inputs), args.seed, args.layers, args.optimize,
                       args.exact_counts, inputs=inputs, model_id=args.model_id)
    if labels is not None:
        report = _with_accuracy(report, args.model, inputs, labels)
    print(render(report))
    _print_details(report, board)
    if args.json:
        report.write_json(args.json)
    return 0 if report.bit_exact else 1


def _input_count(text: str) -> int | None:
    """--inputs N: the count; a path: None."""
    if text.lstrip("-").isdigit():
        if int(text) < 1:
            raise MunifyError(f"--inputs must be at least 1, not {text}")
        return int(text)
    return None


def _input_files(args):
    inputs = load_inputs(load(args.model), Path(args.inputs))
    return inputs, load_labels(args.labels, Path(args.inputs), len(inputs))


def _with_accuracy(report, model: Path, inputs, labels):
    """Top-1 accuracy of the outputs the device was checked to produce (the reference's, when bit-exact)."""
    if not report.bit_exact:
        return dataclasses.replace(report, extra={**report.extra, "accuracy": None})
    graph = load(model)
    outputs = [reference.run(graph, [x])[0] for x in inputs]
    return dataclasses.replace(report, extra={**report.extra, "accuracy": accuracy(outputs, labels)})


def _print_details(report, board) -> None:
    extra = report.extra
    if "latency_ms" in extra:
        clock = f" at {extra['clock_hz'] / 1e6:g} MHz ({extra['clock_source']})" if "clock_hz" in extra else ""
        print(f"latency: {extra['latency_ms']:.3f} ms per inference{clock}")
        if extra.get("clock_hz") not in (None, board.clock_hz):
            print(f"warning: board '{board.name}' runs at {extra['clock_hz']:,} Hz, not its rated {board.clock_hz:,} "
                  "Hz: its clock set-up did not complete (crystal, supply, or a clock driver to check)")
    if "accuracy" in extra:
        acc = extra["accuracy"]
        print("accuracy on device: n/a (outputs differ from the reference)" if acc is None else
              f"accuracy on device: {100 * acc['top1']:.1f}% top-1 ({acc['correct']}/{acc['total']})")
