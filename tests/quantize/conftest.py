"""Fixtures of the quantization tests: the built-in MNIST split and a small CNN quickly trained on it."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from toolchain import datasets

from quant_helpers import one_torch_thread, small_cnn, train


@pytest.fixture(scope="session")
def mnist():
    return datasets.mnist()


@pytest.fixture(scope="session")
def mnist_loaders(mnist):
    generator = torch.Generator().manual_seed(0)
    train_loader = DataLoader(TensorDataset(mnist.x_train, mnist.y_train), batch_size=64, shuffle=True,
                              generator=generator)
    calib = DataLoader(TensorDataset(mnist.x_train[:256], mnist.y_train[:256]), batch_size=128)
    test = DataLoader(TensorDataset(mnist.x_test, mnist.y_test), batch_size=500)
    return train_loader, calib, test


@pytest.fixture(scope="session")
def trained_cnn(mnist_loaders):
    """small_cnn after one epoch on the 4,000 MNIST training digits (~2 s); tests must copy before changing it."""
    return train(small_cnn(), mnist_loaders[0])



@pytest.fixture(autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield
