"""End to end on the built-in MNIST split: PTQ and QAT of a quickly trained CNN, dense and structured.

The exported IR, run by the integer reference, must agree with the torch fake-quant model: code for code with
the integer-exact evaluation, and on >= 99.5% of the test digits with the float straight-through simulation.
"""

from __future__ import annotations

import copy

import numpy as np
from torch.utils.data import DataLoader, TensorDataset

from toolchain.compress.project import is_feasible
from toolchain.compress.structure import torch_weight_matrix
from toolchain.ir import weight_matrix
from toolchain.quantize import quantize_model

from quant_helpers import float_accuracy, random_structures


def _agreements(q, loader) -> tuple[float, float]:
    return q.agreement(loader), q.agreement(loader, exact=False)


def test_ptq_agrees_with_the_reference_on_mnist(trained_cnn, mnist_loaders):
    _, calib, test = mnist_loaders
    q = quantize_model(trained_cnn, {}, calib)
    exact, straight_through = _agreements(q, test)
    assert exact == 1.0
    assert straight_through >= 0.995
    float_acc, int8_acc = float_accuracy(trained_cnn, test), q.accuracy(test)
    assert float_acc > 0.85
    assert abs(int8_acc - float_acc) <= 0.02


def test_qat_keeps_the_structure_exact_and_recovers_accuracy(trained_cnn, mnist, mnist_loaders):
    _, calib, test = mnist_loaders
    model = copy.deepcopy(trained_cnn)
    structures = random_structures(model, bo=2, bi=8, prune=0.4, unify=0.4)
    train = DataLoader(TensorDataset(mnist.x_train[:2000], mnist.y_train[:2000]), batch_size=64)
    ptq = quantize_model(model, structures, calib)
    qat = quantize_model(model, structures, calib, mode="qat", train_loader=train, epochs=1, lr=1e-3)
    for layer, structure in structures.items():
        trained = torch_weight_matrix(qat.program.model.get_submodule(layer))
        assert is_feasible(trained, structure.kinds, structure.bo, structure.bi), layer  # projected every step
        op = next(op for op in qat.graph.ops if op.name == layer)
        weight = qat.graph.weight_of(op)
        weight.blocks.check(weight_matrix(op.type, weight.data), weight.name)
        assert np.sum(weight.blocks.kinds != structure.kinds) == qat.report.pruned_by_rounding.get(layer, 0)
    exact, straight_through = _agreements(qat, test)
    assert exact == 1.0 and straight_through >= 0.995
    assert qat.accuracy(test) > ptq.accuracy(test) + 0.02
    assert len(qat.history["qat_loss"]) == 1
