"""Training loops shared by dense pre-training, the ADMM W-step and retraining.

Under torchrun (torch.distributed initialised) the model is wrapped in DistributedDataParallel so gradients
are all-reduced; everything else runs unchanged on every rank.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
from tqdm import tqdm

Penalty = Callable[[], torch.Tensor]


def distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def is_main_rank() -> bool:
    return not distributed() or dist.get_rank() == 0


def training_view(model: nn.Module) -> nn.Module:
    """The module to run forward passes through: DDP-wrapped when distributed, else the model itself."""
    return DistributedDataParallel(model) if distributed() else model


def _set_epoch(loader: DataLoader, epoch: int) -> None:
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)


def train_epochs(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer, epochs: int, *,
                 penalty: Penalty | None = None, max_batches: int = 0, desc: str = "train",
                 progress: bool = False, epoch_offset: int = 0, after_step: Callable[[], None] | None = None
                 ) -> float:
    """Run `epochs` epochs of SGD on cross-entropy (+ penalty); returns the mean loss of the last epoch."""
    view = training_view(model)
    loss_fn = nn.CrossEntropyLoss()
    mean_loss = 0.0
    for epoch in range(epochs):
        _set_epoch(loader, epoch_offset + epoch)
        model.train()
        total, count = 0.0, 0
        batches = _limited(loader, max_batches)
        bar = tqdm(batches, desc=f"{desc} {epoch + 1}/{epochs}", leave=False,
                   disable=not (progress and is_main_rank()), total=_num_batches(loader, max_batches))
        for x, y in bar:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(view(x), y)
            if penalty is not None:
                loss = loss + penalty()
            loss.backward()
            optimizer.step()
            if after_step is not None:
                after_step()
            total += float(loss.detach())
            count += 1
            bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
        mean_loss = total / max(count, 1)
    model.eval()
    sync_buffers(model)
    return mean_loss


def sync_buffers(model: nn.Module) -> None:
    """Under torchrun, give every rank rank 0's buffers (BatchNorm statistics).

    DDP broadcasts them before each forward, so after the last batch each rank holds its own update.
    """
    if distributed():
        for buffer in model.buffers():
            dist.broadcast(buffer, 0)


def _num_batches(loader: DataLoader, max_batches: int) -> int:
    return min(len(loader), max_batches) if max_batches else len(loader)


def _limited(loader: DataLoader, max_batches: int):
    for index, batch in enumerate(loader):
        if max_batches and index >= max_batches:
            return
        yield batch


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader) -> float:
    """Top-1 accuracy in [0, 1] (eval mode)."""
    model.eval()
    correct = total = 0
    for x, y in loader:
        correct += int((model(x).argmax(1) == y).sum())
        total += len(y)
    return correct / max(total, 1)


@torch.no_grad()
def reestimate_batchnorm(model: nn.Module, loader: DataLoader, max_batches: int = 0) -> None:
    """Recompute BatchNorm running statistics as exact averages over the data (after weights changed).

    Under torchrun the statistics of rank 0 are broadcast so every rank holds the same model.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches seen
    model.train()
    for x, _ in _limited(loader, max_batches):
        model(x)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()
    sync_buffers(model)


def sgd(params, lr: float, momentum: float) -> torch.optim.SGD:
    return torch.optim.SGD(params, lr=lr, momentum=momentum)


def first_batches(loader, n: int) -> DataLoader:
    """A fixed loader over the first n batches of `loader` (calibration must not change between uses)."""
    xs, ys = [], []
    for x, y in _limited(loader, n):
        xs.append(x)
        ys.append(y)
    return DataLoader(TensorDataset(torch.cat(xs), torch.cat(ys)), batch_size=len(xs[0]))
