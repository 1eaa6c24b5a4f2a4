"""Seeded random architectures from the supported layer set (odd seeds with block-structured convs): every one
must export, compute the torch model before rounding, and match the integer reference code for code after it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from toolchain.ir.blocks import SUPPORTED_BI, SUPPORTED_BO
from toolchain.models import FlattenNHWC, init_weights_
from toolchain.quantize import quantize_model

from quant_helpers import random_structures
from test_quantize_export import _assert_program_matches_reference

ACTIVATIONS = (nn.ReLU, nn.ReLU6, lambda: nn.Hardtanh(-1.0, 1.0), nn.Identity)


def _random_model(rng: np.random.Generator, channels: int, size: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(rng.integers(1, 4)):
        kernel, stride, dilation = int(rng.integers(1, 5)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
        reach = dilation * (kernel - 1) + 1
        padding = int(rng.integers(0, reach // 2 + 1))
        if (size + 2 * padding - reach) // stride + 1 < 2:
            continue
        depthwise = rng.random() < 0.3
        out = channels * int(rng.integers(1, 3)) if depthwise else int(rng.integers(2, 9))
        layers.append(nn.Conv2d(channels, out, kernel, stride, padding, dilation, groups=channels if depthwise else 1,
                                bias=bool(rng.random() < 0.5)))
        if rng.random() < 0.5:
            layers.append(nn.BatchNorm2d(out))
        layers.append(ACTIVATIONS[rng.integers(len(ACTIVATIONS))]())
        channels, size = out, (size + 2 * padding - reach) // stride + 1
        if size >= 4 and rng.random() < 0.5:
            pool = _random_pool(rng, size)
            layers.append(pool)
            size = pool(torch.zeros(1, 1, size, size)).shape[-1]
    flatten = [FlattenNHWC(), nn.Flatten(), nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())][rng.integers(3)]
    features = channels if isinstance(flatten, nn.Sequential) else channels * size * size
    return nn.Sequential(*layers, flatten, nn.Linear(features, int(rng.integers(2, 8))))


def _random_pool(rng: np.random.Generator, size: int) -> nn.Module:
    """A pool TFLite can express: unpadded, or padded exactly as TFLite SAME."""
    choices = [lambda: nn.MaxPool2d(int(rng.integers(2, 4)), 2), lambda: nn.AvgPool2d(int(rng.integers(2, 4)), 2),
               lambda: nn.AvgPool2d(3, 1, padding=1, count_include_pad=False)]
    if size % 2:
        choices.append(lambda: nn.MaxPool2d(3, 2, padding=1))  # SAME pads 1 before only for odd sizes
    return choices[rng.integers(len(choices))]()


def _randomize_batchnorms(model: nn.Module, generator: torch.Generator) -> None:
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean.copy_(torch.randn(bn.num_features, generator=generator) * 0.2)
            bn.running_var.copy_(torch.rand(bn.num_features, generator=generator) + 0.5)
            bn.weight.copy_(torch.randn(bn.num_features, generator=generator))


@pytest.mark.parametrize("seed", range(24))
def test_random_architecture_exports_exactly(seed):
    rng = np.random.default_rng(seed)
    channels, size = int(rng.integers(1, 4)), int(rng.integers(6, 13))
    model = _random_model(rng, channels, size)
    init_weights_(model, seed)
    generator = torch.Generator().manual_seed(seed)
    _randomize_batchnorms(model, generator)
    model.eval()
    bo, bi = int(rng.choice(SUPPORTED_BO)), int(rng.choice(SUPPORTED_BI[1:]))
    structures = random_structures(model, bo, bi, prune=0.3, unify=0.4) if seed % 2 else {}
    structures = {name: s for name, s in structures.items() if s.op_type != "FULLY_CONNECTED"}  # NCHW flatten
    x = torch.randn(48, channels, size, size, generator=generator)
    q = quantize_model(model, structures, DataLoader(TensorDataset(x[:32]), batch_size=16))
    q.graph.validate()
    assert sum(q.graph.weight_of(op).blocks is not None for op in q.graph.ops if op.name in structures) == \
        len(structures)
    _assert_program_matches_reference(q, x[32:])
    q.program.fake_quant = False
    with torch.no_grad():
        assert torch.allclose(q.program(x), model(x), atol=1e-4, rtol=1e-4), model
