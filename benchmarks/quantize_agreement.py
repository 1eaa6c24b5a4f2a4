"""int8 quantization on the built-in MNIST split: float vs int8 accuracy and the top-1 agreement between the
integer reference on the exported IR and the torch fake-quant model, dense and compressed, PTQ and QAT.
Run from the repository root (a few minutes; dense models are trained once and cached):

    .venv/bin/python benchmarks/quantize_agreement.py [--recipes examples/mnist_cnn_1x8.toml ...] [--qat-epochs 1]

Agreement is reported twice: "exact" evaluates the fake-quant model with TFLite's fixed-point requantization
(it must be 100%: a difference is an export bug); "ste" is the float straight-through simulation QAT trains.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch

from toolchain.compress import compress
from toolchain.compress.pipeline import load_workload, train_dense
from toolchain.compress.recipe import load_recipe
from toolchain.compress.train import evaluate
from toolchain.quantize import quantize_model

RECIPES = ("examples/mnist_cnn_1x8.toml", "examples/mnist_cnn_1x4.toml", "examples/ds_cnn_mnist.toml")


def agreements(quantized, loader) -> tuple[float, float]:
    return quantized.agreement(loader), quantized.agreement(loader, exact=False)


def row(label: str, float_acc: float, quantized, loader, seconds: float) -> str:
    exact, ste = agreements(quantized, loader)
    pruned = quantized.report.total_pruned_by_rounding
    return (f"{label:34s} {100 * float_acc:6.1f} {100 * quantized.accuracy(loader):6.1f} {100 * exact:7.1f} "
            f"{100 * ste:6.1f} {pruned:7d} {seconds:6.1f}")


def measure(recipe_path: str, qat_epochs: int, cache_dir: Path) -> list[str]:
    recipe = load_recipe(recipe_path)
    dense = train_dense(load_workload(recipe), recipe, cache_dir, progress=False)
    work = load_workload(recipe)
    name = Path(recipe_path).stem
    start = time.monotonic()
    dense_q = quantize_model(dense, {}, work.calib)
    rows = [row(f"{name} dense ptq", evaluate(dense, work.test), dense_q, work.test, time.monotonic() - start)]
    compressed = compress(copy.deepcopy(dense), work.train, work.test, recipe)
    compressed_acc = evaluate(compressed.model, work.test)
    for mode, epochs in (("ptq", 0), ("qat", qat_epochs)):
        start = time.monotonic()
        quantized = compressed.quantize(work.calib, mode, work.train, epochs)
        label = f"{name} compressed {mode}" + (f" {epochs} ep" if epochs else "")
        rows.append(row(label, compressed_acc, quantized, work.test, time.monotonic() - start))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--qat-epochs", type=int, default=1)
    parser.add_argument("--cache-dir", type=Path, default=Path("munify-out/cache"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'model':34s} {'float%':>6s} {'int8%':>6s} {'exact%':>7s} {'ste%':>6s} {'pruned':>7s} {'sec':>6s}")
    for recipe in args.recipes:
        for line in measure(recipe, args.qat_epochs, args.cache_dir):
            print(line, flush=True)


if __name__ == "__main__":
    main()
