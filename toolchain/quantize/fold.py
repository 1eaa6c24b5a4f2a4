"""BatchNorm folding into the preceding Conv2d or Linear (inference statistics).

    y = gamma * (conv(x, w) + b - mean) / sqrt(var + eps) + beta
      = conv(x, w * a) + (b - mean) * a + beta,          a = gamma / sqrt(var + eps) per output channel

Folding scales each output row of the weight matrix [out, reduction] by its own factor a_o. A unified block
row (one magnitude, its own signs) therefore stays unified: its magnitude becomes |a_o| * m, and if a_o < 0
every sign of that row flips. Blocks spanning bo rows end up with one magnitude per row, which is what the IR
stores (`BlockStructure.magnitudes` is per block row); pruned blocks stay zero.
"""

from __future__ import annotations

import torch
from torch import nn


def fold_batchnorm(weight: torch.Tensor, bias: torch.Tensor | None,
                   bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Folded (weight, bias); differentiable in weight, bias and the BN affine parameters.

    Computed in float64 and returned in the weight's dtype so the fold is as exact as the model itself.
    """
    dtype = weight.dtype
    factor = torch.rsqrt(bn.running_var.to(torch.float64) + bn.eps)
    shift = -bn.running_mean.to(torch.float64) * factor
    if bn.affine:
        factor = factor * bn.weight.to(torch.float64)
        shift = shift * bn.weight.to(torch.float64) + bn.bias.to(torch.float64)
    folded_weight = weight.to(torch.float64) * factor.reshape(-1, *([1] * (weight.dim() - 1)))
    folded_bias = shift if bias is None else bias.to(torch.float64) * factor + shift
    return folded_weight.to(dtype), folded_bias.to(dtype)


def folded_parameters(module: nn.Conv2d | nn.Linear,
                      bn: nn.BatchNorm1d | nn.BatchNorm2d | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The (weight, bias) a deployed layer uses: BN folded in when there is one, a zero bias when absent."""
    if bn is not None:
        return fold_batchnorm(module.weight, module.bias, bn)
    bias = module.bias if module.bias is not None else torch.zeros(module.weight.shape[0])
    return module.weight, bias
