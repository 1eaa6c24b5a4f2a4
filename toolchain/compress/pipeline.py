"""`munify compress`: a recipe from end to end.

data + model -> dense training (cached) -> dense int8 -> ADMM compression -> int8 export (.mun) -> report.
A [budget] recipe gets its per-layer ratios from the dense int8 model (toolchain.compress.budget) before ADMM.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import io
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .. import datasets, models
from ..fsutil import atomic_path
from ..ir import WEIGHTED_OPS, Graph
from ..summary import summarize
from .api import CompressedModel, compress
from .budget import allocate_for_recipe, budget_layers, predicted_layers
from .layers import plan_layers
from .recipe import Recipe, RecipeError, resolve_entry_point
from .train import evaluate, first_batches, is_main_rank, sgd, train_epochs

DEFAULT_CACHE = Path("munify-out/cache")


@dataclass
class Workload:
    """What a recipe trains on: the loaders, a deterministic calibration loader and a fresh model."""

    train: DataLoader
    test: DataLoader
    calib: DataLoader
    model: nn.Module
    cacheable: bool


@dataclass
class CompressReport:
    recipe: Recipe
    compressed: CompressedModel
    graph: Graph
    accuracy: dict[str, float]
    dense_graph: Graph
    seconds: float
    layers: list[dict[str, Any]] = field(default_factory=list)
    budget: dict[str, Any] | None = None  # the allocation of a [budget] recipe and the final prediction

    def to_json(self) -> dict[str, Any]:
        blocks = {"dense": 0, "unified": 0, "pruned": 0}
        for layer in self.layers:
            for kind in blocks:
                blocks[kind] += layer["blocks"][kind]
        return {
            "recipe": dict(self.recipe.to_dict(), path=self.recipe.source),
            "seed": self.recipe.seed,
            "accuracy": self.accuracy,
            "weights_bytes": {"dense_int8": summarize(self.dense_graph).weight_bytes,
                              "compressed": summarize(self.graph).weight_bytes},
            "blocks": blocks,
            "layers": self.layers,
            "admm": self.compressed.history.get("admm", []),
            "float_accuracy": self.compressed.history.get("accuracy", {}),
            "seconds": round(self.seconds, 1),
            **({"budget": self.budget} if self.budget is not None else {}),
        }


def load_workload(recipe: Recipe, rank: int = 0, world_size: int = 1) -> Workload:
    search_dir = Path(recipe.source).parent if recipe.source != "<recipe>" else None
    if ":" in recipe.data:
        train, test = _custom_data(recipe, search_dir)
        calib = first_batches(train, recipe.quantize.calib_batches)
        classes = lambda: _num_classes(train, test)  # noqa: E731 (only built-in models need it)
    else:
        split = datasets.builtin_split(recipe.data)
        train = datasets.train_loader(split, recipe.batch_size, recipe.seed, rank, world_size)
        test = datasets.test_loader(split, recipe.batch_size)
        n = recipe.quantize.calib_batches * recipe.batch_size
        calib = DataLoader(TensorDataset(split.x_train[:n], split.y_train[:n]), batch_size=recipe.batch_size)
        classes = lambda: split.num_classes  # noqa: E731
    if ":" in recipe.model:
        model = resolve_entry_point(recipe.model, "model", search_dir)()
        if not isinstance(model, nn.Module):
            raise RecipeError(f"model '{recipe.model}' returned {type(model).__name__}, not a torch nn.Module")
    else:
        x, _ = _first_batch(train, "training", recipe.data)
        model = models.builtin_model(recipe.model, tuple(x.shape[1:]), classes(), recipe.seed)
    check_loaders(model, train, test, recipe.data)
    return Workload(train, test, calib, model, cacheable=":" not in recipe.model + recipe.data)


def _custom_data(recipe: Recipe, search_dir: Path | None) -> tuple[DataLoader, DataLoader]:
    function = resolve_entry_point(recipe.data, "data", search_dir)
    params = inspect.signature(function).parameters
    kwargs = {k: v for k, v in (("batch_size", recipe.batch_size), ("seed", recipe.seed)) if k in params}
    result = function(**kwargs)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise RecipeError(f"data '{recipe.data}' must return (train_loader, test_loader), got "
                          f"{type(result).__name__}")
    return result


def _first_batch(loader, which: str, data: str) -> tuple[torch.Tensor, torch.Tensor]:
    for batch in loader:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise RecipeError(f"data '{data}': {which} batches must be (inputs, labels) pairs")
        return batch[0], batch[1]
    raise RecipeError(f"data '{data}': the {which} loader is empty")


def _num_classes(train, test) -> int:
    labels = torch.cat([y for loader in (train, test) for _, y in loader])
    return int(labels.max()) + 1


def check_loaders(model: nn.Module, train, test, data: str) -> None:
    """Refuse loaders whose batches do not fit the model: images [N, C, H, W] float, labels [N] int."""
    shapes = []
    for which, loader in (("training", train), ("test", test)):
        x, y = _first_batch(loader, which, data)
        if x.dim() != 4 or not x.is_floating_point():
            raise RecipeError(f"data '{data}': {which} inputs are {x.dtype}{list(x.shape)}; expected float images "
                              "[N, C, H, W] (reshape them in the loader)")
        if y.shape != (x.shape[0],) or y.is_floating_point():
            raise RecipeError(f"data '{data}': {which} labels are {y.dtype}{list(y.shape)}; expected int class "
                              f"indices [{x.shape[0]}]")
        shapes.append(tuple(x.shape[1:]))
    if shapes[0] != shapes[1]:
        raise RecipeError(f"data '{data}': training images are {list(shapes[0])} but test images {list(shapes[1])}")
    x, y = _first_batch(train, "training", data)
    try:
        with torch.no_grad():
            out = copy.deepcopy(model).eval()(x)
    except RuntimeError as exc:
        first_line = str(exc).splitlines()[0]
        raise RecipeError(f"data '{data}': the model cannot run on inputs of shape {list(x.shape)} "
                          f"({first_line}); make the data fit the model") from None
    if out.dim() != 2 or out.shape[1] <= int(y.max()):
        raise RecipeError(f"data '{data}': the model outputs {list(out.shape)} but labels go up to {int(y.max())}; "
                          "the model needs one output per class")


def dense_cache_key(recipe: Recipe) -> str:
    key = json.dumps({"model": recipe.model, "data": recipe.data, "seed": recipe.seed,
                      "batch_size": recipe.batch_size, "max_batches": recipe.max_batches,
                      "train": recipe.to_dict()["train"],
                      "threads": torch.get_num_threads()}, sort_keys=True)  # float results depend on it
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"dense-{recipe.model}-{recipe.data}-s{recipe.seed}-e{recipe.train.epochs}-{digest}.pt"


def train_dense(work: Workload, recipe: Recipe, cache_dir: Path | None, progress: bool) -> nn.Module:
    """The trained dense model, from the cache when this model + data + seed + schedule was trained before."""
    model = work.model
    cache = cache_dir / dense_cache_key(recipe) if cache_dir is not None and work.cacheable else None
    if cache is not None and cache.is_file():
        model.load_state_dict(torch.load(cache, weights_only=True))
        _say(progress, f"dense model: cached {cache}")
        return model.eval()
    t = recipe.train
    _say(progress, f"dense model: training {t.epochs} epochs")
    train_epochs(model, work.train, sgd(model.parameters(), t.lr, t.momentum), t.epochs,
                 max_batches=recipe.max_batches, desc="dense", progress=progress)
    if cache is not None and is_main_rank():
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        with atomic_path(cache) as tmp:
            tmp.write_bytes(buffer.getvalue())
    return model.eval()


def _say(progress: bool, message: str) -> None:
    if progress and is_main_rank():
        print(message, file=sys.stderr, flush=True)


def layer_rows(graph: Graph) -> list[dict[str, Any]]:
    """One row per weighted op of the exported int8 graph."""
    rows = []
    for op_summary, op in zip(summarize(graph).ops, graph.ops):
        if op.type not in WEIGHTED_OPS:
            continue
        weight = graph.weight_of(op)
        blocks = weight.blocks
        counts = blocks.counts() if blocks is not None else {"dense": 0, "unified": 0, "pruned": 0}
        rows.append({
            "name": op.name, "op_type": op.type, "weight_shape": list(weight.shape),
            "block_shape": [blocks.bo, blocks.bi] if blocks is not None else None,
            "blocks": counts, "dense_bytes": weight.nbytes, "stored_bytes": op_summary.weight_bytes,
            "macs": op_summary.macs, "multiplies": op_summary.macs_remaining,
        })
    return rows


def run_recipe(recipe: Recipe, out_path: Path, cache_dir: Path | None = DEFAULT_CACHE, progress: bool = False,
               rank: int = 0, world_size: int = 1) -> CompressReport:
    """Train (or load) the dense model, compress it, quantize it, write the .mun (rank 0 only), and report."""
    from ..quantize import quantize_model

    start = time.monotonic()
    work = load_workload(recipe, rank, world_size)
    plan_layers(work.model, recipe)  # refuse a bad recipe before any training
    layers_for_budget = budget_layers(work.model, recipe) if recipe.budget is not None else None
    dense = train_dense(work, recipe, cache_dir, progress)
    # Fresh loaders: compression sees the same batches whether or not the dense model came from the cache.
    work = load_workload(recipe, rank, world_size)
    accuracy = {"dense_float": evaluate(dense, work.test)}
    dense_q = quantize_model(dense, {}, work.calib)
    accuracy["dense_int8"] = dense_q.accuracy(work.test)
    _say(progress, f"dense: float {accuracy['dense_float']:.1%}, int8 {accuracy['dense_int8']:.1%}; compressing")
    allocation = None
    if layers_for_budget is not None:
        _say(progress, "budget: predicting every candidate ratio per layer with the planner")
        allocation = allocate_for_recipe(dense_q.graph, layers_for_budget, recipe)
        _say(progress, "budget: " + ", ".join(f"{c.name} prune {c.chosen.prune:g} unify {c.chosen.unify:g}"
                                              for c in allocation.layers))
    resolved = allocation.resolved_recipe(recipe) if allocation is not None else recipe
    compressed = compress(copy.deepcopy(dense), work.train, work.test, resolved, progress=progress)
    _say(progress, f"compressed float {compressed.history['accuracy']['retrained']:.1%}; quantizing")
    q = recipe.quantize
    quantized = compressed.quantize(work.calib, q.mode, work.train, q.qat_epochs if q.mode == "qat" else 0)
    accuracy["compressed_float"] = compressed.history["accuracy"]["retrained"]
    accuracy["compressed_int8"] = quantized.accuracy(work.test)
    budget_doc = None
    if allocation is not None:
        budget_doc = dict(allocation.to_json(), compressed=predicted_layers(allocation, quantized.graph, recipe))
    if rank == 0:
        quantized.export(out_path)
    return CompressReport(recipe, compressed, quantized.graph, accuracy, dense_q.graph,
                          time.monotonic() - start, layer_rows(quantized.graph), budget_doc)
