"""Block structures the Helium tile kernels run: 4 x 16 blocks (their tile), numpy only (no torch)."""

from __future__ import annotations

import numpy as np

from toolchain.ir import BlockKind, BlockStructure, Graph, matrix_to_weight, weight_matrix
from toolchain.ir.blocks import full_block_mask, grid_shape

TILE_MIX = (0.2, 0.3, 0.5)  # dense, unified, pruned shares of the full blocks


def tile_blocks(matrix: np.ndarray, rng: np.random.Generator, mix=TILE_MIX) -> tuple[np.ndarray, BlockStructure]:
    """`matrix` on 4 x 16 blocks chosen at random: unified rows take the row's largest magnitude with the
    weights' signs, pruned blocks become zero; edge blocks stay dense."""
    rows, cols = matrix.shape
    gr, gc = grid_shape(rows, cols, 4, 16)
    kinds = rng.choice(np.array([0, 1, 2], np.uint8), size=(gr, gc), p=mix)
    kinds = np.where(full_block_mask(rows, cols, 4, 16), kinds, BlockKind.DENSE).astype(np.uint8)
    per_weight = np.repeat(np.repeat(kinds, 4, 0), 16, 1)[:rows, :cols]
    padded = np.zeros((rows, gc * 16), np.int32)
    padded[:, :cols] = np.abs(matrix.astype(np.int32))
    row_max = np.repeat(np.clip(padded.reshape(rows, gc, 16).max(axis=2), 1, 127), 16, 1)[:, :cols]
    out = np.where(per_weight == BlockKind.UNIFIED, np.where(matrix < 0, -1, 1) * row_max, matrix)
    out = np.where(per_weight == BlockKind.PRUNED, 0, out).astype(np.int8)
    return out, BlockStructure.from_matrix(out, kinds, 4, 16)


def with_tile_blocks(graph: Graph, seed: int, mix=TILE_MIX) -> Graph:
    """Every CONV_2D / FULLY_CONNECTED weight with a reduction of at least 16 on random 4 x 16 blocks, except
    the first and last weighted layers (as toolchain.compress.post_training leaves them)."""
    rng = np.random.default_rng(seed)
    weighted = [op for op in graph.ops if graph.weight_of(op) is not None]
    for op in weighted[1:-1]:
        if op.type not in ("CONV_2D", "FULLY_CONNECTED"):
            continue
        w = graph.weight_of(op)
        matrix = weight_matrix(op.type, w.data)
        if matrix.shape[1] < 16:
            continue
        out, blocks = tile_blocks(matrix, rng, mix)
        graph = graph.with_tensor(w.replace(data=matrix_to_weight(op.type, out, w.shape), blocks=blocks))
    graph.validate()
    return graph
