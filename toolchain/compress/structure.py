"""The torch side of the block structure: weight matrix views and per-layer structures.

A weight is viewed as a matrix [out, reduction] with the reduction in deployment order, exactly as
`toolchain.ir.weight_matrix` views the exported tensor:
  Conv2d [O, I, KH, KW]             -> [O, KH*KW*I]  (cin fastest, like the IR's [O, KH, KW, I])
  depthwise Conv2d [C, 1, KH, KW]   -> [C, KH*KW]    (blocks run along the taps of one channel)
  Linear [O, I]                     -> as is
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import MunifyError
from ..ir import BlockKind
from ..ir.blocks import grid_shape
from .project import project_fixed


def is_depthwise(module: nn.Module) -> bool:
    return (isinstance(module, nn.Conv2d) and module.groups > 1
            and module.groups == module.in_channels == module.out_channels)


def op_type_of(module: nn.Module) -> str:
    if isinstance(module, nn.Linear):
        return "FULLY_CONNECTED"
    if isinstance(module, nn.Conv2d):
        if module.groups == 1:
            return "CONV_2D"
        if is_depthwise(module):
            return "DEPTHWISE_CONV_2D"
        raise MunifyError(f"Conv2d with groups={module.groups} ({module.in_channels}->{module.out_channels}) "
                          "is not supported; use groups=1 or a depthwise conv with multiplier 1")
    raise MunifyError(f"{type(module).__name__} has no weight matrix; only Conv2d and Linear are compressed")


def is_weighted(module: nn.Module) -> bool:
    return isinstance(module, (nn.Conv2d, nn.Linear))


def weight_to_matrix(op_type: str, weight: torch.Tensor) -> torch.Tensor:
    """[out, reduction] view of a torch weight tensor in deployment order (differentiable)."""
    if op_type == "FULLY_CONNECTED":
        return weight
    if op_type == "DEPTHWISE_CONV_2D":
        return weight.reshape(weight.shape[0], -1)
    return weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1)


def matrix_to_weight(op_type: str, matrix: torch.Tensor, shape) -> torch.Tensor:
    """Inverse of `weight_to_matrix`: a tensor of the torch weight `shape`."""
    if op_type == "CONV_2D":
        o, i, kh, kw = shape
        return matrix.reshape(o, kh, kw, i).permute(0, 3, 1, 2)
    return matrix.reshape(shape)


def torch_weight_matrix(module: nn.Module) -> torch.Tensor:
    """[out, reduction] view of the module's weight in deployment order (differentiable)."""
    return weight_to_matrix(op_type_of(module), module.weight)


@torch.no_grad()
def set_torch_weight_from_matrix(module: nn.Module, matrix: torch.Tensor) -> None:
    weight = matrix_to_weight(op_type_of(module), matrix.to(module.weight.dtype), module.weight.shape)
    module.weight.copy_(weight)


@dataclass
class LayerStructure:
    """Block kinds of one layer over the grid ceil(rows/bo) x ceil(cols/bi) of its weight matrix."""

    name: str  # qualified module name, as in model.named_modules()
    op_type: str
    bo: int
    bi: int
    kinds: np.ndarray  # uint8 toolchain.ir.BlockKind values

    def counts(self) -> dict[str, int]:
        return {kind.name.lower(): int(np.sum(self.kinds == kind)) for kind in BlockKind}

    def check_fits(self, rows: int, cols: int) -> None:
        expected = grid_shape(rows, cols, self.bo, self.bi)
        if self.kinds.shape != expected:
            raise MunifyError(f"layer '{self.name}': structure grid {self.kinds.shape} does not fit its "
                              f"{rows}x{cols} weight ({expected} for {self.bo}x{self.bi} blocks); "
                              "re-run compression for this model")


def get_layer(model: nn.Module, name: str) -> nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError:
        raise MunifyError(f"layer '{name}' is not in the model; the structures belong to another model") from None


@torch.no_grad()
def enforce_structure_(model: nn.Module, structures: dict[str, LayerStructure]) -> None:
    """Project every structured layer in place onto its FIXED block kinds, keeping the current signs.

    Pruned blocks become 0; a unified block gets the mean |w| of the block with each weight's sign.
    """
    for name, structure in structures.items():
        module = get_layer(model, name)
        matrix = torch_weight_matrix(module)
        structure.check_fits(*matrix.shape)
        kinds = torch.as_tensor(structure.kinds.astype(np.int64))
        set_torch_weight_from_matrix(module, project_fixed(matrix, kinds, structure.bo, structure.bi))
