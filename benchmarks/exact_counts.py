"""Exact instruction counts (the QEMU TCG plugin) against the tick figures, and what the plugin costs.

    .venv/bin/python benchmarks/exact_counts.py [--inputs 2] [--repeats 2] [--out munify-out/exact-counts]

For each MLPerf Tiny model on an MPS2 board (icount), the Cortex-M55 board and aarch64-linux (user mode):
the firmware's tick figure per inference, the plugin's exact count (the same in two runs, or the script
stops), their difference, how much of an inference its layer windows cover, and what the plugin costs:
QEMU's own CPU time (/proc/PID/stat) while it runs one `infer N 0` command of at least --budget
instructions, without and with the plugin (best of --repeats; the host idles meanwhile, so this is emulation
time, not the UART polling between commands), and the wall time of a whole `munify run` (build up to date,
--inputs inputs) without and with it. Prints the Markdown table of docs/BOARDS.md, section "Exact
instruction counts".
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from toolchain.boards import load_board
from toolchain.build import load_result
from toolchain.harness.protocol import DeviceClient
from toolchain.run import run_model
from toolchain.runners import runner_for
from toolchain.importers.tflite import import_tflite
from toolchain.ir import save

MODELS = Path(__file__).resolve().parents[1] / "examples" / "models" / "mlperf-tiny"
TFLITE = {"ad01": "ad01_int8.tflite", "kws": "kws_ref_model.tflite", "ic (resnet)": "pretrainedResnet_quant.tflite"}
BOARDS = ("mps2-an386", "mps3-an547", "aarch64-linux")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def emulation_seconds(build, count: int, exact: bool) -> float:
    """QEMU's CPU time for `infer count 0` of one input."""
    runner = runner_for(build.board, build.elf)
    if exact:
        runner.count_exactly()
    with runner as transport:
        client = DeviceClient(transport, timeout=600)
        if runner.boots_on_start:
            client.wait_ready()
        client.load(bytes(client.info().input_bytes))
        before = cpu_seconds(runner.process.pid)
        client.infer(count, 0, timeout=600)
        seconds = cpu_seconds(runner.process.pid) - before
        client.exit(0)
        runner.wait_exit()
    return seconds


def run_seconds(model: Path, board, build_dir: Path, inputs: int, exact: bool):
    started = time.monotonic()
    report = run_model(model, board, build_dir, inputs, 0, exact_counts=exact)
    return report, time.monotonic() - started


def measure(model: Path, board, build_dir: Path, args) -> dict:
    run_model(model, board, build_dir, 1, 0, exact_counts=False)  # builds, outside the timing
    plain_runs = [run_seconds(model, board, build_dir, args.inputs, False) for _ in range(args.repeats)]
    exact_runs = [run_seconds(model, board, build_dir, args.inputs, True) for _ in range(args.repeats)]
    reports = [report for report, _ in exact_runs]
    if len({(r.latency.instructions_exact, tuple(layer.instructions_exact for layer in r.layers))
            for r in reports}) != 1:
        raise SystemExit(f"{model.stem} on {board.name}: exact counts differ between two runs")
    build = load_result(build_dir, board)
    count = max(1, -(-args.budget // reports[0].latency.instructions_exact.per_inference))
    return {"report": reports[0],
            "emulation": [min(emulation_seconds(build, count, exact) for _ in range(args.repeats))
                          for exact in (False, True)],
            "run": [min(seconds for _, seconds in runs) for runs in (plain_runs, exact_runs)]}


def row(label: str, measured: dict) -> str:
    report = measured["report"]
    lat, exact = report.latency, report.latency.instructions_exact
    layers = sum(layer.instructions_exact or 0 for layer in report.layers)
    if lat.unit == "instructions":
        ticked, difference = f"{lat.per_inference:,} instructions", f"{exact.per_inference - lat.per_inference:+,}"
    else:
        ticked, difference = f"{lat.per_inference:,} {lat.unit} (host time)", "-"
    (emulated_off, emulated_on), (run_off, run_on) = measured["emulation"], measured["run"]
    return (f"| {label} | {report.board} | {'yes' if report.bit_exact else 'NO'} | {ticked} | "
            f"{exact.per_inference:,} ({exact.min:,}-{exact.max:,}) | {difference} | "
            f"{100 * layers / exact.last:.2f}% | {emulated_off:.2f} / {emulated_on:.2f} = "
            f"{emulated_on / emulated_off:.2f}x | {run_off:.1f} / {run_on:.1f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--budget", type=int, default=500_000_000, help="instructions per timed command")
    parser.add_argument("--out", type=Path, default=Path("munify-out/exact-counts"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print("| model | board | bit-exact | tick figure per inference | exact instructions (min-max) | "
          "exact - ticks | layers cover | QEMU CPU s per budget, off / on | `munify run`, off / on |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, file in TFLITE.items():
        model = args.out / f"{Path(file).stem}.mun"
        save(import_tflite(MODELS / file), model)
        for name in BOARDS:
            board = load_board(name)
            measured = measure(model, board, args.out / f"{model.stem}-{name}", args)
            measured["report"].write_json(args.out / f"{model.stem}-{name}.json")
            print(row(label, measured), flush=True)


if __name__ == "__main__":
    main()
