"""A budget recipe on the board: compress the MNIST CNN to an instruction budget, run dense and compressed under
QEMU and put the planner's predicted instructions beside the measured ones, per layer and in total.

    .venv/bin/python benchmarks/budget_mnist.py [--recipe examples/mnist_cnn_budget.toml] [--out munify-out/budget]
        [--inputs 3] [--reuse] [--baseline] [--markdown docs/budget_mnist.md]

Measured = QEMU `-icount shift=0` exact instruction counts (the TCG plugin), never cycles. The budget is a
fraction of the dense model's *predicted* instructions; the table shows the compressed model's measured count
against that budget and against the measured dense model (both must be within 5%). Training the dense model
takes about a minute on one core the first time (cached in --cache-dir); --reuse skips compression when --out
already holds its result. --baseline also compresses the same recipe with one prune ratio for every layer the
budget may compress (the smallest on the allocation's grid whose prediction meets the budget) and runs it:
what the per-layer allocation buys over uniform ratios. Prints Markdown; exits 1 when the measured total misses
the budget by more than 5%.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from toolchain.boards import load_board
from toolchain.compress.recipe import load_recipe
from toolchain.fsutil import atomic_write_text
from toolchain.ir import load, save
from toolchain.report import PREDICTION_TOLERANCE, RunReport
from toolchain.run import run_model

ROOT = Path(__file__).resolve().parents[1]


def compress(recipe, out: Path, name: str, cache_dir: Path, reuse: bool) -> dict:
    """The compress report of `recipe`; writes dense.mun and <name>.mun into `out`."""
    report_path = out / f"{name}.json"
    if reuse and report_path.is_file() and (out / "dense.mun").is_file() and (out / f"{name}.mun").is_file():
        return json.loads(report_path.read_text())
    import torch

    from toolchain.compress.pipeline import run_recipe

    torch.set_num_threads(1)
    report = run_recipe(recipe, out / f"{name}.mun", cache_dir, progress=True)
    save(report.dense_graph, out / "dense.mun")
    doc = report.to_json()
    atomic_write_text(report_path, json.dumps(doc, indent=1) + "\n")
    return doc


def uniform_recipe(recipe, budget_doc: dict, dense_path: Path):
    """`recipe` with one prune ratio on every layer the budget may compress: the smallest on the grid whose
    predicted total meets the budget."""
    from toolchain.compress import budget
    from toolchain.compress.layers import LayerPlan

    graph = load(dense_path)
    op_types = {op.name: op.type for op in graph.ops}
    layers = [LayerPlan(layer["name"], op_types[layer["name"]], *layer["block_shape"], 0.0, 0.0)
              for layer in budget_doc["layers"]]
    board = load_board(budget_doc["board"])
    dense = budget.dense_totals(graph, board.features, budget_doc["optimize"], board.cpu)
    names = {layer.name for layer in layers}
    fixed = sum(v["instructions"] for name, v in dense.items() if name not in names)
    grid = [(p / budget.PRUNE_STEPS, 0.0) for p in range(budget.PRUNE_STEPS)]
    table = budget.layer_candidates(graph, layers, board.features, budget_doc["optimize"], grid, board.cpu)
    target = budget_doc["targets"]["instructions"] * budget_doc["dense"]["instructions"]
    for i, (prune, _) in enumerate(grid):
        if fixed + sum(options[i].instructions for options in table.values()) <= target:
            return recipe.replace(budget=None, ratios=dataclasses.replace(recipe.ratios, prune=prune))
    raise SystemExit("no uniform prune ratio meets the budget")


def _pct(measured: int, predicted: float) -> str:
    return f"{100 * (measured / predicted - 1):+.1f}%" if predicted else "-"


def layer_table(dense: RunReport, compressed: RunReport) -> list[str]:
    lines = ["| layer | op | kernel (compressed) | dense predicted | dense measured | vs pred | "
             "compressed predicted | compressed measured | vs pred |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for d, c in zip(dense.layers, compressed.layers):
        dm, cm = dense.measured_instructions(d), compressed.measured_instructions(c)
        lines.append(f"| {c.name} | {c.op} | {c.kernel} | {round(d.predicted):,} | {dm:,} | {_pct(dm, d.predicted)} | "
                     f"{round(c.predicted):,} | {cm:,} | {_pct(cm, c.predicted)} |")
    dp, cp = dense.prediction(), compressed.prediction()
    lines.append(f"| **total** | | | {dp['predicted']:,} | {dp['measured']:,} | "
                 f"{_pct(dp['measured'], dp['predicted'])} | {cp['predicted']:,} | {cp['measured']:,} | "
                 f"{_pct(cp['measured'], cp['predicted'])} |")
    return lines


def baseline_line(doc: dict, run: RunReport, dense: RunReport) -> str:
    acc = doc["accuracy"]
    return (f"- baseline, one prune ratio {doc['recipe']['ratios']['prune']:g} on the same layers (the smallest "
            f"on the grid that meets the budget by prediction): measured {run.instructions:,} instructions "
            f"({run.instructions / dense.instructions:.3f} of dense), int8 accuracy "
            f"{100 * acc['compressed_int8']:.1f}% ({100 * (acc['compressed_int8'] - acc['dense_int8']):+.1f} pt)")


def bytes_line(budget: dict) -> list[str]:
    if budget["targets"]["weights_bytes"] is None:
        return []
    final = budget["compressed"]["predicted"]["weights_bytes"]
    return [f"- weight bytes: {final:,} of {budget['dense']['weights_bytes']:,} = "
            f"{budget['compressed']['predicted_fraction']['weights_bytes']:.3f} of dense "
            f"(asked at most {budget['targets']['weights_bytes']:g})"]


def budget_lines(doc: dict, dense: RunReport, compressed: RunReport) -> tuple[list[str], bool]:
    budget = doc["budget"]
    fraction = budget["targets"]["instructions"]
    target = fraction * budget["dense"]["instructions"]
    measured, measured_dense = compressed.instructions, dense.instructions
    of_budget = measured / target
    of_dense = measured / measured_dense
    ok = abs(of_budget - 1) <= PREDICTION_TOLERANCE and abs(of_dense / fraction - 1) <= PREDICTION_TOLERANCE
    chosen = ", ".join(f"`{layer['name']}` prune {layer['prune']:g} unify {layer['unify']:g}"
                       for layer in budget["layers"])
    acc = doc["accuracy"]
    return [
        f"- budget: instructions = {fraction:g} of the dense model's predicted {budget['dense']['instructions']:,} "
        f"on {budget['board']} = {round(target):,} instructions",
        f"- ratios chosen: {chosen} (loss proxy {budget['loss_proxy']:.3f})",
        f"- predicted (compressed model's plan): {budget['compressed']['predicted']['instructions']:,} "
        f"({budget['compressed']['predicted_fraction']['instructions']:.3f} of dense)",
        f"- measured: {measured:,} instructions = {of_budget:.3f} of the budget; dense measured {measured_dense:,}, "
        f"so {of_dense:.3f} of dense (asked {fraction:g}) -> {'within' if ok else 'NOT within'} 5%",
        *bytes_line(budget),
        f"- accuracy (host reference, int8): dense {100 * acc['dense_int8']:.1f}%, compressed "
        f"{100 * acc['compressed_int8']:.1f}% ({100 * (acc['compressed_int8'] - acc['dense_int8']):+.1f} pt); "
        f"bit-exact on the board: dense {'yes' if dense.bit_exact else 'NO'}, compressed "
        f"{'yes' if compressed.bit_exact else 'NO'}",
    ], ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=ROOT / "examples" / "mnist_cnn_budget.toml")
    parser.add_argument("--out", type=Path, default=Path("munify-out/budget"))
    parser.add_argument("--cache-dir", type=Path, default=Path("munify-out/cache"))
    parser.add_argument("--inputs", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="reuse the compressed model already in --out")
    parser.add_argument("--baseline", action="store_true", help="also compress and run uniform ratios")
    parser.add_argument("--markdown", type=Path, help="also write the Markdown to this file")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    recipe = load_recipe(args.recipe)
    docs = {"compressed": compress(recipe, args.out, "compressed", args.cache_dir, args.reuse)}
    budget_doc = docs["compressed"]["budget"]
    if args.baseline:
        uniform = uniform_recipe(recipe, budget_doc, args.out / "dense.mun")
        docs["uniform"] = compress(uniform, args.out, "uniform", args.cache_dir, args.reuse)
    board = load_board(budget_doc["board"])
    runs = {name: run_model(args.out / f"{name}.mun", board, args.out / f"build-{name}", args.inputs, 0,
                            optimize=budget_doc["optimize"]) for name in ("dense", *docs)}
    for name, report in runs.items():
        report.write_json(args.out / f"run-{name}.json")
    summary, ok = budget_lines(docs["compressed"], runs["dense"], runs["compressed"])
    if args.baseline:
        summary.append(baseline_line(docs["uniform"], runs["uniform"], runs["dense"]))
    shown = args.recipe.resolve().relative_to(ROOT) if args.recipe.resolve().is_relative_to(ROOT) else args.recipe
    options = " --baseline" if args.baseline else ""
    text = "\n".join([
        f"# Budget recipe on the board: {shown}", "",
        f"Generated by `benchmarks/budget_mnist.py --recipe {shown}{options}` (seed 0, {args.inputs} seeded inputs, "
        f"`--threads 1`). Instructions: QEMU `-icount shift=0`, exact counts of the TCG plugin, not cycles; "
        "predicted: `LayerPlan.cost` of the plan the firmware was generated from.", "",
        *summary, "", *layer_table(runs["dense"], runs["compressed"]), ""])
    print(text)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
