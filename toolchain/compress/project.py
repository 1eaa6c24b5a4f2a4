"""Euclidean projections onto the micro-structured sets, and the block selection.

A block is a bo x bi tile of the weight matrix [out, reduction]. Only full tiles may be unified or pruned;
edge tiles that stick out of the matrix stay dense. For one block b with weights w (n = bo*bi):
  pruned:  w -> 0,                      cost ||w||^2
  unified: w_i -> sign(w_i) * mean|w|,  cost n * Var(|w|)  (the closest point with one shared magnitude)
Signs are taken as +1 for w >= 0 so a zero weight in a unified block becomes +s, as the IR encodes it.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..ir import BlockKind
from ..ir.blocks import grid_shape


def full_grid(rows: int, cols: int, bo: int, bi: int) -> tuple[int, int]:
    """Rows and columns of the part of the block grid made of full tiles."""
    return rows // bo, cols // bi


def to_tiles(matrix: torch.Tensor, bo: int, bi: int) -> torch.Tensor:
    """Full tiles of `matrix` as [grid_rows, grid_cols, bo*bi] (edge tiles left out)."""
    gr, gc = full_grid(*matrix.shape, bo, bi)
    body = matrix[: gr * bo, : gc * bi]
    return body.reshape(gr, bo, gc, bi).permute(0, 2, 1, 3).reshape(gr, gc, bo * bi)


def from_tiles(matrix: torch.Tensor, tiles: torch.Tensor, bo: int, bi: int) -> torch.Tensor:
    """A copy of `matrix` whose full tiles are replaced by `tiles` (inverse of `to_tiles`)."""
    gr, gc = tiles.shape[:2]
    out = matrix.clone()
    out[: gr * bo, : gc * bi] = tiles.reshape(gr, gc, bo, bi).permute(0, 2, 1, 3).reshape(gr * bo, gc * bi)
    return out


def exact_mean(values: torch.Tensor) -> torch.Tensor:
    """Mean over the last axis (a power of two long) by pairwise sums.

    A block of equal magnitudes then averages to exactly that magnitude, which makes the projection
    idempotent bit for bit (a running sum of 3 or 5 equal floats may round).
    """
    n = values.shape[-1]
    while values.shape[-1] > 1:
        values = values[..., 0::2] + values[..., 1::2]
    return values[..., 0] / n


def signs_of(values: torch.Tensor) -> torch.Tensor:
    return torch.where(values < 0, -1.0, 1.0).to(values.dtype)


def unify_tiles(tiles: torch.Tensor) -> torch.Tensor:
    return signs_of(tiles) * exact_mean(tiles.abs()).unsqueeze(-1)


def block_costs(matrix: torch.Tensor, bo: int, bi: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(prune cost, unify cost) per full tile, each [grid_rows, grid_cols]."""
    tiles = to_tiles(matrix.detach(), bo, bi).double()
    prune = (tiles ** 2).sum(-1)
    magnitudes = tiles.abs()
    unify = ((magnitudes - magnitudes.mean(-1, keepdim=True)) ** 2).sum(-1)
    return prune, unify


def block_counts(n_blocks: int, prune_ratio: float, unify_ratio: float) -> tuple[int, int]:
    """Numbers of blocks to prune and to unify (ratios of the full blocks, rounded half up)."""
    n_prune = min(n_blocks, math.floor(prune_ratio * n_blocks + 0.5))
    n_unify = min(n_blocks - n_prune, math.floor(unify_ratio * n_blocks + 0.5))
    return n_prune, n_unify


def choose_kinds(prune_cost: torch.Tensor, unify_cost: torch.Tensor, n_prune: int, n_unify: int) -> np.ndarray:
    """Flat kinds: prune the n_prune cheapest-to-prune blocks, then unify the n_unify cheapest of the rest."""
    kinds = np.full(prune_cost.numel(), BlockKind.DENSE, np.uint8)
    order = torch.argsort(prune_cost.reshape(-1), stable=True).numpy()
    pruned = order[:n_prune]
    kinds[pruned] = BlockKind.PRUNED
    rest = order[n_prune:]
    by_unify_cost = np.argsort(unify_cost.reshape(-1).numpy()[rest], kind="stable")
    kinds[rest[by_unify_cost[:n_unify]]] = BlockKind.UNIFIED
    return kinds


def embed_kinds(full_kinds: np.ndarray, rows: int, cols: int, bo: int, bi: int) -> np.ndarray:
    """The kind map over the whole grid: full-tile kinds, edge tiles dense."""
    kinds = np.zeros(grid_shape(rows, cols, bo, bi), np.uint8)
    gr, gc = full_grid(rows, cols, bo, bi)
    kinds[:gr, :gc] = full_kinds.reshape(gr, gc)
    return kinds


def select_kinds(matrix: torch.Tensor, bo: int, bi: int, prune_ratio: float, unify_ratio: float) -> np.ndarray:
    """Kind map [ceil(rows/bo), ceil(cols/bi)] for one layer at the given ratios of its full blocks."""
    prune_cost, unify_cost = block_costs(matrix, bo, bi)
    n_prune, n_unify = block_counts(prune_cost.numel(), prune_ratio, unify_ratio)
    full = choose_kinds(prune_cost, unify_cost, n_prune, n_unify)
    return embed_kinds(full, *matrix.shape, bo, bi)


def select_kinds_pooled(matrices: list[torch.Tensor], bo: int, bi: int, prune_ratio: float,
                        unify_ratio: float) -> list[np.ndarray]:
    """Like `select_kinds`, but the ratios hold over the blocks of all the layers together."""
    costs = [block_costs(m, bo, bi) for m in matrices]
    prune_cost = torch.cat([p.reshape(-1) for p, _ in costs])
    unify_cost = torch.cat([u.reshape(-1) for _, u in costs])
    n_prune, n_unify = block_counts(prune_cost.numel(), prune_ratio, unify_ratio)
    flat = choose_kinds(prune_cost, unify_cost, n_prune, n_unify)
    kinds, start = [], 0
    for m, (p, _) in zip(matrices, costs):
        kinds.append(embed_kinds(flat[start:start + p.numel()], *m.shape, bo, bi))
        start += p.numel()
    return kinds


def project_fixed(matrix: torch.Tensor, kinds, bo: int, bi: int) -> torch.Tensor:
    """Closest matrix with the given block kinds (edge tiles must be dense in `kinds`)."""
    kinds = torch.as_tensor(np.asarray(kinds, dtype=np.int64))
    gr, gc = full_grid(*matrix.shape, bo, bi)
    full_kinds = kinds[:gr, :gc].unsqueeze(-1)
    tiles = to_tiles(matrix.detach(), bo, bi)
    projected = torch.where(full_kinds == BlockKind.UNIFIED, unify_tiles(tiles), tiles)
    projected = torch.where(full_kinds == BlockKind.PRUNED, torch.zeros_like(tiles), projected)
    return from_tiles(matrix.detach(), projected, bo, bi)


def is_feasible(matrix: torch.Tensor, kinds, bo: int, bi: int) -> bool:
    """True when `matrix` already has the block kinds exactly (bit for bit)."""
    return bool(torch.equal(project_fixed(matrix, kinds, bo, bi), matrix.detach()))
