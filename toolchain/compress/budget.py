"""Budget recipes: the per-layer prune/unify ratios that meet an instruction and/or weight-bytes budget with the
least expected loss.

Everything is read off the dense int8 IR, the layers the recipe may compress and the board. For every layer
and every candidate pair (prune, unify) of `candidate_ratios()`:
  instructions  the planner's own prediction (`make_plan(...).layers[i].cost`, the kernel the code generator
                picks for that layer on the board) with the blocks selected at those ratios
  weight bytes  the exact stored bytes of that block structure (`BlockStructure.stored_bytes`), as the compress
                report counts them
  loss proxy    ||W - P(W)||^2 / ||W||^2 over the layer's dequantized (BatchNorm-folded) weights, P the
                projection at those ratios with the block selection of ADMM's Z-step (`project.select_kinds`):
                0 for a dense layer, 1 for a fully pruned one, so layers of any size weigh the same
The allocation picks one candidate per layer: the least total loss proxy whose predicted totals (the layers it
may not compress included, dense) meet every budget. It relaxes the budgets into prices (a Lagrangian: each
layer then picks min loss + price * resources on its own), bisects the price until the budgets hold, and
finally spends what is left of the budget greedily on the change that lowers the loss most. Pruning lowers
both resources and unification mostly bytes, so the instruction price buys pruning where a layer's time is
and the bytes price buys unification where its bytes are. Every step is deterministic (ties go to the
candidate listed first).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import torch

from ..errors import MunifyError
from ..ir import WEIGHTED_OPS, BlockStructure, Graph, matrix_to_weight, weight_matrix
from ..plan.planner import make_plan
from ..summary import stored_weight_bytes
from .layers import LayerPlan, plan_layers
from .project import project_fixed, select_kinds
from .recipe import LayerOverride, Recipe, RecipeError

PRUNE_STEPS = 20  # prune in 0, 1/20, ..., 19/20 (a whole layer is never pruned away)
UNIFY_STEPS = 5  # unify in 0, 1/5, ..., 1 - prune (one make_plan per pair: 65 take 8 s on the MNIST CNN)
PRICE_RANGE = (1e-6, 1e6)  # loss proxy per budget-sized unit of a resource
BISECTION_STEPS = 60
BOTH_BUDGETS_MIXES = 11  # with both budgets: instruction shares 0, 0.1, ..., 1 of the price


@dataclass(frozen=True)
class Candidate:
    """One layer at one pair of ratios, with what the budget counts."""

    prune: float
    unify: float
    instructions: float
    weights_bytes: int
    loss: float


@dataclass(frozen=True)
class LayerChoice:
    name: str
    bo: int
    bi: int
    dense: Candidate
    chosen: Candidate


@dataclass
class Allocation:
    board: str | None
    optimize: str
    targets: dict[str, float | None]  # fractions of dense, as the recipe asked
    dense: dict[str, float]  # whole-model totals of the dense int8 model
    fixed: dict[str, float]  # the part of those totals in layers the budget may not compress
    layers: list[LayerChoice]

    def predicted(self) -> dict[str, float]:
        return {key: self.fixed[key] + sum(_resource(c.chosen, key) for c in self.layers) for key in RESOURCES}

    def resolved_recipe(self, recipe: Recipe) -> Recipe:
        """`recipe` with the chosen ratios as per-layer overrides and no [budget]: compressing it is compressing
        the budget recipe."""
        overrides = {c.name: LayerOverride(c.chosen.unify, c.chosen.prune, _shape_override(recipe, c.name))
                     for c in self.layers if c.chosen.prune or c.chosen.unify}
        ratios = dataclasses.replace(recipe.ratios, unify=0.0, prune=0.0, scope="layer", layers=overrides)
        return recipe.replace(ratios=ratios, budget=None)

    def to_json(self) -> dict[str, Any]:
        predicted = self.predicted()
        return {
            "board": self.board, "optimize": self.optimize, "targets": self.targets,
            "dense": {k: _number(v) for k, v in self.dense.items()},
            "predicted": {k: _number(v) for k, v in predicted.items()},
            "predicted_fraction": {k: round(predicted[k] / self.dense[k], 4) if self.dense[k] else None
                                   for k in RESOURCES},
            "loss_proxy": round(sum(c.chosen.loss for c in self.layers), 6),
            "layers": [{"name": c.name, "block_shape": [c.bo, c.bi], "prune": c.chosen.prune,
                        "unify": c.chosen.unify, "loss_proxy": round(c.chosen.loss, 6),
                        "instructions": _number(c.chosen.instructions),
                        "dense_instructions": _number(c.dense.instructions),
                        "weights_bytes": c.chosen.weights_bytes, "dense_weights_bytes": c.dense.weights_bytes}
                       for c in self.layers],
        }


RESOURCES = ("instructions", "weights_bytes")


def _resource(candidate: Candidate, key: str) -> float:
    return candidate.instructions if key == "instructions" else candidate.weights_bytes


def _number(value: float) -> int:
    return int(round(value))


def _shape_override(recipe: Recipe, name: str) -> tuple[int, int] | None:
    override = recipe.ratios.layers.get(name)
    return override.shape if override is not None else None


def budget_layers(model, recipe: Recipe) -> list[LayerPlan]:
    """The layers a budget recipe may compress, with their block shapes: those `plan_layers` compresses when
    the ratios are not zero (exclusions, per-layer shapes and the edge policy as the recipe says)."""
    anything = dataclasses.replace(recipe.ratios, prune=1.0, unify=0.0, scope="layer")
    layers = plan_layers(model, recipe.replace(ratios=anything, budget=None))
    if not layers:
        raise RecipeError(f"recipe {recipe.source}: the [budget] has no layer to compress (every Conv2d/Linear "
                          "is excluded or too small for the block shape); set ratios.exclude_first = false or "
                          "pick a smaller block shape")
    return layers


def candidate_ratios(prune_steps: int = PRUNE_STEPS, unify_steps: int = UNIFY_STEPS) -> list[tuple[float, float]]:
    """(prune, unify) pairs on the grid, dense first."""
    return [(p / prune_steps, u / unify_steps) for p in range(prune_steps) for u in range(unify_steps + 1)
            if p * unify_steps + u * prune_steps <= prune_steps * unify_steps]


def _row_scales(op_type: str, weight) -> np.ndarray:
    rows = weight_matrix(op_type, weight.data).shape[0]
    scale = weight.quant.scale.astype(np.float64)
    return np.broadcast_to(scale, (rows,)).copy() if len(scale) == 1 else scale


def structured_weight(graph: Graph, op_name: str, bo: int, bi: int, prune: float, unify: float):
    """(the op's weight tensor with the blocks selected at these ratios, the loss proxy of that projection).

    Weights are projected in real units (per-channel scales) and requantized with the same scales, as the
    compressed model's export keeps them."""
    op = next((o for o in graph.ops if o.name == op_name), None)
    if op is None:
        raise MunifyError(f"layer '{op_name}' is no op of the int8 model '{graph.name}'; the budget needs the "
                          "int8 export of the same model")
    weight = graph.weight_of(op)
    scales = _row_scales(op.type, weight)[:, None]
    real = torch.from_numpy(weight_matrix(op.type, weight.data).astype(np.float64) * scales)
    kinds = select_kinds(real, bo, bi, prune, unify)
    projected = project_fixed(real, kinds, bo, bi).numpy()
    loss = float(np.sum((real.numpy() - projected) ** 2) / max(float(np.sum(real.numpy() ** 2)), 1e-30))
    codes = np.clip(np.sign(projected) * np.floor(np.abs(projected) / scales + 0.5), -127, 127).astype(np.int8)
    blocks = BlockStructure.from_matrix(codes, kinds, bo, bi)
    return weight.replace(data=matrix_to_weight(op.type, codes, weight.shape), blocks=blocks), loss


def predicted_instructions(graph: Graph, features: frozenset[str], optimize: str,
                           cpu: str | None = None) -> dict[str, float]:
    """The planner's predicted instructions per op (name -> LayerPlan.cost) with the cost tables of `cpu`."""
    return {layer.name: layer.cost for layer in make_plan(graph, features, optimize, cpu=cpu).layers}


def _graph_at(graph: Graph, layers: list[LayerPlan], prune: float, unify: float) -> tuple[Graph, dict[str, Any]]:
    """`graph` with every budget layer at these ratios; per layer its stored bytes and loss proxy."""
    facts = {}
    for layer in layers:
        weight, loss = structured_weight(graph, layer.name, layer.bo, layer.bi, prune, unify)
        graph = graph.with_tensor(weight)
        facts[layer.name] = (stored_weight_bytes(weight), loss)
    return graph, facts


def layer_candidates(graph: Graph, layers: list[LayerPlan], features: frozenset[str] | None, optimize: str,
                     grid: list[tuple[float, float]], cpu: str | None = None) -> dict[str, list[Candidate]]:
    """Every candidate of every budget layer; instructions only when `features` is given (else 0)."""
    table: dict[str, list[Candidate]] = {layer.name: [] for layer in layers}
    for prune, unify in grid:
        candidate_graph, facts = _graph_at(graph, layers, prune, unify)
        costs = predicted_instructions(candidate_graph, features, optimize, cpu) if features is not None else {}
        for layer in layers:
            weights_bytes, loss = facts[layer.name]
            table[layer.name].append(Candidate(prune, unify, costs.get(layer.name, 0.0), weights_bytes, loss))
    return table


def dense_totals(graph: Graph, features: frozenset[str] | None, optimize: str,
                 cpu: str | None = None) -> dict[str, dict[str, float]]:
    """Per op of the dense graph: predicted instructions (0 without features) and stored weight bytes."""
    costs = predicted_instructions(graph, features, optimize, cpu) if features is not None else {}
    return {op.name: {"instructions": costs.get(op.name, 0.0),
                      "weights_bytes": stored_weight_bytes(graph.weight_of(op)) if op.type in WEIGHTED_OPS else 0}
            for op in graph.ops}


def allocate(graph: Graph, layers: list[LayerPlan], targets: dict[str, float | None],
             features: frozenset[str] | None, optimize: str = "balanced", board: str | None = None,
             grid: list[tuple[float, float]] | None = None, cpu: str | None = None) -> Allocation:
    """The least-loss-proxy ratios per layer (from `grid`, default `candidate_ratios()`) whose predicted totals
    meet `targets` (fractions of dense; None: no budget on that resource); instructions with the cost tables of
    `cpu` (the board's)."""
    per_op = dense_totals(graph, features, optimize, cpu)
    dense = {key: sum(op[key] for op in per_op.values()) for key in RESOURCES}
    names = {layer.name for layer in layers}
    fixed = {key: sum(v[key] for name, v in per_op.items() if name not in names) for key in RESOURCES}
    table = layer_candidates(graph, layers, features, optimize, grid or candidate_ratios(), cpu)
    limits = {key: targets[key] * dense[key] for key in RESOURCES if targets.get(key) is not None}
    choice = _cheapest_loss(list(table.values()), fixed, limits)
    if choice is None:
        raise RecipeError(_unreachable(table, fixed, dense, targets, board))
    choice = _spend_slack(list(table.values()), choice, fixed, limits)
    return Allocation(board, optimize, dict(targets), dense, fixed,
                      [LayerChoice(layer.name, layer.bo, layer.bi, table[layer.name][0], table[layer.name][i])
                       for layer, i in zip(layers, choice)])


def _unreachable(table, fixed, dense, targets, board) -> str:
    smallest = {key: fixed[key] + sum(min(_resource(c, key) for c in options) for options in table.values())
                for key in RESOURCES}
    missed = [f"{key} = {targets[key]:g} (at most {smallest[key] / dense[key]:.3f} of dense is reachable"
              f"{' on ' + board if key == 'instructions' and board else ''}, "
              f"{fixed[key] / dense[key]:.3f} in layers it may not compress)"
              for key in RESOURCES if targets.get(key) is not None and smallest[key] > targets[key] * dense[key]]
    return (f"the [budget] cannot be met: {'; '.join(missed) or 'not both budgets at once'}; raise the budget or "
            "let more layers be compressed (ratios.exclude_first = false, smaller blocks)")


def _totals(tables: list[list[Candidate]], choice: Iterable[int], fixed: dict[str, float]) -> dict[str, float]:
    chosen = [options[i] for options, i in zip(tables, choice)]
    return {key: fixed[key] + sum(_resource(c, key) for c in chosen) for key in RESOURCES}


def _meets(totals: dict[str, float], limits: dict[str, float]) -> bool:
    return all(totals[key] <= limit for key, limit in limits.items())


def _loss(tables: list[list[Candidate]], choice: Iterable[int]) -> float:
    return sum(options[i].loss for options, i in zip(tables, choice))


def _priced_choice(tables, weights: dict[str, float], price: float) -> list[int]:
    """Per layer the candidate of least loss + price * sum(weight * resource) (the first one on ties)."""
    choice = []
    for options in tables:
        scores = [c.loss + price * sum(w * _resource(c, key) for key, w in weights.items()) for c in options]
        choice.append(int(np.argmin(scores)))
    return choice


def _cheapest_loss(tables, fixed, limits) -> list[int] | None:
    """The Lagrangian solution: for each mix of the budgets, the lowest price that meets them; the best mix."""
    mixes = [1.0] if len(limits) < 2 else [i / (BOTH_BUDGETS_MIXES - 1) for i in range(BOTH_BUDGETS_MIXES)]
    keys = sorted(limits)
    best = None
    for mix in mixes:
        shares = dict(zip(keys, (mix, 1.0 - mix))) if len(keys) == 2 else {key: 1.0 for key in keys}
        weights = {key: share / limits[key] for key, share in shares.items() if limits[key] > 0}
        choice = _lowest_meeting_price(tables, fixed, limits, weights)
        if choice is not None and (best is None or _loss(tables, choice) < _loss(tables, best)):
            best = choice
    return best


def _lowest_meeting_price(tables, fixed, limits, weights) -> list[int] | None:
    low, high = (math.log(p) for p in PRICE_RANGE)
    if not _meets(_totals(tables, _priced_choice(tables, weights, math.exp(high)), fixed), limits):
        return None
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        if _meets(_totals(tables, _priced_choice(tables, weights, math.exp(middle)), fixed), limits):
            high = middle
        else:
            low = middle
    return _priced_choice(tables, weights, math.exp(high))


def _spend_slack(tables, choice: list[int], fixed, limits) -> list[int]:
    """Repeatedly make the one-layer change that lowers the loss proxy most and still meets the budgets."""
    choice = list(choice)
    while True:
        best = None
        for layer, options in enumerate(tables):
            for i, candidate in enumerate(options):
                gain = options[choice[layer]].loss - candidate.loss
                if gain <= 0 or (best is not None and gain <= best[0]):
                    continue
                trial = choice[:layer] + [i] + choice[layer + 1:]
                if _meets(_totals(tables, trial, fixed), limits):
                    best = (gain, layer, i)
        if best is None:
            return choice
        choice[best[1]] = best[2]


def allocate_for_recipe(graph: Graph, layers: list[LayerPlan], recipe: Recipe) -> Allocation:
    """`allocate` with the recipe's [budget] and board (instructions are predicted only on a board)."""
    from ..boards import load_board

    board = load_board(recipe.board) if recipe.board is not None else None
    targets = {"instructions": recipe.budget.instructions, "weights_bytes": recipe.budget.weights_bytes}
    return allocate(graph, layers, targets, board.features if board else None, recipe.budget.optimize,
                    recipe.board, cpu=board.cpu if board else None)


def resolve_budget(model, calib_loader, recipe: Recipe) -> Allocation:
    """The allocation of a budget recipe for a trained dense torch `model` (quantized here to plan it)."""
    from ..quantize import quantize_model

    layers = budget_layers(model, recipe)
    return allocate_for_recipe(quantize_model(model, {}, calib_loader).graph, layers, recipe)


def predicted_layers(allocation: Allocation, graph: Graph, recipe: Recipe) -> dict[str, Any]:
    """The planner's prediction for the compressed int8 `graph` (the structure ADMM chose, whose block counts
    the allocation fixed) beside the allocation's: per budget layer and in total."""
    from ..boards import load_board
    from ..summary import summarize

    board = load_board(recipe.board) if recipe.board is not None else None
    costs = predicted_instructions(graph, board.features, allocation.optimize, board.cpu) if board else {}
    total = {"instructions": _number(sum(costs.values())), "weights_bytes": summarize(graph).weight_bytes}
    return {"predicted": total,
            "predicted_fraction": {k: round(total[k] / allocation.dense[k], 4) if allocation.dense[k] else None
                                   for k in RESOURCES},
            "layers": {c.name: _number(costs.get(c.name, 0.0)) for c in allocation.layers}}
