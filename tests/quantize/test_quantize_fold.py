"""BatchNorm folding: exact in float, and a folded unified block row stays unified (one magnitude per row)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from toolchain.ir import BlockKind, BlockStructure
from toolchain.quantize import fold_batchnorm, quantize_matrix, weight_scales

from quant_helpers import random_structures


def _randomize_bn(bn: nn.Module, generator: torch.Generator) -> nn.Module:
    n = bn.num_features
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(n, generator=generator))
        bn.running_var.copy_(torch.rand(n, generator=generator) * 2 + 0.1)
        bn.weight.copy_(torch.randn(n, generator=generator))  # some gammas negative: signs flip per row
        bn.bias.copy_(torch.randn(n, generator=generator))
    return bn.eval()


@pytest.mark.parametrize("groups, bias", [(1, False), (1, True), (6, False)])
def test_conv_bn_fold_is_exact(groups, bias):
    generator = torch.Generator().manual_seed(1)
    conv = nn.Conv2d(6, 6, 3, padding=1, groups=groups, bias=bias)
    bn = _randomize_bn(nn.BatchNorm2d(6), generator)
    x = torch.randn(4, 6, 9, 9, generator=generator)
    weight, folded_bias = fold_batchnorm(conv.weight, conv.bias, bn)
    with torch.no_grad():
        expected = bn(conv(x))
        folded = F.conv2d(x, weight, folded_bias, padding=1, groups=groups)
    assert torch.allclose(folded, expected, atol=1e-5, rtol=1e-5)


def test_linear_bn_fold_is_exact():
    generator = torch.Generator().manual_seed(2)
    linear = nn.Linear(12, 5)
    bn = _randomize_bn(nn.BatchNorm1d(5), generator)
    x = torch.randn(8, 12, generator=generator)
    weight, bias = fold_batchnorm(linear.weight, linear.bias, bn)
    with torch.no_grad():
        assert torch.allclose(F.linear(x, weight, bias), bn(linear(x)), atol=1e-5, rtol=1e-5)


def test_folded_unified_blocks_stay_unified_per_row():
    generator = torch.Generator().manual_seed(3)
    model = nn.Sequential(nn.Conv2d(8, 8, 3, bias=False), nn.BatchNorm2d(8))
    structures = random_structures(model, bo=4, bi=8, prune=0.2, unify=0.6)
    _randomize_bn(model[1], generator)
    folded, _ = fold_batchnorm(model[0].weight, None, model[1])
    matrix = folded.detach().permute(0, 2, 3, 1).reshape(8, -1)
    structure = structures["0"]
    unified_rows = np.repeat(structure.kinds == BlockKind.UNIFIED, 4, axis=0)
    tiles = matrix.abs().reshape(8, -1, 8).numpy()  # [row, block column, bi]
    assert np.all(tiles[unified_rows] == tiles[unified_rows][:, :1])  # exactly one magnitude per folded row
    codes = quantize_matrix(matrix, weight_scales(matrix), structure.kinds, 4, 8).numpy().astype(np.int8)
    blocks = BlockStructure.from_matrix(codes, structure.kinds, 4, 8)
    blocks.check(codes, "folded")
    magnitudes = blocks.magnitudes[unified_rows]
    assert len(set(magnitudes.tolist())) > 1  # rows of one block differ after folding: per-row magnitudes
