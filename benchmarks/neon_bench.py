"""NEON kernels against the generic C kernels on the same AArch64 target: exact executed instructions per
inference (QEMU TCG plugin under qemu-aarch64; instructions, not cycles), per model and per layer, plus a
block-structure sweep of one layer. Regenerates docs/bench/NEON.md.

    PYTHONPATH=. .venv/bin/python benchmarks/neon_bench.py [--out docs/bench/NEON.md] [--work DIR]

Configurations (all on the aarch64-linux boards, same compiler and flags):
  generic C       the board's features removed, so every layer takes the portable kernels
  NEON            aarch64-linux (cortex-a53 class: SMULL/SMLAL2/SADALP, no dotprod)
  NEON + SDOT     aarch64-linux-dotprod (cortex-a76 class)
Models: the MLPerf Tiny models dense and post-training compressed with 1x8 blocks (toolchain.compress.
post_training, as `munify bench` does), and the MNIST CNN with seeded untrained weights and 1x8 ADMM-style
block structures (the instruction counts depend on the structure, not on the accuracy). Every model is built
with `--optimize balanced` (the boards' -O2) and, on the NEON boards, with `--optimize speed` (-O3) as well.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolchain.boards import load_board, parse_board  # noqa: E402
from toolchain.compress.post_training import compress_graph  # noqa: E402
from toolchain.fsutil import atomic_write_text  # noqa: E402
from toolchain.run import run_model  # noqa: E402
from toolchain.importers.tflite import import_tflite  # noqa: E402
from toolchain.ir import BlockKind, BlockStructure, Graph, Op, Quant, Tensor, matrix_to_weight, save  # noqa: E402

MODELS_DIR = ROOT / "examples" / "models" / "mlperf-tiny"
MLPERF = (("kws", "kws_ref_model"), ("resnet", "pretrainedResnet_quant"), ("ad01", "ad01_int8"))
POST_TRAINING = {"pt50": (0.20, 0.30), "pt75": (0.45, 0.30)}  # (prune, unify) of the full 1x8 blocks
MNIST_STRUCTURES = {"1x8 p45 u30": (0.45, 0.30), "1x8 p60 u30": (0.60, 0.30)}
MATRIX_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
SEED = 5


@dataclass(frozen=True)
class Measured:
    instructions: int
    bit_exact: bool
    layers: list  # (name, op, kernel, instructions)
    weights_bytes: int


def generic_board(work: Path):
    """aarch64-linux with no ISA features: the generic C kernels on the same target and compiler flags."""
    text = (ROOT / "boards" / "aarch64-linux.toml").read_text()
    path = work / "aarch64-linux-generic.toml"
    path.write_text(text.replace('name = "aarch64-linux"', 'name = "aarch64-linux-generic"')
                    .replace('features = ["neon"]', "features = []"))
    return parse_board(path, expected_name="aarch64-linux-generic")


def measure(model: Path, board, work: Path, optimize: str = "balanced") -> Measured:
    build_dir = work / f"build-{model.stem}-{board.name}-{optimize}"
    report = run_model(model, board, build_dir, n_inputs=1, seed=SEED, optimize=optimize, exact_counts=True)
    if report.latency.instructions_exact is None:
        raise SystemExit("the QEMU instruction-count plugin is unavailable; exact counts are what this measures")
    layers = [(layer.name, layer.op, layer.kernel, layer.instructions_exact or 0) for layer in report.layers]
    return Measured(report.latency.instructions_exact.per_inference, report.bit_exact, layers,
                    report.memory.weights_bytes)


# ---- models ----------------------------------------------------------------------------------------

def mlperf_models(work: Path) -> list[tuple[str, str, Path]]:
    out = []
    for short, file in MLPERF:
        dense = import_tflite(MODELS_DIR / f"{file}.tflite")
        out.append((short, "dense", _saved(dense, work / f"{short}-dense.mun")))
        for label, (prune, unify) in POST_TRAINING.items():
            graph = compress_graph(dense, 1, 8, prune, unify)
            out.append((short, label, _saved(graph, work / f"{short}-{label}.mun")))
    return out


def structured_mnist(path: Path, prune: float, unify: float, bo: int = 1, bi: int = 8) -> Path:
    """The built-in MNIST CNN (untrained, seeded) with bo x bi blocks, `prune` and `unify` of the full blocks
    of every layer chosen by the compress stage's selection, quantized on seeded random images."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from toolchain.compress.project import select_kinds
    from toolchain.compress.structure import LayerStructure, enforce_structure_, op_type_of, torch_weight_matrix
    from toolchain.models import mnist_cnn
    from toolchain.quantize import quantize_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = mnist_cnn(seed=0).eval()
        structures = {}
        for name, module in model.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                kinds = select_kinds(torch_weight_matrix(module).detach(), bo, bi, prune, unify)
                structures[name] = LayerStructure(name, op_type_of(module), bo, bi, kinds)
        enforce_structure_(model, structures)
        images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
        loader = DataLoader(TensorDataset(images, torch.zeros(64, dtype=torch.int64)), batch_size=32)
        quantize_model(model, structures, loader).export(path)
    finally:
        torch.set_num_threads(threads)
    return path


def mnist_models(work: Path) -> list[tuple[str, str, Path]]:
    out = [("mnist_cnn", "dense", structured_mnist(work / "mnist-dense.mun", 0.0, 0.0))]
    for label, (prune, unify) in MNIST_STRUCTURES.items():
        out.append(("mnist_cnn", label, structured_mnist(work / f"mnist-{label.replace(' ', '_')}.mun", prune, unify)))
    return out


def _saved(graph: Graph, path: Path) -> Path:
    save(graph, path)
    return path


# ---- one layer, swept over its block structure -------------------------------------------------------

SWEEP_LAYER = (64, 3, 3, 64, 10, 10)  # cout, kh, kw, cin, out_h, out_w: a 3x3 conv, 64 -> 64, 10x10 pixels
SWEEP = {"dense": (0.0, 0.0), "50% unified": (0.0, 0.5), "100% unified": (0.0, 1.0),
         "50% pruned": (0.5, 0.0), "75% pruned": (0.75, 0.0), "25% dense, 25% unified, 50% pruned": (0.5, 0.25)}


def sweep_layer(prune: float, unify: float, seed: int = 3) -> Graph:
    """One CONV_2D with 1x8 blocks, a fraction of them pruned and unified at random."""
    rng = np.random.default_rng(seed)
    cout, kh, kw, cin, oh, ow = SWEEP_LAYER
    k = kh * kw * cin
    kinds = rng.permutation(np.repeat(np.array([BlockKind.PRUNED, BlockKind.UNIFIED, BlockKind.DENSE], np.uint8),
                                      _counts(cout * k // 8, prune, unify))).reshape(cout, k // 8)
    matrix = rng.integers(-127, 128, (cout, k)).astype(np.int64)
    per_weight = np.repeat(kinds, 8, axis=1)
    magnitudes = np.repeat(rng.integers(1, 128, (cout, k // 8)), 8, axis=1)
    matrix = np.where(per_weight == BlockKind.UNIFIED, np.sign(matrix + 0.5) * magnitudes, matrix)
    matrix = np.where(per_weight == BlockKind.PRUNED, 0, matrix).astype(np.int8)
    blocks = BlockStructure.from_matrix(matrix, kinds, 1, 8)
    q = lambda scale, zp=0: Quant(np.array([scale]), np.array([zp]))  # noqa: E731
    tensors = {
        "x": Tensor("x", (1, oh + kh - 1, ow + kw - 1, cin), "int8", q(0.05, 3)),
        "w": Tensor("w", (cout, kh, kw, cin), "int8", q(0.005), matrix_to_weight("CONV_2D", matrix, (cout, kh, kw, cin)),
                    blocks),
        "b": Tensor("b", (cout,), "int32", q(0.05 * 0.005), rng.integers(-3000, 3000, cout).astype(np.int32)),
        "y": Tensor("y", (1, oh, ow, cout), "int8", q(0.05 * 0.005 * 70 * 70 * np.sqrt(k) / 40, -2)),
    }
    op = Op("conv", "CONV_2D", ("x", "w", "b"), ("y",), {"stride": (1, 1), "dilation": (1, 1), "padding": "VALID",
                                                        "activation": "NONE"})
    graph = Graph(f"sweep_p{int(prune * 100)}_u{int(unify * 100)}", tensors, (op,), ("x",), ("y",))
    graph.validate()
    return graph


def _counts(total: int, prune: float, unify: float) -> list[int]:
    pruned, unified = round(total * prune), round(total * unify)
    return [pruned, unified, total - pruned - unified]


# ---- report ----------------------------------------------------------------------------------------

def fmt(n: int) -> str:
    return f"{n:,}"


def ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}x"


def model_section(rows: list[dict]) -> list[str]:
    lines = ["| model | weights | generic C | NEON | NEON / generic | NEON + SDOT | SDOT / generic | "
             "weight bytes (NEON) | bit-exact |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['variant']} | {fmt(r['generic'].instructions)} | "
                     f"{fmt(r['neon'].instructions)} | {ratio(r['neon'].instructions, r['generic'].instructions)} | "
                     f"{fmt(r['sdot'].instructions)} | {ratio(r['sdot'].instructions, r['generic'].instructions)} | "
                     f"{fmt(r['neon'].weights_bytes)} | "
                     f"{'yes' if all(r[k].bit_exact for k in ('generic', 'neon', 'sdot')) else 'NO'} |")
    return lines


def compressed_vs_dense(rows: list[dict]) -> list[str]:
    dense = {r["model"]: r for r in rows if r["variant"] == "dense"}
    lines = ["| model | weights | NEON compressed / NEON dense | SDOT compressed / SDOT dense | "
             "generic compressed / generic dense | matrix-layer kernels (NEON) |", "|---|---|---:|---:|---:|---|"]
    for r in rows:
        if r["variant"] == "dense":
            continue
        d = dense[r["model"]]
        kernels = sorted({k for _, op, k, _ in r["neon"].layers if op in MATRIX_OPS})
        lines.append(f"| {r['model']} | {r['variant']} | {ratio(r['neon'].instructions, d['neon'].instructions)} | "
                     f"{ratio(r['sdot'].instructions, d['sdot'].instructions)} | "
                     f"{ratio(r['generic'].instructions, d['generic'].instructions)} | {', '.join(kernels)} |")
    return lines


def sweep_section(sweep: list[tuple[str, dict]]) -> list[str]:
    base = dict(sweep)["dense"]
    lines = ["| 1x8 blocks | kernel | instructions | / dense NEON kernel | generic C (its kernel) | "
             "NEON dense kernel, same weights unstructured | weight bytes | SDOT board: kernel | instructions | "
             "/ dense SDOT kernel |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    for label, m in sweep:
        generic_kernel = m["generic"].layers[0][2]
        lines.append(f"| {label} | {m['blocks'].layers[0][2]} | {fmt(m['blocks'].instructions)} | "
                     f"{ratio(m['blocks'].instructions, base['dense'].instructions)} | "
                     f"{fmt(m['generic'].instructions)} ({generic_kernel}) | {fmt(m['dense'].instructions)} | "
                     f"{fmt(m['blocks'].weights_bytes)} | {m['sdot'].layers[0][2]} | {fmt(m['sdot'].instructions)} | "
                     f"{ratio(m['sdot'].instructions, base['sdot dense'].instructions)} |")
    return lines


SPEED_KEYS = ("neon", "sdot")


def speed_section(rows: list[dict]) -> list[str]:
    """`--optimize speed` (-O3) on the NEON boards, each compressed model against its dense build."""
    dense = {r["model"]: r for r in rows if r["variant"] == "dense"}
    lines = ["| model | weights | NEON speed | / NEON dense speed | NEON + SDOT speed | / SDOT dense speed | "
             "bit-exact |", "|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        d = dense[r["model"]]
        cells = [f"{fmt(r[f'{k} speed'].instructions)} | {ratio(r[f'{k} speed'].instructions, d[f'{k} speed'].instructions)}"
                 for k in SPEED_KEYS]
        exact = all(r[f"{k} speed"].bit_exact for k in SPEED_KEYS)
        lines.append(f"| {r['model']} | {r['variant']} | {' | '.join(cells)} | {'yes' if exact else 'NO'} |")
    return lines


def layer_section(name: str, r: dict) -> list[str]:
    lines = [f"Per layer, {name} ({r['variant']}): exact instructions", "",
             "| layer | op | generic C | NEON kernel | NEON | / generic | SDOT kernel | SDOT | / generic |",
             "|---|---|---:|---|---:|---:|---|---:|---:|"]
    for g, n, s in zip(r["generic"].layers, r["neon"].layers, r["sdot"].layers):
        if g[1] not in MATRIX_OPS:
            continue
        lines.append(f"| {g[0]} | {g[1]} | {fmt(g[3])} | {n[2]} | {fmt(n[3])} | {ratio(n[3], g[3])} | {s[2]} | "
                     f"{fmt(s[3])} | {ratio(s[3], g[3])} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench" / "NEON.md")
    parser.add_argument("--work", type=Path, default=None, help="build directory (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        boards = {"generic": generic_board(work), "neon": load_board("aarch64-linux"),
                  "sdot": load_board("aarch64-linux-dotprod")}
        rows = []
        for model, variant, path in mlperf_models(work) + mnist_models(work):
            row = {"model": model, "variant": variant}
            for key, board in boards.items():
                row[key] = measure(path, board, work)
                print(f"{model} {variant} {key}: {row[key].instructions:,}", flush=True)
            for key in SPEED_KEYS:
                row[f"{key} speed"] = measure(path, boards[key], work, "speed")
                print(f"{model} {variant} {key} speed: {row[f'{key} speed'].instructions:,}", flush=True)
            rows.append(row)
        sweep = []
        for label, (prune, unify) in SWEEP.items():
            graph = sweep_layer(prune, unify)
            path = _saved(graph, work / f"sweep-{len(sweep)}.mun")
            weight = graph.tensor("w")
            unstructured = _saved(graph.with_tensor(weight.replace(blocks=None)), work / f"sweep-{len(sweep)}-plain.mun")
            sweep.append((label, {"blocks": measure(path, boards["neon"], work),
                                  "dense": measure(unstructured, boards["neon"], work),
                                  "generic": measure(path, boards["generic"], work),
                                  "sdot": measure(path, boards["sdot"], work),
                                  "sdot dense": measure(unstructured, boards["sdot"], work)}))
            print(f"sweep {label}: {sweep[-1][1]['blocks'].instructions:,}", flush=True)
        atomic_write_text(args.out, render(rows, sweep))
    print(f"wrote {args.out}")
    return 0


def targets_section(rows: list[dict], sweep: list) -> list[str]:
    """The issue's targets, checked against the numbers above."""
    lines = []
    for r in rows:
        if r["variant"] != "dense" or r["model"] == "mnist_cnn":
            continue
        neon, sdot = (r[k].instructions / r["generic"].instructions for k in ("neon", "sdot"))
        verdict = "met" if neon <= 0.5 else "NOT met"
        lines.append(f"- {r['model']} dense: NEON {neon:.2f}x, NEON + SDOT {sdot:.2f}x of generic C "
                     f"(target <= 0.5x: {verdict})")
    for r in rows:
        if r["model"] == "mnist_cnn" and r["variant"] != "dense":
            d = next(x for x in rows if x["model"] == "mnist_cnn" and x["variant"] == "dense")
            neon, sdot = (r[k].instructions / d[k].instructions for k in ("neon", "sdot"))
            lines.append(f"- mnist_cnn {r['variant']} against dense: NEON {neon:.2f}x, NEON + SDOT {sdot:.2f}x "
                         f"(target < 1x: NEON {'met' if neon < 1 else 'NOT met'}, SDOT {'met' if sdot < 1 else 'NOT met'})")
    for key, name in (("neon", "NEON"), ("sdot", "NEON + SDOT")):
        dense = {r["model"]: r[f"{key} speed"].instructions for r in rows if r["variant"] == "dense"}
        worst = max((r[f"{key} speed"].instructions / dense[r["model"]], r["model"], r["variant"])
                    for r in rows if r["variant"] != "dense")
        lines.append(f"- {name}, `--optimize speed`: compressed at most {worst[0]:.2f}x of dense ({worst[1]} "
                     f"{worst[2]}; target <= 1x: {'met' if worst[0] <= 1 else 'NOT met'})")
    by_label = dict(sweep)
    dense, sdot_dense = by_label["dense"]["dense"].instructions, by_label["dense"]["sdot dense"].instructions
    for label in ("100% unified", "50% pruned", "75% pruned"):
        m = by_label[label]
        lines.append(f"- sweep layer, {label}: {m['blocks'].layers[0][2]} {ratio(m['blocks'].instructions, dense)} "
                     f"of the dense NEON kernel; {m['sdot'].layers[0][2]} {ratio(m['sdot'].instructions, sdot_dense)} "
                     f"of the dense SDOT kernel")
    return lines


def render(rows: list[dict], sweep: list) -> str:
    by_model = {(r["model"], r["variant"]): r for r in rows}
    text = [
        "# NEON kernels on AArch64: measured",
        "",
        "Generated by `benchmarks/neon_bench.py` (do not edit by hand). Exact executed instructions per inference "
        "under `qemu-aarch64` user mode, counted by munify's TCG plugin (firmware/qemu-plugin); **instructions, not "
        "cycles** (cycles come only from a real board). One seeded input per run; every run bit-exact against the "
        "reference executor unless the table says otherwise.",
        "",
        "- generic C: `aarch64-linux` with its features removed (the portable kernels, same compiler and flags, "
        "gcc 12 `-O2 -march=armv8-a`)",
        "- NEON: `aarch64-linux` (`-cpu cortex-a53`, no dotprod): SMULL + SMLAL2 + SADALP",
        "- NEON + SDOT: `aarch64-linux-dotprod` (`-cpu cortex-a76`, `-march=armv8.2-a+dotprod`)",
        "- compressed: MLPerf Tiny models unified/pruned post-training with 1x8 blocks (pt50: 20% pruned + 30% "
        "unified of the full blocks, pt75: 45% + 30%; first and last layer and depthwise dense, as `munify bench`); "
        "MNIST CNN: seeded untrained weights with 1x8 block structures (counts depend on structure only)",
        "- `--optimize balanced` (the default) everywhere; the planner picks each layer's kernel",
        "",
        "## Against the targets",
        "",
        *targets_section(rows, sweep),
        "",
        "What unified blocks buy on NEON: with the magnitude factored out, a unified 1x8 block row needs only the "
        "signed sum of its 8 inputs, and there are 16 sign patterns per 4 inputs. The table kernel "
        "(`conv_blocks_tables_neon` / `_sdot`, layout neon-blocks-tables) builds, once per pass of 16 output "
        "pixels, the 2 x 16 signed sums of every column that holds a unified block (LD4, UZP, SXTL, 15 SUB a half) "
        "and shares them across all rows; a unified block row is then two table loads, 2 ADD and 4 SMLAL by the "
        "magnitude for 16 pixels, whatever its signs, against 16 SMULL + 16 SADALP for a dense block row. So on "
        "plain NEON unified blocks buy time as well as bytes (the sweep below: "
        "all-unified against the dense kernel). With SDOT a dense block row is 8 SDOT for 16 pixels, cheaper than any "
        "table lookup; there the block kernel's SDOT path (`conv_blocks_sdot`: 16 pixels a pass, 4 pixels x 4 inputs "
        "a register, SDOT by element) runs a block row in what the dense SDOT kernel spends on it, so pruned blocks "
        "buy time in proportion (the sweep's SDOT columns), while a unified block row, its weights rebuilt, costs a "
        "little more than a dense one; the fitted costs choose per layer.",
        "",
        "Planner rule (`--optimize balanced`, toolchain.plan.registry): among the kernels whose weights need at most "
        "1.2x the bytes of the smallest layout (or 1 KiB more), the one the cost model predicts fastest. The NEON "
        "cost models are fitted to exact counts (toolchain/plan/kernels/neon/kernels.py), so a block kernel slower than dense is "
        "taken only when dense storage is beyond that budget, i.e. when the block kernel saves more than a sixth "
        "of the bytes and 1 KiB; `--optimize speed` then takes the fastest kernel whatever its bytes.",
        "",
        "## Per model",
        "",
        *model_section(rows),
        "",
        "## Compressed against dense, same target",
        "",
        *compressed_vs_dense(rows),
        "",
        "## `--optimize speed`: compressed against dense",
        "",
        "`--optimize speed` builds at -O3 (toolchain.build), where gcc compiles the dense and depthwise kernels "
        "to markedly fewer instructions than at the boards' -O2; the planner ranks speed plans with the NEON "
        "family's speed table, fitted to -O3 counts (`python -m benchmarks.kernels.neon_calibrate measure F "
        "--optimize speed`), and takes the fastest kernel whatever its bytes.",
        "",
        *speed_section(rows),
        "",
        "## What unified and pruned blocks buy on NEON: one layer",
        "",
        f"CONV_2D 3x3, 64 -> 64 channels, {SWEEP_LAYER[4]}x{SWEEP_LAYER[5]} output pixels (576-long rows), 1x8 "
        "blocks placed at random; the kernel is the planner's choice (`--optimize balanced`) on `aarch64-linux`; the "
        "NEON dense kernel runs the same weights with the block structure dropped (pruned blocks multiplied as "
        "zeros); generic C is the portable kernel the planner picks on the featureless board.",
        "",
        *sweep_section(sweep),
        "",
        *layer_section("kws", by_model[("kws", "dense")]),
        "",
        *layer_section("kws", by_model[("kws", "pt75")]),
        "",
    ]
    return "\n".join(text)


if __name__ == "__main__":
    sys.exit(main())
