"""Milliseconds per inference of the numpy reference executor on the MLPerf Tiny models (target for
ResNet-8: < 100 ms). Run from the repository root:

    .venv/bin/python benchmarks/reference_speed.py [--inputs 50] [--models resnet kws ad01]

Reports the median wall time and the mean CPU time of this process per inference (CPU time is the
steadier number on a shared machine).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from toolchain.importers import import_tflite
from toolchain.inputs import draw_inputs
from toolchain.ir import reference

MODELS_DIR = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf-tiny"
MODELS = {"resnet": "pretrainedResnet_quant.tflite", "kws": "kws_ref_model.tflite", "ad01": "ad01_int8.tflite"}


def measure(name: str, n: int) -> tuple[float, float]:
    graph = import_tflite(MODELS_DIR / MODELS[name])
    inputs = draw_inputs(graph, n, seed=0)
    reference.run(graph, inputs[0])  # warm up (imports, BLAS initialisation)
    walls = []
    cpu_start = time.process_time()
    for x in inputs:
        start = time.perf_counter()
        reference.run(graph, x)
        walls.append(time.perf_counter() - start)
    cpu = (time.process_time() - cpu_start) / n
    return statistics.median(walls) * 1e3, cpu * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=50)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["resnet", "kws", "ad01"])
    args = parser.parse_args()
    print(f"{'model':8} {'median wall ms':>15} {'mean cpu ms':>12}   ({args.inputs} inferences)")
    for name in args.models:
        wall, cpu = measure(name, args.inputs)
        print(f"{name:8} {wall:15.1f} {cpu:12.1f}")


if __name__ == "__main__":
    main()
