"""Helpers of the quantization tests: a small CNN, a short training loop, structures from the compress stage."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from toolchain.compress.project import select_kinds
from toolchain.compress.structure import LayerStructure, enforce_structure_, op_type_of, torch_weight_matrix
from toolchain.models import FlattenNHWC, init_weights_


def small_cnn(seed: int = 0) -> nn.Sequential:
    """conv-BN-ReLU / maxpool / depthwise-BN-ReLU6 / pointwise-BN-ReLU / maxpool / FlattenNHWC / FC (28x28)."""
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
        nn.Conv2d(8, 16, 1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        FlattenNHWC(), nn.Dropout(0.1), nn.Linear(16 * 7 * 7, 10))
    init_weights_(model, seed)
    return model


@contextlib.contextmanager
def one_torch_thread():
    """Small convs run fastest on one thread; two threads per pytest worker oversubscribe a 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train(model: nn.Module, loader: DataLoader, epochs: int = 1, lr: float = 3e-3) -> nn.Module:
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.eval()  # dropout would draw from torch's global RNG; keep training deterministic without it
    with one_torch_thread():
        for _ in range(epochs):
            for x, y in loader:
                optimizer.zero_grad()
                F.cross_entropy(model(x), y).backward()
                optimizer.step()
    return model.eval()


def random_structures(model: nn.Module, bo: int, bi: int, prune: float = 0.3,
                      unify: float = 0.4) -> dict[str, LayerStructure]:
    """Structures chosen by the compress stage's block selection, enforced on the model in place.

    Depthwise convs with a channel multiplier are left dense: the compress stage does not structure them.
    """
    structures = {}
    for name, module in model.named_modules():
        multiplied = isinstance(module, nn.Conv2d) and module.groups > 1 and module.out_channels != module.groups
        if isinstance(module, (nn.Conv2d, nn.Linear)) and not multiplied:
            kinds = select_kinds(torch_weight_matrix(module).detach(), bo, bi, prune, unify)
            structures[name] = LayerStructure(name, op_type_of(module), bo, bi, kinds)
    enforce_structure_(model, structures)
    return structures


def float_accuracy(model: nn.Module, loader: DataLoader) -> float:
    with torch.no_grad():
        correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in loader)
    return correct / len(loader.dataset)
