"""Retraining with the block structure fixed (torch.nn.utils.parametrize).

Each structured weight is replaced by a function of free parameters:
  dense weights    train freely (the original weight tensor),
  unified blocks   one learnable magnitude per block times the block's fixed sign pattern,
  pruned blocks    exactly zero.
So the structure holds exactly after every step; `bake` turns the weights back into plain tensors.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.utils.data import DataLoader

from ..ir import BlockKind
from ..ir.blocks import expand_kinds
from .project import exact_mean, full_grid, signs_of, to_tiles
from .recipe import RetrainConfig
from .structure import LayerStructure, get_layer, matrix_to_weight, op_type_of, torch_weight_matrix, \
    weight_to_matrix
from .train import sgd, train_epochs


class FixedBlocks(nn.Module):
    """Parametrization: weight = dense part + magnitude[block] * sign pattern; pruned weights are 0."""

    def __init__(self, module: nn.Module, structure: LayerStructure):
        super().__init__()
        self.op_type = op_type_of(module)
        self.shape = tuple(module.weight.shape)
        matrix = torch_weight_matrix(module).detach()
        rows, cols = matrix.shape
        bo, bi = structure.bo, structure.bi
        per_weight = torch.as_tensor(expand_kinds(structure.kinds, rows, cols, bo, bi).astype(np.int64))
        self.register_buffer("dense", per_weight == BlockKind.DENSE)
        self.register_buffer("unified", per_weight == BlockKind.UNIFIED)
        self.register_buffer("signs", signs_of(matrix))
        gr, gc = full_grid(rows, cols, bo, bi)
        block_ids = torch.zeros(rows, cols, dtype=torch.int64)
        block_ids[: gr * bo, : gc * bi] = torch.arange(gr * gc).reshape(gr, 1, gc, 1).expand(gr, bo, gc, bi) \
            .reshape(gr * bo, gc * bi)
        self.register_buffer("block_ids", block_ids)
        self.magnitudes = nn.Parameter(exact_mean(to_tiles(matrix, bo, bi).abs()).reshape(-1))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        matrix = weight_to_matrix(self.op_type, weight)
        unified = self.signs * self.magnitudes[self.block_ids]
        out = torch.where(self.dense, matrix, torch.where(self.unified, unified, torch.zeros_like(matrix)))
        return matrix_to_weight(self.op_type, out, self.shape)


def attach(model: nn.Module, structures: dict[str, LayerStructure]) -> None:
    for name, structure in structures.items():
        module = get_layer(model, name)
        parametrize.register_parametrization(module, "weight", FixedBlocks(module, structure))


def bake(model: nn.Module, structures: dict[str, LayerStructure]) -> None:
    """Replace the parametrizations by plain weights holding their current values."""
    for name in structures:
        parametrize.remove_parametrizations(get_layer(model, name), "weight", leave_parametrized=True)


def retrain(model: nn.Module, structures: dict[str, LayerStructure], loader: DataLoader, config: RetrainConfig,
            max_batches: int = 0, progress: bool = False) -> float:
    """Fine-tune with the structure fixed; returns the last epoch's mean loss (0 when epochs == 0)."""
    if config.epochs == 0:
        return 0.0
    attach(model, structures)
    try:
        optimizer = sgd(model.parameters(), config.lr, config.momentum)
        return train_epochs(model, loader, optimizer, config.epochs, max_batches=max_batches, desc="retrain",
                            progress=progress)
    finally:
        bake(model, structures)
