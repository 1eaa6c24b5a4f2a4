"""Which layers a recipe compresses, with which block shape and ratios (the checks that need the model)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..models import FlattenNHWC
from .recipe import Recipe, RecipeError
from .structure import is_weighted, op_type_of, weight_to_matrix

SUPPORTED_LAYERS = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.MaxPool2d, nn.AvgPool2d,
                    nn.AdaptiveAvgPool2d, FlattenNHWC, nn.Flatten, nn.Dropout, nn.Identity)


@dataclass(frozen=True)
class LayerPlan:
    name: str
    op_type: str
    bo: int
    bi: int
    unify: float
    prune: float


def weighted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in model.named_modules() if is_weighted(m)]


def check_supported(model: nn.Module) -> None:
    """Refuse a model with layers the exporter cannot map, naming them all."""
    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children())]
    bad = [f"{name} ({type(m).__name__})" for name, m in leaves if not isinstance(m, SUPPORTED_LAYERS)]
    if bad:
        raise RecipeError(f"unsupported layer(s): {', '.join(bad)}; use only "
                          f"{', '.join(t.__name__ for t in SUPPORTED_LAYERS)}")
    for name, m in leaves:
        if isinstance(m, nn.AdaptiveAvgPool2d) and m.output_size not in (1, (1, 1)):
            raise RecipeError(f"layer {name}: AdaptiveAvgPool2d({m.output_size}) is not supported; use output 1")
    for name, m in leaves:
        if isinstance(m, nn.Conv2d):
            op_type_of(m)  # refuses grouped convs that are not depthwise


def plan_layers(model: nn.Module, recipe: Recipe) -> list[LayerPlan]:
    """The compressed layers in model order; layers with nothing to do are left out."""
    check_supported(model)
    layers = weighted_layers(model)
    names = [name for name, _ in layers]
    where = f"recipe {recipe.source}"
    for name in recipe.ratios.layers:
        if name not in names:
            raise RecipeError(f"{where}: ratios.layers names '{name}', which is no Conv2d/Linear of the model "
                              f"(layers: {', '.join(names)})")
    excluded = set()
    if recipe.ratios.exclude_first and names:
        excluded.add(names[0])
    if recipe.ratios.exclude_last and names:
        excluded.add(names[-1])
    plans = []
    for name, module in layers:
        override = recipe.ratios.layers.get(name)
        if name in excluded and override is None:
            continue
        unify = override.unify if override and override.unify is not None else recipe.ratios.unify
        prune = override.prune if override and override.prune is not None else recipe.ratios.prune
        bo, bi = override.shape if override and override.shape else recipe.blocks.shape
        rows, cols = weight_to_matrix(op_type_of(module), module.weight).shape
        if rows % bo or cols % bi:
            if recipe.blocks.edge == "error":
                raise RecipeError(f"{where}: block shape {bo}x{bi} does not divide layer '{name}' ({rows}x{cols} "
                                  "weight matrix); set blocks.edge = \"dense\" or pick a shape per layer")
            if recipe.blocks.edge == "skip":
                continue
        if rows < bo or cols < bi or (unify == 0 and prune == 0):
            continue
        plans.append(LayerPlan(name, op_type_of(module), bo, bi, unify, prune))
    return plans
