"""Fit the NEON / SDOT cost models (toolchain/plan/kernels/neon/kernels.py, the Cortex-A tables of
toolchain/plan/kernels/generic/kernels.py) to exact per-layer instruction counts of whole models under
qemu-aarch64 (benchmarks/kernels/calibrate.py fits the DSP ones to synthetic layers on mps2-an386).

    .venv/bin/python -m benchmarks.kernels.neon_calibrate measure counts.jsonl   # ~10 min on 2 cores
    .venv/bin/python -m benchmarks.kernels.neon_calibrate fit counts.jsonl       # coefficients, worst layers
    .venv/bin/python -m benchmarks.kernels.neon_calibrate check counts.jsonl     # the planner's costs vs counts

`measure` runs kws, resnet, ad01 (dense, pt50, pt75) and the MNIST CNN (dense, 1x8 p45/p60 u30) of
benchmarks/neon_bench.py on aarch64-linux and aarch64-linux-dotprod, as planned and, for the compressed ones,
with every CONV_2D forced to the dense, block and sign-table kernels; one JSON line per layer (its LayerFacts,
kernel, build mode and exact instructions from the QEMU TCG plugin: instructions, not cycles). `--optimize
speed` builds as `munify build --optimize speed` does (-O3): its counts fit the speed tables
(toolchain.plan.kernels.neon.kernels.SPEED_BUILD), `fit` and `check` take the rows of one mode. The constants
in the kernels are the `fit` numbers, rounded.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

import toolchain.codegen as codegen
from benchmarks import neon_bench
from benchmarks.kernels.fit import fit_relative
from toolchain.boards import load_board
from toolchain.ir import BlockKind, load
from toolchain.plan import layers
from toolchain.plan.kernels import ALL_VARIANTS, costs_for
from toolchain.plan.kernels.neon.kernels import (CONV_DENSE, DENSE_ROWS, LAYER_CALL, MIN_PASS, SPEED_BUILD,
                                                 TABLE_PIXELS, block_pixels, depth)
from toolchain.plan.variant import LayerFacts
from toolchain.run import run_model

BOARDS = {"aarch64-linux": "neon", "aarch64-linux-dotprod": "sdot"}
FORCED = ("as_dense", "blocks", "blocks_tables")
MAX_TABLE_COLUMNS = 128


# ---- measure -----------------------------------------------------------------------------------------------

def _forcing(force: dict):
    """codegen.make_plan with `force` (the build path has no option for it)."""
    plan = codegen.make_plan
    return lambda graph, features, optimize="balanced", cpu=None: plan(graph, features, optimize, force=force, cpu=cpu)


def _facts_json(facts: LayerFacts) -> dict:
    out = dataclasses.asdict(facts)
    out["kinds"] = sorted(int(k) for k in facts.kinds)
    return out


def _forced_kernels(graph, facts: dict, kernel: str, suffix: str) -> dict[str, str]:
    """Every 1x8 / 1x16 CONV_2D under conv_<kernel>_<suffix> (the block kernels need bi 8 or 16)."""
    return {op.name: f"conv_{kernel}_{suffix}" for op in graph.ops
            if op.type == "CONV_2D" and facts[op.name].bi in (8, 16)
            and (kernel != "blocks_tables" or facts[op.name].cols // 8 <= MAX_TABLE_COLUMNS)}


def measure(out_path: Path, work: Path, optimize: str) -> None:
    models = neon_bench.mlperf_models(work) + neon_bench.mnist_models(work)
    force: dict[str, str] = {}
    codegen.make_plan = _forcing(force)
    with out_path.open("w") as out:
        for short, label, path in models:
            graph = load(path)
            facts = {op.name: layers.build(graph, op, "balanced").facts for op in graph.ops}
            for board_name, suffix in BOARDS.items():
                for kernel in ("planned",) + (FORCED if label != "dense" else ()):
                    force.clear()
                    if kernel != "planned":
                        force.update(_forced_kernels(graph, facts, kernel, suffix))
                    build = work / f"{short}-{label}-{board_name}-{kernel}-{optimize}".replace(" ", "_")
                    report = run_model(path, load_board(board_name), build, 1, neon_bench.SEED, optimize=optimize,
                                       layers=True, exact_counts=True)
                    for layer in report.layers:
                        if layer.instructions_exact and (kernel == "planned" or layer.name in force):
                            out.write(json.dumps({"model": short, "label": label, "board": board_name,
                                                  "optimize": optimize,
                                                  "name": layer.name, "kernel": layer.kernel,
                                                  "exact": layer.instructions_exact,
                                                  "facts": _facts_json(facts[layer.name])}) + "\n")
                    print(short, label, board_name, kernel, report.latency.instructions_exact.per_inference,
                          "bit-exact" if report.bit_exact else "NOT BIT-EXACT", flush=True)


# ---- fit ---------------------------------------------------------------------------------------------------

def _groups(f: dict) -> int:
    return -(-f["rows"] // DENSE_ROWS) * DENSE_ROWS


def _steps(f: dict, unrolled_trips: int) -> tuple[float, float]:
    """The dense kernel's steps in depth loops gcc runs as loops, and in those it unrolls completely (at most
    `unrolled_trips` steps: -O3 peels short constant loops)."""
    trips = depth(f["cols"]) / 16
    steps = _groups(f) * trips
    return (0.0, steps) if trips <= unrolled_trips else (steps, 0.0)


def conv_dense_terms(unrolled_trips: int):
    def terms(f: dict) -> list[float]:
        im2col = f["patch_copies"] > 0
        steps, unrolled = _steps(f, unrolled_trips)
        return [f["positions"] * t for t in (steps, _groups(f), f["cols"] * im2col, f["patch_copies"], 1.0, unrolled)]
    return terms


def fc_dense_terms(unrolled_trips: int):
    def terms(f: dict) -> list[float]:
        steps, unrolled = _steps(f, unrolled_trips)
        return [f["positions"] * steps, f["positions"] * _groups(f), 1.0, f["positions"] * unrolled]
    return terms


def depthwise_terms(f: dict) -> list[float]:
    return [f["positions"] * t for t in (-(-f["rows"] // 16) * f["cols"], f["rows"], f["cols"])]


def pass_terms(pass_pixels: int):
    def terms(f: dict) -> list[float]:
        pixels = -(-f["positions"] // pass_pixels) * pass_pixels
        return [pixels * t for t in (f["dense_weights"] / 8, f["unified_weights"] / 8, f["rows"], f["cols"],
                                     f["patch_copies"], 1.0)]
    return terms


def single_terms(f: dict) -> list[float]:
    return [f["positions"] * t for t in (f["dense_weights"] / 16, f["unified_weights"] / 16, f["rows"])]


def elementwise_terms(f: dict) -> list[float]:
    return [f["positions"]]


def models(sdot: bool, optimize: str) -> tuple:
    """(what, kernels without the _neon / _sdot suffix, terms, term names, per-call constant outside the fit)
    for the board with or without SDOT (the block kernel's pass: 16 pixels with SDOT) and the build."""
    unrolled = CONV_DENSE[SPEED_BUILD if optimize == "speed" else "O2"][sdot].unrolled_trips
    return (
        ("conv dense", ("conv_dense", "conv_as_dense"), conv_dense_terms(unrolled),
         "step output patch copy pixel unrolled_step", LAYER_CALL),
        ("fc dense", ("fc_dense", "fc_as_dense"), fc_dense_terms(unrolled), "step output call unrolled_step", 0.0),
        ("depthwise", ("dwconv_dense", "dwconv_as_dense"), depthwise_terms, "step output tap", LAYER_CALL),
        ("blocks", ("conv_blocks", "fc_blocks"), pass_terms(block_pixels(1, sdot)), "dense8 unified8 row col copy pixel",
         LAYER_CALL),
        ("tables", ("conv_blocks_tables", "fc_blocks_tables"), pass_terms(TABLE_PIXELS),
         "dense8 unified8 row col copy pixel", LAYER_CALL),
        ("single pixel", ("fc_blocks", "conv_blocks"), single_terms, "dense16 unified16 row", LAYER_CALL),
        ("add", ("add",), elementwise_terms, "element", LAYER_CALL),
        ("avgpool", ("avgpool",), elementwise_terms, "element", 0.0),
        ("maxpool", ("maxpool",), elementwise_terms, "element", 0.0),
        ("softmax", ("softmax",), elementwise_terms, "element", 0.0),
    )


def _kernel_of(row: dict, stems: tuple[str, ...], suffix: str, single_pixel: bool) -> bool:
    """Whether `row` measured one of the kernels a model covers; block kernels: the passes or the one-pixel
    path."""
    if row["kernel"] not in {f"{stem}_{s}" for stem in stems for s in (suffix, "neon", "generic")}:
        return False
    facts = row["facts"]
    return "blocks" not in row["kernel"] or (facts["bi"] in (8, 16) and (facts["positions"] < MIN_PASS) == single_pixel)


def _unique(rows: list[dict]) -> list[dict]:
    return list({(r["board"], r["kernel"], json.dumps(r["facts"], sort_keys=True)): r for r in rows}.values())


def fit(rows: list[dict], optimize: str) -> None:
    for board, suffix in BOARDS.items():
        print(f"== {board}")
        for what, stems, terms, names, call in models(suffix == "sdot", optimize):
            single = what == "single pixel"
            fitted = _unique([r for r in rows if r["board"] == board and _kernel_of(r, stems, suffix, single)])
            if not fitted:
                continue
            a = np.array([terms(r["facts"]) for r in fitted])
            x, errors = fit_relative(a, np.array([r["exact"] for r in fitted], float), call, nonnegative=True)
            print(f"{what:12} n={len(fitted):2} worst {np.abs(errors).max():5.1%}  "
                  + " ".join(f"{n}={v:.3g}" for n, v in zip(names.split(), x)))


# ---- check -------------------------------------------------------------------------------------------------

def check(rows: list[dict]) -> int:
    """The current cost models against every measured layer; exit status 1 if one is off by more than 5%."""
    variants = {v.name: v for v in ALL_VARIANTS}
    cpus = {name: load_board(name).cpu for name in BOARDS}
    worst = 0.0
    for r in rows:
        facts = LayerFacts(**{**r["facts"], "kinds": frozenset(BlockKind(k) for k in r["facts"]["kinds"])})
        predicted = costs_for(cpus[r["board"]], r["optimize"]).cost(variants[r["kernel"]], facts)
        error = predicted / r["exact"] - 1
        worst = max(worst, abs(error))
        print(f"{r['model']:9} {r['label']:12} {r['board']:22} {r['name'][:20]:20} {r['kernel']:26} "
              f"{predicted:9.0f} {r['exact']:9} {error:+6.1%}{'  > 5%' if abs(error) > 0.05 else ''}")
    print(f"worst {worst:.1%} over {len(rows)} layers")
    return 1 if worst > 0.05 else 0


def _measured(path: Path, optimize: str) -> list[dict]:
    rows = [{"optimize": "balanced", **json.loads(line)} for line in path.read_text().splitlines()]
    names = {v.name for v in ALL_VARIANTS}
    return [r for r in rows if r["kernel"] in names and r["optimize"] == optimize
            and ("blocks" not in r["kernel"] or r["facts"]["bi"] in (8, 16))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("measure", "fit", "check"))
    parser.add_argument("counts", type=Path, help="JSON lines, one per measured layer")
    parser.add_argument("--work", type=Path, default=Path("/tmp/neon-calibrate"), help="build directory")
    parser.add_argument("--optimize", choices=("balanced", "speed"), default="balanced",
                        help="the build mode measured (measure), or whose rows to fit and check")
    args = parser.parse_args()
    if args.command == "measure":
        args.work.mkdir(parents=True, exist_ok=True)
        measure(args.counts, args.work, args.optimize)
        return 0
    rows = _measured(args.counts, args.optimize)
    if args.command == "fit":
        fit(rows, args.optimize)
        return 0
    return check(rows)


if __name__ == "__main__":
    sys.exit(main())
