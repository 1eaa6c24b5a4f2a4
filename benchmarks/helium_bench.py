"""Helium (MVE) on the Cortex-M55 (mps3-an547, QEMU -icount shift=0): the MLPerf Tiny models dense and
compressed, against generic C and the M4 DSP kernels on the same core and against TFLite Micro + CMSIS-NN.
Regenerates docs/bench/HELIUM.md and docs/bench/helium.json.

    .venv/bin/python benchmarks/helium_bench.py [--models kws_ref_model ...]

Compressed models are post-training projections of the imported int8 weights (toolchain.compress.post_training,
first and last weighted layers left dense): 4 x 16 blocks (the Helium tile: 4 rows per activation load, 16
inputs per VMLADAVA) 50% pruned / 30% unified, the same 50% pruned with no unified blocks (what unified blocks
buy), and the 1 x 8, 20% pruned / 30% unified budget `munify bench` uses. Latency is retired instructions, not
cycles (QEMU counts LETP on every iteration). Accuracy is not measured here: the top-1 agreement with the dense
model on random inputs is a proxy only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from toolchain.boards import load_board
from toolchain.compress.post_training import compress_graph
from toolchain.fsutil import atomic_write_text
from toolchain.run import run_model
from toolchain.importers.tflite import import_tflite
from toolchain.inputs import draw_inputs
from toolchain.ir import Graph, reference, save

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "examples" / "models" / "mlperf-tiny"
BOARD = "mps3-an547"
# TFLite Micro with CMSIS-NN's MVE kernels on mps3-an547 in this QEMU (-icount shift=0), instructions per
# inference, as measured by an earlier session and quoted in issue 9 (not re-measured by this script).
CMSIS_NN_MVE = {"kws_ref_model": 1_815_565, "pretrainedResnet_quant": 4_914_218, "ad01_int8": 150_281}
CMSIS_SOURCE = "measured by an earlier session in this QEMU on mps3-an547, quoted in issue 9"
AGREEMENT_INPUTS = 20


@dataclasses.dataclass(frozen=True)
class Variant:
    key: str
    label: str
    features: frozenset | None  # None: the board's own (dsp, fpu, mve)
    optimize: str
    compression: tuple | None = None  # (bo, bi, prune, unify)


VARIANTS = (
    Variant("generic", "generic C, dense", frozenset(), "balanced"),
    Variant("dsp", "M4 DSP kernels, dense", frozenset({"dsp", "fpu"}), "balanced"),
    Variant("mve", "Helium, dense", None, "balanced"),
    Variant("mve_speed", "Helium, dense, --optimize speed", None, "speed"),
    Variant("tiles", "Helium, 4x16 50% pruned 30% unified", None, "balanced", (4, 16, 0.5, 0.3)),
    Variant("tiles_speed", "Helium, 4x16 50% pruned 30% unified, speed", None, "speed", (4, 16, 0.5, 0.3)),
    Variant("pruned", "Helium, 4x16 50% pruned, no unified", None, "balanced", (4, 16, 0.5, 0.0)),
    Variant("pruned_speed", "Helium, 4x16 50% pruned, no unified, speed", None, "speed", (4, 16, 0.5, 0.0)),
    Variant("pt50", "1x8 20% pruned 30% unified (munify bench pt50)", None, "balanced", (1, 8, 0.2, 0.3)),
    Variant("pt50_speed", "1x8 20% pruned 30% unified, speed", None, "speed", (1, 8, 0.2, 0.3)),
)


def agreement(dense: Graph, compressed: Graph) -> float | None:
    """Top-1 agreement on seeded random inputs; None for the autoencoder (no classes)."""
    if dense.name == "ad01_int8":
        return None
    inputs = draw_inputs(dense, AGREEMENT_INPUTS, seed=1)
    same = [reference.run(dense, x)[0].argmax() == reference.run(compressed, x)[0].argmax() for x in inputs]
    return float(np.mean(same))


def measure(graph: Graph, v: Variant, workdir: Path) -> dict:
    board = load_board(BOARD)
    if v.features is not None:
        board = dataclasses.replace(board, features=v.features)
    path = workdir / f"{graph.name}-{v.key}.mun"
    save(graph, path)
    report = run_model(path, board, workdir / f"build-{graph.name}-{v.key}", 1, 0, False, v.optimize)
    if not report.bit_exact:
        raise SystemExit(f"{graph.name} ({v.label}): not bit-exact on {BOARD}")
    return {"label": v.label, "optimize": v.optimize, "compression": v.compression,
            "instructions": report.latency.per_inference, "weights_bytes": report.memory.weights_bytes,
            "flash_bytes": report.memory.flash_bytes, "arena_bytes": report.memory.arena_bytes,
            "bit_exact": report.bit_exact,
            "layers": [{"name": x.name, "op": x.op, "kernel": x.kernel, "count": x.count} for x in report.layers]}


def run_model_variants(name: str, workdir: Path) -> dict:
    dense = import_tflite(MODELS / f"{name}.tflite")
    graphs = {None: dense}
    results = {}
    for v in VARIANTS:
        if v.compression not in graphs:
            graphs[v.compression] = compress_graph(dense, *v.compression)
        results[v.key] = measure(graphs[v.compression], v, workdir)
        if v.compression is not None:
            results[v.key]["top1_agreement"] = agreement(dense, graphs[v.compression])
        print(f"{name:24s} {v.label:58s} {results[v.key]['instructions']:>12,}", flush=True)
    return results


# ---- report -----------------------------------------------------------------------------------------

def _ratio(n: int, anchor: int) -> str:
    return f"{n / anchor:.2f}x"


def model_table(name: str, results: dict) -> list[str]:
    anchor = CMSIS_NN_MVE[name]
    lines = [f"### {name}", "",
             f"TFLite Micro + CMSIS-NN (MVE): **{anchor:,}** instructions per inference ({CMSIS_SOURCE}).", "",
             "| variant | instructions | vs CMSIS-NN | weights bytes | flash bytes | top-1 agreement |",
             "|---|---:|---:|---:|---:|---:|"]
    for key, r in results.items():
        agree = r.get("top1_agreement")
        agree = "-" if key in ("generic", "dsp", "mve", "mve_speed") else ("n/a" if agree is None else f"{agree:.0%}")
        lines.append(f"| {r['label']} | {r['instructions']:,} | {_ratio(r['instructions'], anchor)} | "
                     f"{r['weights_bytes']:,} | {r['flash_bytes']:,} | {agree} |")
    return lines + [""]


def unified_table(all_results: dict) -> list[str]:
    lines = ["| model | optimize | 50% pruned + 30% unified | 50% pruned, rest dense | weights bytes (unified / dense) |",
             "|---|---|---:|---:|---:|"]
    for name, results in all_results.items():
        for suffix, mode in (("", "balanced"), ("_speed", "speed")):
            u, d = results[f"tiles{suffix}"], results[f"pruned{suffix}"]
            lines.append(f"| {name} | {mode} | {u['instructions']:,} | {d['instructions']:,} | "
                         f"{u['weights_bytes']:,} / {d['weights_bytes']:,} |")
    return lines + [""]


def layer_table(name: str, results: dict) -> list[str]:
    keys = ("dsp", "mve", "tiles_speed", "tiles")
    lines = [f"Per layer, {name} (instructions; kernels of the Helium runs):", "",
             "| layer | op | M4 DSP | Helium dense | 4x16 speed | 4x16 balanced | kernels (dense / speed / balanced) |",
             "|---|---|---:|---:|---:|---:|---|"]
    for rows in zip(*(results[k]["layers"] for k in keys)):
        counts = " | ".join(f"{row['count']:,}" for row in rows)
        kernels = " / ".join(row["kernel"] for row in rows[1:])
        lines.append(f"| {rows[0]['name']} | {rows[0]['op']} | {counts} | {kernels} |")
    return lines + [""]


def qemu_version() -> str:
    out = subprocess.run(["qemu-system-arm", "--version"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0]


def render(all_results: dict) -> str:
    lines = ["# Helium (MVE) kernels on the Cortex-M55", "",
             "Generated by `.venv/bin/python benchmarks/helium_bench.py`; do not edit by hand. Board `mps3-an547` "
             f"({qemu_version()}, `-icount shift=0`): latency is **retired instructions, not cycles** (QEMU counts "
             "every LETP iteration and every beat-wise MVE instruction once). Every run below was bit-exact "
             "against the integer reference. `generic C` and `M4 DSP kernels` are munify's other kernels built "
             "for the same Cortex-M55; `Helium` plans with the board's features (dsp, fpu, mve). The 1 x 8 rows "
             "plan with the same features: with `balanced` the bytes budget keeps their layers on the M4 DSP "
             "block kernels (the Helium tile kernels take 4 x 16 blocks; dense storage is over the budget).", "",
             "Compressed variants are post-training projections (toolchain.compress.post_training, first and last "
             "weighted layers dense): the figures show what the kernels do with the structure, not a trained "
             "model's accuracy; top-1 agreement with the dense model on 20 random inputs is a proxy only.", ""]
    lines += ["## Whole models", ""]
    for name, results in all_results.items():
        lines += model_table(name, results)
    lines += ["## What unified blocks buy on MVE", "",
              "Same 50% of the 4 x 16 blocks pruned; the other half either 30% unified + 20% dense or all dense. "
              "A dense tile costs 1 activation load, 4 weight loads and 4 VMLADAVA (16 MACs each); a unified tile "
              "stored as signs (`mve-tiles-signs`, 12 bytes instead of 64) costs, per row, the sign mask as VPT "
              "predicate, a VPSEL of -1 / +1, one VMLADAV and a multiply: more instructions than the dense tile. "
              "For `speed` the unified tiles are stored as int8 weights (`mve-tiles`) and cost exactly a dense "
              "tile. On Helium, unified blocks buy weight bytes, not instructions; pruned blocks buy both.", ""]
    lines += unified_table(all_results)
    lines += ["## Per layer", ""]
    for name in ("kws_ref_model",):
        if name in all_results:
            lines += layer_table(name, all_results[name])
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(CMSIS_NN_MVE), choices=list(CMSIS_NN_MVE))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench" / "HELIUM.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="munify-helium-") as tmp:
        all_results = {name: run_model_variants(name, Path(tmp)) for name in args.models}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out.with_name("helium.json"), json.dumps(
        {"board": BOARD, "unit": "instructions", "cmsis_nn_mve": CMSIS_NN_MVE, "cmsis_nn_source": CMSIS_SOURCE,
         "models": all_results}, indent=1, sort_keys=True) + "\n")
    atomic_write_text(args.out, render(all_results))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
