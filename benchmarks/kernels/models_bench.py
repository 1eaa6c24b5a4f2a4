"""Whole models on mps2-an386 (Cortex-M4F, QEMU -icount): instructions per inference with the DSP kernels
against the TFLite Micro + CMSIS-NN figures, and per layer dense vs block-compressed vs generic C.

    .venv/bin/python benchmarks/kernels/models_bench.py [--compressed] [--generic] [--optimize balanced]

The compressed models are synthetic: each CONV_2D / FULLY_CONNECTED weight of the imported int8 model is
projected onto 1 x 8 blocks, by block norm 50% pruned, 30% unified (magnitude = rounded mean |w|), 20% dense.
That keeps the layer shapes and quantization of the real models; only instruction counts are of interest.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from toolchain.boards import load_board
from toolchain.run import run_model
from toolchain.importers.tflite import import_tflite
from toolchain.ir import BlockKind, BlockStructure, Graph, matrix_to_weight, save, weight_matrix
from toolchain.ir.blocks import full_block_mask, grid_shape

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models" / "mlperf-tiny"
# TFLite Micro + CMSIS-NN on mps2-an386 in this QEMU, instructions per inference.
TFLM_INSTRUCTIONS = {"kws_ref_model": 7_699_720, "pretrainedResnet_quant": 29_865_440, "ad01_int8": 583_280}
MIX = (0.2, 0.3, 0.5)  # dense, unified, pruned shares of the full blocks


def compress_matrix(matrix: np.ndarray, bo: int, bi: int, mix=MIX) -> tuple[np.ndarray, BlockStructure]:
    rows, cols = matrix.shape
    gr, gc = grid_shape(rows, cols, bo, bi)
    padded = np.zeros((gr * bo, gc * bi))
    padded[:rows, :cols] = matrix
    norms = np.sqrt((padded.reshape(gr, bo, gc, bi) ** 2).sum(axis=(1, 3)))
    full = full_block_mask(rows, cols, bo, bi)
    order = np.argsort(np.where(full, norms, np.inf), axis=None, kind="stable")
    n_full = int(full.sum())
    kinds = np.zeros(gr * gc, np.uint8)
    kinds[order[: int(n_full * mix[2])]] = BlockKind.PRUNED
    kinds[order[int(n_full * mix[2]): int(n_full * (mix[2] + mix[1]))]] = BlockKind.UNIFIED
    kinds = kinds.reshape(gr, gc)
    per_weight = np.repeat(np.repeat(kinds, bo, 0), bi, 1)[:rows, :cols]
    tiles = padded[:rows].reshape(rows, gc, bi)
    magnitude = np.clip(np.rint(np.abs(tiles).mean(axis=2)), 1, 127)
    unified = np.where(matrix < 0, -1, 1) * np.repeat(magnitude, bi, axis=1)[:, :cols]
    out = np.where(per_weight == BlockKind.UNIFIED, unified, matrix)
    out = np.where(per_weight == BlockKind.PRUNED, 0, out).astype(np.int8)
    return out, BlockStructure.from_matrix(out, kinds, bo, bi)


def compress_graph(graph: Graph, bo: int = 1, bi: int = 8) -> Graph:
    for op in graph.ops:
        if op.type not in ("CONV_2D", "FULLY_CONNECTED"):
            continue
        w = graph.weight_of(op)
        matrix = weight_matrix(op.type, w.data)
        if matrix.shape[1] < bi:
            continue
        packed, blocks = compress_matrix(matrix, bo, bi)
        graph = graph.with_tensor(w.replace(data=matrix_to_weight(op.type, packed, w.shape), blocks=blocks))
    graph.validate()
    return graph


def measure(graph: Graph, board, optimize: str, workdir: Path, label: str):
    tag = label.replace(" ", "-").replace("/", "-")
    path = workdir / f"{graph.name}-{tag}.mun"
    save(graph, path)
    report = run_model(path, board, workdir / f"build-{graph.name}-{tag}-{optimize}", 1, 0, False, optimize)
    if not report.bit_exact:
        raise SystemExit(f"{graph.name}: not bit-exact on {board.name}")
    return report


def restrict_matrix_kernels_to_dsp() -> None:
    from toolchain.plan import registry

    everything = registry.all_variants
    matrix_ops = ("CONV_2D", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D")
    registry.all_variants = lambda: tuple(v for v in everything() if v.op_type not in matrix_ops or "dsp" in v.features)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compressed", action="store_true", help="also run the block-compressed models")
    parser.add_argument("--generic", action="store_true", help="also run the generic C kernels on the same M4")
    parser.add_argument("--optimize", default="balanced", choices=("speed", "balanced", "size"))
    parser.add_argument("--dsp-only", action="store_true",
                        help="plan CONV_2D / FULLY_CONNECTED / DEPTHWISE_CONV_2D with the DSP kernels only")
    parser.add_argument("models", nargs="*", default=list(TFLM_INSTRUCTIONS))
    args = parser.parse_args()
    if args.dsp_only:
        restrict_matrix_kernels_to_dsp()
    board = load_board("mps2-an386")
    boards = {"dsp": board}
    if args.generic:
        boards["generic"] = dataclasses.replace(board, features=frozenset())
    with tempfile.TemporaryDirectory(prefix="munify-models-") as tmp:
        for name in args.models:
            dense = import_tflite(MODELS / f"{name}.tflite")
            runs = {f"{key} dense": measure(dense, b, args.optimize, Path(tmp), f"{key} dense")
                    for key, b in boards.items()}
            if args.compressed:
                label = "1x8 50/30/20"
                runs[label] = measure(compress_graph(dense), board, args.optimize, Path(tmp), label)
            tflm = TFLM_INSTRUCTIONS[name]
            print(f"\n{name} ({args.optimize}): TFLM+CMSIS-NN {tflm:,} instructions")
            for label, report in runs.items():
                n = report.latency.per_inference
                print(f"  {label:18s} {n:>12,}  {n / tflm:.3f}x TFLM   flash {report.memory.flash_bytes:,} B")
            labels = list(runs)
            print("  " + f"{'layer':22s} {'op':18s}" + "".join(f"{label:>20s}" for label in labels))
            for rows in zip(*(r.layers for r in runs.values())):
                kernels = " / ".join(sorted({row.kernel for row in rows}))
                counts = "".join(f"{row.count:>20,}" for row in rows)
                print(f"  {rows[0].name[:22]:22s} {rows[0].op[:18]:18s}{counts}   {kernels}")


if __name__ == "__main__":
    main()
