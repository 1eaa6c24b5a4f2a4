"""The MLCommons Tiny runner's accuracy and performance modes, with the runner's own counts, against KWS and
ad01 firmware under QEMU's MLPerf mode; writes docs/MLPERF.md.

    .venv/bin/python benchmarks/mlperf_runner.py [--board mps2-an386] [--inputs 5] [--out munify-out/mlperf]

Slow by design: QEMU holds guest time to host time and the runner's performance windows last over 10 s each,
five per model (about 4 minutes in all), which is why this is not part of the test suite
(tests/target/test_mlperf_runner.py plays the same sequence with short windows). Accuracy mode uses seeded
random inputs (the MLPerf datasets are not shipped): it shows the runner's normalisation and ranking
agree with the reference, not the models' accuracy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from toolchain.boards import load_board
from toolchain.build import build_model
from toolchain.harness import mlperf_runner as mlcommons
from toolchain.harness.mlperf import profile_of
from toolchain.importers.tflite import import_tflite
from toolchain.inputs import draw_inputs
from toolchain.ir import reference, save
from toolchain.runners.mlperf_serve import served_on_pty
from toolchain.run import run_model
from toolchain.runners.qemu import icount_option, mlperf_icount_shift

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"kws01": "kws_ref_model.tflite", "ad01": "ad01_int8.tflite"}
DOC = ROOT / "docs" / "MLPERF.md"


def measure(model_id: str, board, inputs: int, out: Path) -> dict:
    graph = import_tflite(ROOT / "examples" / "models" / "mlperf-tiny" / MODELS[model_id])
    save(graph, out / f"{model_id}.mun")
    build = build_model(out / f"{model_id}.mun", board, out / f"build-{model_id}")
    profile = profile_of(graph)
    tensors = [x[0] for x in draw_inputs(graph, inputs, seed=0)]
    wires = [profile.encode(t.tobytes()) for t in tensors]
    exact = run_model(out / f"{model_id}.mun", board, out / f"build-{model_id}", 1, seed=0)
    iterations, warmups = mlcommons.performance_counts(
        model_id, exact.instructions * 2 ** mlperf_icount_shift(board) / 1e9)
    with served_on_pty(board, build.elf) as qemu, mlcommons.RunnerSide(qemu.pty) as runner:
        name, model = runner.identify()
        results = runner.accuracy(wires)
        performance = runner.performance(wires, iterations, warmups)
    agree = 0
    for tensor, wire, got in zip(tensors, wires, results):
        output = reference.run(graph, [tensor])[0].tobytes()
        want = profile.results(wire, output)
        same_rank = np.argsort(got, kind="stable").tolist() == np.argsort(want, kind="stable").tolist()
        agree += int(same_rank and np.allclose(got, want, rtol=1e-5, atol=0))
    return {"model_id": model, "name": name, "inputs": inputs, "agree": agree, "performance": performance,
            "iterations": iterations, "warmups": warmups}


def render(board, rows: list[dict]) -> str:
    lines = [
        "# MLPerf Tiny runner, replayed under QEMU's MLPerf mode",
        "",
        f"Produced by `.venv/bin/python benchmarks/mlperf_runner.py --board {board.name}`: munify's implementation of",
        "the MLCommons Tiny runner's side (`toolchain/harness/mlperf_runner.py`) drives the firmware through",
        f"QEMU's pseudo-terminal with `-icount {icount_option(board, mlperf=True)}` (docs/PROTOCOL.md). Times",
        "are of an emulated core retiring one instruction per 32 ns (31.25 MHz), not of any board: they are",
        "exact instruction counts at that rate, not measurements of real hardware.",
        "",
        "Accuracy mode (seeded random inputs: the datasets are not shipped): results whose values and",
        "ranking equal the reference's, as the runner parses them.",
        "",
        "| model id | inputs | results equal to the reference (values and ranking) |",
        "|---|---|---|",
    ]
    lines += [f"| {r['model_id']} | {r['inputs']} | {r['agree']} of {r['inputs']} |" for r in rows]
    lines += ["", "Performance mode, the runner's script (`loop 5`, `infer N W`): per window the laps the runner",
              "reads, its throughput and its \"Runtime requirements have been met\" (> 10 s); the loop's host time",
              "(its ERROR 2 needs >= 10 s) and the runner's verdict. N is tests_performance.yaml's count, raised",
              "where N inferences would not fill the 10-second window at this clock (`performance_counts`); windows",
              "may differ by the SysTick interrupts that fall in them.", "",
              "| model id | infer N W | window (s, laps) | windows equal | runtime met | median throughput (inf./s) "
              "| loop host time (s) | runner errors |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        perf = r["performance"]
        elapsed = {w.elapsed_us for w in perf.windows}
        met = sum(w.runtime_met for w in perf.windows)
        lines.append(f"| {r['model_id']} | {r['iterations']} {r['warmups']} | {min(elapsed) / 1e6:.6f} | "
                     f"{'yes' if len(elapsed) == 1 else 'no'} | {met} of {len(perf.windows)} | "
                     f"{perf.median_throughput:.3f} | {perf.loop_seconds:.1f} | "
                     f"{'; '.join(perf.errors) or 'none'} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--inputs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("munify-out/mlperf"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    board = load_board(args.board)
    rows = [measure(model_id, board, args.inputs, args.out) for model_id in MODELS]
    DOC.write_text(render(board, rows))
    print(DOC.read_text())
    return 0 if all(not r["performance"].errors for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
