"""Every MLPerf Tiny model on every board QEMU runs: bit-exactness, instructions per inference, flash and RAM.

    .venv/bin/python benchmarks/boards_sweep.py [--inputs 3] [--boards B1,B2] [--out munify-out/sweep]

Prints a Markdown table; each run's RunReport JSON is kept in --out. A model too large for a board gets a
row saying so (the build error's bytes over). Real boards (runners serial, pyocd, openocd, gdb, ssh) are
skipped: they need the hardware. Slow (tens of seconds per model and board), which is why it is not part of
the test suite.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from toolchain.boards import list_boards
from toolchain.build import BuildError
from toolchain.run import run_model
from toolchain.importers.tflite import import_tflite
from toolchain.ir import save

MODELS = Path(__file__).resolve().parents[1] / "examples" / "models" / "mlperf-tiny"
_OVER = re.compile(r"(flash|RAM)[^;]*?: (\d+) bytes over")
TFLITE = {"ad01": "ad01_int8.tflite", "kws": "kws_ref_model.tflite", "ic (resnet)": "pretrainedResnet_quant.tflite"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("munify-out/sweep"))
    parser.add_argument("--boards", help="comma-separated board names (default: every QEMU board)")
    args = parser.parse_args()
    boards = [b for b in list_boards() if b.runner.startswith("qemu")]
    if args.boards:
        boards = [b for b in boards if b.name in args.boards.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    print("| model | board | bit-exact | latency | flash B | weights B | static RAM B | stack B |")
    print("|---|---|---|---|---|---|---|---|")
    for label, file in TFLITE.items():
        model = args.out / f"{Path(file).stem}.mun"
        save(import_tflite(MODELS / file), model)
        for board in boards:
            try:
                report = run_model(model, board, args.out / f"{model.stem}-{board.name}", args.inputs, args.seed)
            except BuildError as exc:
                over = ", ".join(f"{region.split()[0]} {int(n):,} B over" for region, n in _OVER.findall(str(exc)))
                print(f"| {label} | {board.name} | too large ({over}) | | | | | |", flush=True)
                continue
            report.write_json(args.out / f"{model.stem}-{board.name}.json")
            mem, lat = report.memory, report.latency
            print(f"| {label} | {board.name} | {'yes' if report.bit_exact else 'NO'} | "
                  f"{lat.per_inference:,} {lat.unit} | {mem.flash_bytes:,} | {mem.weights_bytes:,} | "
                  f"{mem.static_ram_bytes:,} | {mem.stack_bytes:,} |", flush=True)


if __name__ == "__main__":
    main()
