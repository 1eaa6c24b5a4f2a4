"""Budget recipes: the allocation meets its budget by the planner's own prediction, spends pruning where the
instructions are and unification where the bytes are, is deterministic, and runs through `munify compress`."""

import json
import re
import textwrap

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from toolchain.boards import load_board
from toolchain.cli import main
from toolchain.compress import budget
from toolchain.compress import compress
from toolchain.compress.layers import plan_layers
from toolchain.compress.project import block_counts
from toolchain.compress.recipe import RecipeError, parse_recipe
from toolchain.ir import load
from toolchain.plan.planner import make_plan
from toolchain.quantize import quantize_model

FEATURES = load_board("mps2-an386").features
GRID = budget.candidate_ratios(prune_steps=10, unify_steps=2)  # coarse: 30 plans of a tiny model

MODEL_MODULE = '''
from torch import nn

from toolchain.models import FlattenNHWC


def time_and_bytes():
    """conv "2": 64 positions x 288 weights (the instructions); linear "6": 4096 weights (the bytes)."""
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), FlattenNHWC(), nn.Linear(128, 32), nn.ReLU(), nn.Linear(32, 10))
'''


def time_and_bytes_model() -> nn.Module:
    namespace = {}
    exec(MODEL_MODULE, namespace)
    torch.manual_seed(0)
    return namespace["time_and_bytes"]().eval()


@pytest.fixture(scope="module")
def dense():
    model = time_and_bytes_model()
    x = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    calib = DataLoader(TensorDataset(x, torch.arange(32) % 10), batch_size=16)
    return model, quantize_model(model, {}, calib).graph


def recipe_with(**budget_table):
    return parse_recipe({"board": "mps2-an386", "blocks": {"shape": [1, 4]}, "budget": budget_table})


def allocate(dense, **targets):
    model, graph = dense
    layers = budget.budget_layers(model, recipe_with(**targets))
    full_targets = {"instructions": targets.get("instructions"), "weights_bytes": targets.get("weights_bytes")}
    return budget.allocate(graph, layers, full_targets, FEATURES, board="mps2-an386", grid=GRID)


def ratios(allocation):
    return {c.name: (c.chosen.prune, c.chosen.unify) for c in allocation.layers}


def planned_total(graph, allocation) -> float:
    """The plan's instructions for the graph with the allocated block structures, built independently."""
    for c in allocation.layers:
        weight, _ = budget.structured_weight(graph, c.name, c.bo, c.bi, c.chosen.prune, c.chosen.unify)
        graph = graph.with_tensor(weight)
    return sum(layer.cost for layer in make_plan(graph, FEATURES).layers)


def test_instruction_budget_is_met_by_the_planners_prediction_and_prunes_where_the_time_is(dense):
    allocation = allocate(dense, instructions=0.8)
    predicted = allocation.predicted()["instructions"]
    dense_total = allocation.dense["instructions"]
    assert dense_total == pytest.approx(sum(layer.cost for layer in make_plan(dense[1], FEATURES).layers))
    assert 0.7 * dense_total <= predicted <= 0.8 * dense_total  # met, and the slack spent (on a coarse grid)
    assert planned_total(dense[1], allocation) == pytest.approx(predicted)
    chosen = ratios(allocation)
    assert set(chosen) == {"2", "6", "8"}  # the first conv is excluded by default
    assert chosen["2"][0] > chosen["6"][0]  # the conv holds the instructions, the linear layer the bytes


def test_bytes_budget_compresses_where_the_bytes_are(dense):
    allocation = allocate(dense, weights_bytes=0.5)
    assert allocation.predicted()["weights_bytes"] <= 0.5 * allocation.dense["weights_bytes"]
    by_name = {c.name: c for c in allocation.layers}
    fraction = {name: c.chosen.weights_bytes / c.dense.weights_bytes for name, c in by_name.items()}
    assert fraction["6"] < fraction["2"]
    assert by_name["6"].chosen.unify > 0


def test_both_budgets_hold_together(dense):
    allocation = allocate(dense, instructions=0.85, weights_bytes=0.4)
    predicted = allocation.predicted()
    assert predicted["instructions"] <= 0.85 * allocation.dense["instructions"]
    assert predicted["weights_bytes"] <= 0.4 * allocation.dense["weights_bytes"]


def test_allocation_is_deterministic(dense):
    first = json.dumps(allocate(dense, instructions=0.8, weights_bytes=0.6).to_json(), sort_keys=True)
    assert json.dumps(allocate(dense, instructions=0.8, weights_bytes=0.6).to_json(), sort_keys=True) == first


def test_unreachable_budget_is_a_one_line_recipe_error(dense):
    with pytest.raises(RecipeError, match=re.escape("the [budget] cannot be met: instructions = 0.05 (at most ")) \
            as info:
        allocate(dense, instructions=0.05)
    assert "in layers it may not compress" in str(info.value) and "\n" not in str(info.value)


def test_resolved_recipe_compresses_the_chosen_ratios(dense):
    model, _ = dense
    recipe = recipe_with(instructions=0.8)
    allocation = allocate(dense, instructions=0.8)
    resolved = allocation.resolved_recipe(recipe)
    assert resolved.budget is None
    planned = {p.name: (p.prune, p.unify) for p in plan_layers(model, resolved)}
    assert planned == {name: r for name, r in ratios(allocation).items() if r != (0.0, 0.0)}
    assert parse_recipe(resolved.to_dict()) == resolved.replace(source="<recipe>")


def test_budget_recipe_round_trips_through_to_dict():
    recipe = recipe_with(instructions=0.5, optimize="speed")
    assert parse_recipe(recipe.to_dict()) == recipe
    assert "weights_bytes" not in recipe.to_dict()["budget"]


def test_budget_with_no_layer_to_compress_is_refused():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    recipe = parse_recipe({"board": "mps2-an386", "budget": {"instructions": 0.5},
                           "ratios": {"exclude_first": True, "exclude_last": True}})
    with pytest.raises(RecipeError, match=re.escape("the [budget] has no layer to compress")):
        budget.budget_layers(model, recipe)


def test_compress_cli_meets_an_instruction_budget(tmp_path, capsys):
    (tmp_path / "budget_models_for_tests.py").write_text(MODEL_MODULE)
    recipe = tmp_path / "budget.toml"
    recipe.write_text(textwrap.dedent("""
        model = "budget_models_for_tests:time_and_bytes"
        data = "digits"
        max_batches = 4
        board = "mps2-an386"
        [blocks]
        shape = [1, 4]
        [budget]
        instructions = 0.8
        [train]
        epochs = 1
        [admm]
        iterations = 1
        [retrain]
        epochs = 1
        [quantize]
        calib_batches = 2
    """))
    out, report = tmp_path / "budget.mun", tmp_path / "budget.json"
    assert main(["compress", "--recipe", str(recipe), "-o", str(out), "--json", str(report), "--quiet",
                 "--no-cache"]) == 0
    table = capsys.readouterr().out
    assert "budget on mps2-an386 (balanced)" in table and "ratios chosen" in table
    doc = json.loads(report.read_text())["budget"]
    assert doc["targets"] == {"instructions": 0.8, "weights_bytes": None}
    assert doc["predicted_fraction"]["instructions"] <= 0.8
    # ADMM picks which blocks from the trained weights, the allocation how many: the compressed model's plan
    # predicts nearly what the allocation did.
    final = sum(layer.cost for layer in make_plan(load(out), FEATURES).layers)
    assert doc["compressed"]["predicted"]["instructions"] == round(final)
    assert final == pytest.approx(doc["predicted"]["instructions"], rel=0.03)


def test_compress_api_resolves_a_budget_recipe(digits_loaders):
    train, test = digits_loaders
    recipe = {"board": "mps2-an386", "max_batches": 2, "blocks": {"shape": [1, 4]},
              "budget": {"instructions": 0.8}, "admm": {"iterations": 1}, "retrain": {"epochs": 1},
              "quantize": {"calib_batches": 2}}
    compressed = compress(time_and_bytes_model(), train, test, recipe)
    allocation = compressed.history["budget"]
    assert allocation["predicted_fraction"]["instructions"] <= 0.8
    assert compressed.recipe.budget is None  # the model was compressed with the resolved ratios
    for layer in allocation["layers"]:
        structure = compressed.structures.get(layer["name"])
        if layer["prune"] == layer["unify"] == 0:
            assert structure is None
            continue
        # every weight matrix of this model is a multiple of 4 wide: all its 1x4 blocks are full
        n_prune, n_unify = block_counts(structure.kinds.size, layer["prune"], layer["unify"])
        assert (structure.counts()["pruned"], structure.counts()["unified"]) == (n_prune, n_unify)
