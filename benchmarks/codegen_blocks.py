"""Generic (Cortex-M3) kernels on block-structured weights: retired instructions and const bytes under QEMU.

For each MLPerf Tiny model, every weight matrix gets a micro-block structure chosen by block norm (the
weakest blocks pruned, the middle ones unified to their row magnitude with signs kept, the strongest left
dense), then the model runs on mps2-an385 (Cortex-M3, generic kernels) in every --optimize mode, bit-exact
against the reference. Usage:

    .venv/bin/python benchmarks/codegen_blocks.py [--board mps2-an385] [--bo 2 --bi 8] [--pruned 0.4 --unified 0.4]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from toolchain.boards import load_board
from toolchain.run import run_model
from toolchain.importers import import_tflite
from toolchain.ir import BlockKind, BlockStructure, Graph, matrix_to_weight, save, weight_matrix
from toolchain.ir.blocks import full_block_mask, grid_shape

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf-tiny"
FILES = {"kws": "kws_ref_model.tflite", "resnet": "pretrainedResnet_quant.tflite", "ad01": "ad01_int8.tflite"}


def structure_weights(graph: Graph, bo: int, bi: int, pruned: float, unified: float) -> Graph:
    for op in graph.ops:
        w = graph.weight_of(op)
        if w is None:
            continue
        matrix = weight_matrix(op.type, w.data).astype(np.int32)
        rows, cols = matrix.shape
        gr, gc = grid_shape(rows, cols, bo, bi)
        padded = np.zeros((gr * bo, gc * bi))
        padded[:rows, :cols] = matrix
        norms = np.sqrt((padded.reshape(gr, bo, gc, bi) ** 2).sum(axis=(1, 3)))
        full = full_block_mask(rows, cols, bo, bi)
        order = np.argsort(np.where(full, norms, np.inf), axis=None, kind="stable")
        kinds = np.zeros(gr * gc, np.uint8)
        n_full = int(full.sum())
        kinds[order[:int(pruned * n_full)]] = BlockKind.PRUNED
        kinds[order[int(pruned * n_full):int((pruned + unified) * n_full)]] = BlockKind.UNIFIED
        kinds = kinds.reshape(gr, gc)
        per_weight = np.repeat(np.repeat(kinds, bo, 0), bi, 1)[:rows, :cols]
        magnitude = np.abs(padded[:rows]).reshape(rows, gc, bi).mean(axis=2).round().clip(0, 127)
        magnitude = np.repeat(magnitude, bi, 1)[:, :cols].astype(np.int32)
        matrix = np.where(per_weight == BlockKind.UNIFIED, np.where(matrix < 0, -1, 1) * magnitude, matrix)
        matrix = np.where(per_weight == BlockKind.PRUNED, 0, matrix).astype(np.int8)
        blocks = BlockStructure.from_matrix(matrix, kinds, bo, bi)
        graph = graph.with_tensor(w.replace(data=matrix_to_weight(op.type, matrix, w.shape), blocks=blocks))
    graph.validate()
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="mps2-an385")
    parser.add_argument("--bo", type=int, default=2)
    parser.add_argument("--bi", type=int, default=8)
    parser.add_argument("--pruned", type=float, default=0.4)
    parser.add_argument("--unified", type=float, default=0.4)
    parser.add_argument("--models", nargs="*", default=list(FILES))
    args = parser.parse_args()
    board = load_board(args.board)
    print(f"board {board.name} ({board.cpu}), blocks {args.bo}x{args.bi}: {args.pruned:.0%} pruned, "
          f"{args.unified:.0%} unified, the rest dense\n")
    print(f"{'model':<8} {'weights':<10} {'optimize':<9} {'instructions':>13} {'vs dense':>9} {'const B':>9} "
          f"{'flash B':>9}  bit-exact")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            dense = import_tflite(MODELS / FILES[name])
            blocked = structure_weights(dense, args.bo, args.bi, args.pruned, args.unified)
            baseline = None
            for label, graph, modes in (("dense", dense, ["balanced"]), ("blocks", blocked, ["size", "balanced", "speed"])):
                path = Path(tmp) / f"{name}-{label}.mun"
                save(graph, path)
                for optimize in modes:
                    report = run_model(path, board, Path(tmp) / f"build-{name}-{label}-{optimize}", 2, 0,
                                       optimize=optimize)
                    count = report.latency.min
                    baseline = baseline or count
                    print(f"{name:<8} {label:<10} {optimize:<9} {count:>13,} {count / baseline:>8.2f}x "
                          f"{report.memory.weights_bytes:>9,} {report.memory.flash_bytes:>9,}  "
                          f"{'yes' if report.bit_exact else 'NO'}")


if __name__ == "__main__":
    main()
