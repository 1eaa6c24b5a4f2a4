"""`munify bench`: regenerate docs/BENCHMARKS.md (and a JSON of every figure) from measurements.

Models: the MLPerf Tiny int8 models as imported (dense) and post-training unified/pruned at two budgets (1x8
blocks; on Helium boards also 4x16, the MVE tile), and the built-in MNIST CNN dense and ADMM-compressed at three
budgets (on the anchor board also built --optimize speed; on Helium boards also trained with 4x16 blocks).
Boards: every QEMU board. Latency is in retired
instructions (QEMU -icount shift=0), never cycles. The TFLite Micro + CMSIS-NN rows are anchors measured out of
tree in the same QEMU on the Cortex-M4 (mps2-an386: TFLM_ANCHORS, TFLM_MNIST_ANCHOR) and on the Cortex-M55
(mps3-an547: CMSIS_NN_MVE_ANCHORS, quoted from issue 9); munify's ratio to each is shown.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .bench_report import ANCHOR_BOARD, SPEED_SUFFIX, render_markdown, write_plots
from .boards import DEFAULT_BOARD, Board, list_boards, load_board
from .build import build_model
from .codegen import generate
from .errors import MunifyError
from .fsutil import atomic_write_text
from .importers.tflite import import_tflite
from .inputs import draw_inputs
from .ir import Graph, reference, save
from .plan import make_plan
from .resources import resource_dir
from .run import run_model
from .summary import summarize

# TFLite Micro + CMSIS-NN on the Cortex-M4 in this QEMU (-icount shift=0): instructions per inference, arena
# bytes, flash bytes (runtime 116,122 + model). Measured out of tree (third-party builds are not part of this
# repository) by an earlier session; re-measured on 2026-12-03 with tflite-micro 90b983c2 + CMSIS-NN 4ab83cc3
# (TFLM's pinned revision), built -O2 for cortex-m4+fp and linked against munify's Cortex-M port: kws
# 7,697,960, resnet 29,861,760, ad01 582,960 instructions (SysTick ticks x 40), arenas identical, i.e. within
# 0.03% of these constants. The same build runs the MNIST CNN dense and 80% / 90% compressed (munify export)
# in 4,614,560 instructions each: TFLM gains nothing from unified or pruned blocks.
TFLM_ANCHORS = {
    "kws_ref_model": {"instructions": 7_699_720, "arena_bytes": 22_820, "flash_bytes": 170_058},
    "pretrainedResnet_quant": {"instructions": 29_865_440, "arena_bytes": 54_996, "flash_bytes": 214_618},
    "ad01_int8": {"instructions": 583_280, "arena_bytes": 2_580, "flash_bytes": 393_098},
}
# The same TFLM build on the MNIST CNN exported by `munify export` (dense, 80% and 90% compressed): TFLM runs
# unified and pruned blocks as plain int8 weights, so every variant costs the dense count.
TFLM_MNIST_ANCHOR = {"instructions": 4_614_560, "measured_variants": ["dense", "80% compressed", "90% compressed"]}
# TFLite Micro + CMSIS-NN's Helium (MVE) kernels on the Cortex-M55 (mps3-an547), instructions per inference,
# measured out of tree in this QEMU by an earlier session and quoted in issue 9 (not re-measured here).
CMSIS_NN_MVE_BOARD = "mps3-an547"
CMSIS_NN_MVE_ANCHORS = {"kws_ref_model": 1_815_565, "pretrainedResnet_quant": 4_914_218, "ad01_int8": 150_281}
MLPERF_MODELS = ("kws_ref_model", "pretrainedResnet_quant", "ad01_int8")
# post-training budgets (fractions of the full blocks of the middle CONV_2D / FC layers): (prune, unify)
POST_TRAINING_BUDGETS = {"pt25": (0.10, 0.15), "pt50": (0.20, 0.30)}
POST_TRAINING_BLOCK = (1, 8)
# Helium (MVE) boards also run the models with the MVE tile shape, 4 x 16 (4 weight rows per activation load,
# 16 inputs per VMLADAVA): label -> (block shape, prune, unify); measured on boards with the "mve" feature only
MVE_TILE_FEATURE = "mve"
MVE_TILE_BUDGETS = {"pt80-4x16": ((4, 16), 0.50, 0.30)}
MNIST_MVE_RECIPE = ("admm70-4x16", "mnist_cnn_4x16.toml")
# The MNIST CNN is also built with `--optimize speed` on the anchor board (issue 8's targets), labelled with
# SPEED_SUFFIX (bench_report)
# ADMM budgets for the MNIST CNN (fractions of the blocks of each compressed layer): (prune, unify)
MNIST_BUDGETS = {"admm50": (0.30, 0.20), "admm75": (0.45, 0.30), "admm90": (0.60, 0.30)}
AGREEMENT_INPUTS = 100


@dataclass
class Variant:
    """One model variant to measure: its IR file and what is known of it before it runs."""

    model: str
    variant: str
    path: Path
    graph: Graph
    accuracy: dict = field(default_factory=dict)
    host_seconds: dict = field(default_factory=dict)
    board_feature: str | None = None  # measured only on boards with this feature (None: every board)
    board_name: str | None = None  # measured only on this board (None: every board)
    optimize: str = "balanced"

    def runs_on(self, board: Board) -> bool:
        return ((self.board_feature is None or self.board_feature in board.features)
                and (self.board_name is None or self.board_name == board.name))

    @property
    def key(self) -> str:
        return f"{self.model}/{self.variant}"


# ---- variants --------------------------------------------------------------------------------------

def mlperf_variants(work: Path, quick: bool) -> list[Variant]:
    from .compress.post_training import compress_graph

    variants = []
    for name in MLPERF_MODELS:
        start = time.perf_counter()
        dense = import_tflite(resource_dir("examples") / "models" / "mlperf-tiny" / f"{name}.tflite")
        import_seconds = time.perf_counter() - start
        variants.append(_saved(work, Variant(name, "dense", work / f"{name}-dense.mun", dense,
                                             host_seconds={"import": import_seconds})))
        budgets = {label: (POST_TRAINING_BLOCK, *ratios) for label, ratios in POST_TRAINING_BUDGETS.items()}
        budgets = dict(list(budgets.items())[:1]) if quick else {**budgets, **MVE_TILE_BUDGETS}
        inputs = draw_inputs(dense, 20 if quick else AGREEMENT_INPUTS, seed=1)
        dense_out = [reference.run(dense, x)[0] for x in inputs]
        for label, (block, prune, unify) in budgets.items():
            start = time.perf_counter()
            graph = compress_graph(dense, *block, prune, unify)
            seconds = time.perf_counter() - start
            agree = float(np.mean([a.argmax() == reference.run(graph, x)[0].argmax()
                                   for a, x in zip(dense_out, inputs)]))
            variants.append(_saved(work, Variant(name, label, work / f"{name}-{label}.mun", graph,
                                                 accuracy={"top1_agreement_random_inputs": agree},
                                                 host_seconds={"compress": seconds},
                                                 board_feature=MVE_TILE_FEATURE if label in MVE_TILE_BUDGETS
                                                 else None)))
    return variants


def mnist_variants(work: Path, quick: bool, progress: bool) -> list[Variant]:
    from .compress.recipe import load_recipe, parse_recipe

    base = load_recipe(resource_dir("examples") / "mnist_cnn_1x8.toml")
    budgets = dict(list(MNIST_BUDGETS.items())[1:2]) if quick else MNIST_BUDGETS
    variants = []
    for label, (prune, unify) in budgets.items():
        doc = base.to_dict()
        doc["ratios"]["prune"], doc["ratios"]["unify"] = prune, unify
        variant, report = _mnist_recipe_variant(work, label, parse_recipe(doc, base.source), progress)
        if not variants:
            dense = report.dense_graph.replace(name="mnist_cnn_dense")
            variants.append(_saved(work, Variant("mnist_cnn", "dense", work / "mnist_cnn-dense.mun", dense,
                                                 accuracy={"test_top1": report.accuracy["dense_int8"]})))
        variants.append(variant)
    if not quick:
        variants += [dataclasses.replace(v, variant=v.variant + SPEED_SUFFIX, optimize="speed", board_name=ANCHOR_BOARD)
                     for v in list(variants)]
        label, recipe_file = MNIST_MVE_RECIPE
        recipe = load_recipe(resource_dir("examples") / recipe_file)
        variants.append(_mnist_recipe_variant(work, label, recipe, progress, board_feature=MVE_TILE_FEATURE)[0])
    return variants


def _mnist_recipe_variant(work: Path, label: str, recipe, progress: bool, **kwargs):
    """The MNIST CNN compressed by `recipe` as variant `label`, and the recipe's report."""
    from .compress.pipeline import run_recipe

    path = work / f"mnist_cnn-{label}.mun"
    start = time.perf_counter()
    report = run_recipe(recipe, path, progress=progress)
    variant = _saved(work, Variant("mnist_cnn", label, path, report.graph.replace(name=f"mnist_cnn_{label}"),
                                   accuracy={"test_top1": report.accuracy["compressed_int8"]},
                                   host_seconds={"compress": time.perf_counter() - start}, **kwargs))
    return variant, report


def _saved(work: Path, v: Variant) -> Variant:
    save(v.graph, v.path)
    return v


# ---- measurement -----------------------------------------------------------------------------------

def measure(v: Variant, board: Board, work: Path, n_inputs: int) -> dict:
    features = board.features
    start = time.perf_counter()
    plan = make_plan(v.graph, features, v.optimize, cpu=board.cpu)
    plan_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate(v.graph, Path(tmp), features, v.optimize, cpu=board.cpu)
        generate_seconds = time.perf_counter() - start
    build_dir = work / "build" / f"{v.model}-{v.variant}-{board.name}"
    start = time.perf_counter()
    build_model(v.path, board, build_dir, v.optimize)
    build_seconds = time.perf_counter() - start
    report = run_model(v.path, board, build_dir, n_inputs, seed=0, optimize=v.optimize)
    s = summarize(v.graph)
    blocks = {op.name: op.blocks for op in s.ops}
    macs = {op.name: op.macs for op in s.ops}
    return {
        "model": v.model, "variant": v.variant, "board": board.name, "optimize": v.optimize,
        "macs": s.macs, "macs_remaining": s.macs_remaining, "parameters": s.params,
        "weights_bytes_stored": s.weight_bytes, "accuracy": v.accuracy,
        "bit_exact": report.bit_exact, "inputs": report.inputs,
        "instructions": _instructions(report),
        "instructions_exact": report.latency.instructions_exact is not None,
        "instructions_per_mac": round(_instructions(report) / max(s.macs, 1), 3),
        "memory": {"flash_bytes": report.memory.flash_bytes, "weights_bytes": report.memory.weights_bytes,
                   "code_bytes": report.memory.code_bytes, "static_ram_bytes": report.memory.static_ram_bytes,
                   "arena_bytes": report.memory.arena_bytes, "stack_bytes": report.memory.stack_bytes},
        "layers": [{"name": layer.name, "op": layer.op, "kernel": layer.kernel,
                    "instructions": layer.count if layer.instructions_exact is None else layer.instructions_exact,
                    "blocks": blocks.get(layer.name, ""), "macs": macs.get(layer.name, 0)}
                   for layer in report.layers],
        "kernels": sorted({layer.variant for layer in plan.layers}),
        "host_seconds": {**{k: round(t, 3) for k, t in v.host_seconds.items()}, "plan": round(plan_seconds, 3),
                         "generate": round(generate_seconds, 3), "build": round(build_seconds, 3)},
    }


def _instructions(report) -> int:
    """Exact plugin counts where QEMU ran the plugin (qemu-user boards have no other instruction figure)."""
    if report.instructions is None:
        raise MunifyError(f"{report.board}: the run gave no instruction count (host time only); "
                          "install a QEMU with TCG plugin support")
    return report.instructions


# Boards with less RAM than this hold none of the benchmark models (microbit 16 KiB, stm32vldiscovery 8 KiB);
# `benchmarks/boards_sweep.py` reports what does not fit on them.
BENCH_MIN_RAM = 64 * 1024


def qemu_boards() -> list[Board]:
    return [b for b in list_boards() if b.runner in ("qemu-system", "qemu-user")
            and (b.ram is None or b.ram.length >= BENCH_MIN_RAM)]


def run_bench(quick: bool = False, out_md: Path = Path("docs/BENCHMARKS.md"),
              out_json: Path = Path("docs/benchmarks.json"), img_dir: Path = Path("docs/img"),
              work: Path = Path("munify-out/bench"), progress: bool = True) -> dict:
    start = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    boards = [load_board(DEFAULT_BOARD)] if quick else qemu_boards()
    variants = mlperf_variants(work, quick)
    if not quick:
        variants += mnist_variants(work, quick, progress)
    n_inputs = 2 if quick else 3
    rows, failures = [], []
    for board in boards:
        for v in (v for v in variants if v.runs_on(board)):
            print(f"  {board.name:12s} {v.key:36s}", end="", flush=True)
            try:
                row = measure(v, board, work, n_inputs)
            except MunifyError as exc:  # one failed measurement must not void the others: report it
                print(f" FAILED: {exc}", flush=True)
                failures.append({"model": v.model, "variant": v.variant, "board": board.name, "error": str(exc)})
                continue
            print(f" {row['instructions']:>12,} instructions  bit_exact={row['bit_exact']}", flush=True)
            rows.append(row)
    doc = {"command": "munify bench" + (" --quick" if quick else ""), "machine": machine_info(),
           "git_revision": git_revision(), "anchors": anchors(),
           "rows": rows, "failures": failures, "scaling": scaling(rows),
           "seconds": round(time.monotonic() - start, 1)}
    img_dir.mkdir(parents=True, exist_ok=True)
    write_plots(doc, img_dir)
    atomic_write_text(out_json, json.dumps(doc, indent=1, sort_keys=True))
    atomic_write_text(out_md, render_markdown(doc, img_dir, out_md.parent))
    return doc


def anchors() -> dict:
    return {"tflm_cmsis_nn_m4": TFLM_ANCHORS, "tflm_cmsis_nn_m4_mnist": TFLM_MNIST_ANCHOR,
            "cmsis_nn_mve": {"board": CMSIS_NN_MVE_BOARD, "instructions": CMSIS_NN_MVE_ANCHORS}}


# ---- context ---------------------------------------------------------------------------------------

def _first_line(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "not found"


def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
            "cores": os.cpu_count(), "qemu": _first_line(["qemu-system-arm", "--version"]),
            "arm_gcc": _first_line(["arm-none-eabi-gcc", "--version"])}


def git_revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, check=True).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def loglog_slope(x: list[float], y: list[float]) -> float | None:
    """Least-squares exponent b of y ~ a * x^b, or None with fewer than 2 distinct points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = (x > 0) & (y > 0)
    if len(set(x[keep])) < 2:
        return None
    return round(float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0]), 3)


def scaling(rows: list[dict]) -> dict:
    """How instructions, flash and host-side costs grow with model size (dense models on the anchor board)."""
    dense = [r for r in rows if r["variant"] == "dense" and r["board"] == ANCHOR_BOARD]
    result = {
        "instructions_vs_macs": loglog_slope([r["macs"] for r in dense], [r["instructions"] for r in dense]),
        "flash_vs_parameters": loglog_slope([r["parameters"] for r in dense],
                                            [r["memory"]["flash_bytes"] for r in dense]),
    }
    for stage in ("plan", "generate", "build"):
        result[f"{stage}_seconds_vs_parameters"] = loglog_slope(
            [r["parameters"] for r in dense], [r["host_seconds"][stage] for r in dense])
    return result
