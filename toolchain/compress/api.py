"""`compress(model, train_loader, val_loader, recipe) -> CompressedModel`: the whole torch-side pipeline.

  1. select blocks and run ADMM (recipe.admm.iterations; 0 = one-shot projection),
  2. project hard onto the final selection and re-estimate BatchNorm statistics,
  3. retrain with the structure fixed (unified magnitudes learnable, pruned blocks zero).
A [budget] recipe first gets its per-layer ratios (toolchain.compress.budget, calibrated on the first
`quantize.calib_batches` training batches); the allocation lands in `history["budget"]`.
The model passed in should already be trained (dense); it is modified in place and returned in eval mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import DataLoader

from ..errors import MunifyError
from .admm import Admm
from .budget import resolve_budget
from .layers import plan_layers
from .recipe import Recipe, as_recipe
from .retrain import retrain
from .structure import LayerStructure, enforce_structure_
from .train import evaluate, first_batches, reestimate_batchnorm


@dataclass
class CompressedModel:
    model: nn.Module
    structures: dict[str, LayerStructure]
    recipe: Recipe
    history: dict[str, Any] = field(default_factory=dict)
    train_loader: DataLoader | None = field(default=None, repr=False)

    def quantize(self, calib_loader: DataLoader, mode: str = "ptq", train_loader: DataLoader | None = None,
                 epochs: int = 0):
        """int8 model (toolchain.quantize.QuantizedModel) keeping this block structure exactly."""
        from ..quantize import quantize_model

        return quantize_model(self.model, self.structures, calib_loader, mode=mode, train_loader=train_loader,
                              epochs=epochs)

    def export(self, path: str | Path, calib_loader: DataLoader | None = None,
               train_loader: DataLoader | None = None):
        """Quantize with the recipe's mode and write the IR (.mun) to `path`; returns the quantized model.

        Calibration defaults to the first `quantize.calib_batches` batches of the loader compress() trained on,
        QAT to that loader itself.
        """
        q = self.recipe.quantize
        train_loader = train_loader if train_loader is not None else self.train_loader
        if calib_loader is None:
            if train_loader is None:
                raise MunifyError("export needs calibration data; pass calib_loader")
            calib_loader = first_batches(train_loader, q.calib_batches)
        quantized = self.quantize(calib_loader, q.mode, train_loader, q.qat_epochs if q.mode == "qat" else 0)
        quantized.export(path)
        return quantized

    def block_counts(self) -> dict[str, int]:
        totals = {"dense": 0, "unified": 0, "pruned": 0}
        for s in self.structures.values():
            for kind, n in s.counts().items():
                totals[kind] += n
        return totals


def compress(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader, recipe,
             progress: bool = False) -> CompressedModel:
    recipe = as_recipe(recipe)
    history: dict[str, Any] = {}
    if recipe.budget is not None:
        allocation = resolve_budget(model, first_batches(train_loader, recipe.quantize.calib_batches), recipe)
        history["budget"] = allocation.to_json()
        recipe = allocation.resolved_recipe(recipe)
    plans = plan_layers(model, recipe)
    max_batches = recipe.max_batches
    history["accuracy"] = {"dense": evaluate(model, val_loader)}

    admm = Admm(model, plans, recipe.admm, recipe.ratios.scope)
    history["admm"] = [it.to_dict() for it in admm.run(train_loader, max_batches, progress)]

    structures = admm.final_structures()
    enforce_structure_(model, structures)
    reestimate_batchnorm(model, train_loader, max_batches)
    history["accuracy"]["projected"] = evaluate(model, val_loader)

    retrain(model, structures, train_loader, recipe.retrain, max_batches, progress)
    history["accuracy"]["retrained"] = evaluate(model, val_loader)
    model.eval()
    return CompressedModel(model, structures, recipe, history, train_loader)
