import re
import textwrap
from pathlib import Path

import pytest
from torch import nn

from toolchain.cli import main
from toolchain.compress.layers import plan_layers
from toolchain.compress.pipeline import load_workload
from toolchain.compress.recipe import RecipeError, load_recipe, parse_recipe
from toolchain.errors import MunifyError
from toolchain.models import mnist_cnn

INVALID = sorted((Path(__file__).parent / "invalid_recipes").glob("*.toml"))

ENTRY_MODULE = '''
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def tiny_model():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


def sigmoid_model():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.Sigmoid(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


def _loader(x, y, batch_size):
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)


def images(batch_size, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(32, 1, 8, 8, generator=g)
    y = torch.arange(32) % 3
    return _loader(x, y, batch_size), _loader(x, y, batch_size)


def flat_images(batch_size):
    x = torch.rand(32, 64)
    return _loader(x, torch.arange(32) % 3, batch_size), _loader(x, torch.arange(32) % 3, batch_size)


def float_labels():
    x = torch.rand(32, 1, 8, 8)
    return _loader(x, torch.rand(32), 8), _loader(x, torch.rand(32), 8)


def wrong_size():
    x = torch.rand(32, 1, 12, 12)
    return _loader(x, torch.arange(32) % 3, 8), _loader(x, torch.arange(32) % 3, 8)
'''


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_recipe_is_refused_with_its_documented_error(path):
    expected = path.read_text().splitlines()[0].removeprefix("# error: ")
    with pytest.raises(RecipeError, match=re.escape(expected)) as info:
        load_recipe(path)
    assert "\n" not in str(info.value)


def test_example_recipes_load():
    examples = sorted((Path(__file__).parents[2] / "examples").glob("*.toml"))
    assert len(examples) >= 4
    for path in examples:
        recipe = load_recipe(path)
        assert recipe.budget is not None or recipe.ratios.unify + recipe.ratios.prune > 0, path
    budget = load_recipe(Path(__file__).parents[2] / "examples" / "mnist_cnn_budget.toml")
    assert (budget.board, budget.budget.instructions, budget.budget.weights_bytes) == ("mps2-an386", 0.5, None)


def write_recipe(tmp_path: Path, body: str) -> Path:
    (tmp_path / "munify_entries_for_tests.py").write_text(ENTRY_MODULE)
    path = tmp_path / "r.toml"
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.parametrize("body,expected", [
    ('model = "munify_entries_for_tests:sigmoid_model"\ndata = "munify_entries_for_tests:images"\n',
     "unsupported layer(s): 1 (Sigmoid)"),
    ('model = "no_such_module_xyz:f"\ndata = "munify_entries_for_tests:images"\n',
     "module 'no_such_module_xyz' not found"),
    ('model = "munify_entries_for_tests:nothing"\ndata = "munify_entries_for_tests:images"\n',
     "has no function 'nothing'"),
    ('model = "munify_entries_for_tests:tiny_model"\ndata = "munify_entries_for_tests:flat_images"\n',
     "expected float images [N, C, H, W]"),
    ('model = "munify_entries_for_tests:tiny_model"\ndata = "munify_entries_for_tests:float_labels"\n',
     "expected int class indices"),
    ('model = "munify_entries_for_tests:tiny_model"\ndata = "munify_entries_for_tests:wrong_size"\n',
     "the model cannot run on inputs of shape [8, 1, 12, 12]"),
    ('model = "resnet"\n', "unknown model 'resnet'"),
    ('data = "cifar"\n', "unknown dataset 'cifar'"),
])
def test_recipe_errors_that_need_the_model_or_data(tmp_path, body, expected):
    recipe = load_recipe(write_recipe(tmp_path, body))
    with pytest.raises(MunifyError, match=re.escape(expected)):
        plan_layers(load_workload(recipe).model, recipe)


def test_custom_entry_points_build_the_workload(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path, '''
        model = "munify_entries_for_tests:tiny_model"
        data = "munify_entries_for_tests:images"
        batch_size = 8
        [ratios]
        prune = 0.5
        exclude_first = false
    '''))
    work = load_workload(recipe)
    assert not work.cacheable and next(iter(work.train))[0].shape == (8, 1, 8, 8)
    assert [p.name for p in plan_layers(work.model, recipe)] == ["0", "3"]


def layer_recipe(**ratios_and_blocks):
    return parse_recipe({"ratios": {"prune": 0.5, **ratios_and_blocks.get("ratios", {})},
                         "blocks": ratios_and_blocks.get("blocks", {})})


def test_layer_planning_follows_exclusions_overrides_and_edge_policy():
    model = mnist_cnn()  # layers 0 (16x9), 4 (32x144), 8 (48x288), 13 (10x432)
    names = lambda recipe: [(p.name, p.bo, p.bi, p.prune, p.unify) for p in plan_layers(model, recipe)]  # noqa
    assert names(layer_recipe()) == [("4", 1, 8, 0.5, 0.0), ("8", 1, 8, 0.5, 0.0), ("13", 1, 8, 0.5, 0.0)]
    assert [n for n, *_ in names(layer_recipe(ratios={"exclude_first": False, "exclude_last": True}))] == \
        ["0", "4", "8"]
    overridden = layer_recipe(ratios={"layers": {"0": {"prune": 0.25, "shape": [2, 4]}, "13": {"unify": 0.5}}})
    assert names(overridden)[0] == ("0", 2, 4, 0.25, 0.0) and names(overridden)[-1] == ("13", 1, 8, 0.5, 0.5)
    four_rows = layer_recipe(blocks={"shape": [4, 16], "edge": "skip"})
    assert [n for n, *_ in names(four_rows)] == ["4", "8"]  # 10 rows of layer 13 are not a multiple of 4
    with pytest.raises(RecipeError, match=re.escape("block shape 4x16 does not divide layer '13' (10x432")):
        plan_layers(model, layer_recipe(blocks={"shape": [4, 16], "edge": "error"}))
    with pytest.raises(RecipeError, match="ratios.layers names '99', which is no Conv2d/Linear"):
        plan_layers(model, layer_recipe(ratios={"layers": {"99": {"prune": 0.1}}}))


def test_grouped_conv_is_refused():
    model = nn.Sequential(nn.Conv2d(4, 8, 3, groups=2))
    with pytest.raises(MunifyError, match=re.escape("Conv2d with groups=2")):
        plan_layers(model, layer_recipe())


def test_cli_error_exits_2_and_writes_nothing(tmp_path, capsys):
    recipe = write_recipe(tmp_path, '[ratios]\nunify = 0.9\nprune = 0.9\n')
    out = tmp_path / "out.mun"
    assert main(["compress", "--recipe", str(recipe), "-o", str(out), "--json", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("munify: error: recipe") and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["munify_entries_for_tests.py", "r.toml"]


def test_recipe_round_trips_through_to_dict():
    for path in sorted((Path(__file__).parents[2] / "examples").glob("*.toml")):
        recipe = load_recipe(path)
        assert parse_recipe(recipe.to_dict(), recipe.source) == recipe
