"""Calibration and quantization-aware fine-tuning of a QuantProgram."""

from __future__ import annotations

import itertools
from typing import Iterable

import torch
import torch.nn.functional as F

from ..compress.structure import enforce_structure_
from ..errors import MunifyError
from .program import QuantProgram


def batch_inputs(batch) -> torch.Tensor:
    """The input tensor of a loader batch: (x, y, ...) tuples/lists or a bare tensor."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


@torch.no_grad()
def calibrate(prog: QuantProgram, loader: Iterable, max_batches: int | None = None) -> int:
    """Record float min/max of every quantized value over the loader; returns the number of samples seen."""
    prog.eval()
    prog.fake_quant, prog.observe = False, True
    seen = 0
    for batch in itertools.islice(loader, max_batches):
        x = batch_inputs(batch)
        prog(x)
        seen += len(x)
    prog.observe = False
    if seen == 0:
        raise MunifyError("the calibration loader is empty; pass a few hundred representative inputs")
    return seen


def finetune(prog: QuantProgram, structures: dict, loader: Iterable, epochs: int, lr: float) -> list[float]:
    """QAT: fake-quant training (straight-through rounding) with activation ranges tracked by EMA.

    The model's own parameters train (conv/linear weights, biases, BatchNorm affine; BN statistics stay frozen,
    folded in every step). After each step the block structure is re-projected exactly on the unfolded
    weights, so the exported int8 weights keep it. Returns the mean loss of each epoch.
    """
    params = [p for p in prog.model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr)
    prog.train()
    prog.fake_quant, prog.observe = True, True
    losses = []
    for _ in range(epochs):
        total, batches = 0.0, 0
        for batch in loader:
            x, y = batch[0], batch[1]
            loss = F.cross_entropy(prog.logits(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            enforce_structure_(prog.model, structures)
            total, batches = total + float(loss.detach()), batches + 1
        losses.append(total / max(batches, 1))
    prog.eval()
    prog.observe = False
    return losses
