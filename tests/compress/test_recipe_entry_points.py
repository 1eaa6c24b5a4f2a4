"""User entry points named in a recipe (model and data factories) that fail: a one-line RecipeError saying
which entry point failed, with its own error and the line of the user's code, before any training."""

from __future__ import annotations

import re
import textwrap

import pytest

from toolchain.cli import main

GOOD_DATA = '''
import torch
from torch.utils.data import DataLoader, TensorDataset


def images(batch_size, seed):
    x, y = torch.rand(32, 1, 8, 8), torch.arange(32) % 3
    return DataLoader(TensorDataset(x, y), batch_size=batch_size), DataLoader(TensorDataset(x, y), batch_size=8)
'''

ENTRY_MODULES = {
    "raises_in_model": ('''

def model():
    width = -4
    raise ValueError(f"width must be positive, got {width}")
''', "model", r"model entry point 'raises_in_model:model' raised ValueError: width must be positive, got -4 "
               r"\(at .*raises_in_model\.py:5, in model\)$"),
    "raises_in_data": ('''
def images(batch_size, seed):
    return {}["train"]
''', "data", r"data entry point 'raises_in_data:images' raised KeyError: 'train' "
             r"\(at .*raises_in_data\.py:3, in images\)$"),
    "syntax_error": ('''
def model(:
    pass
''', "model", r"model entry point 'syntax_error:model' has a syntax error: .* \(at .*syntax_error\.py:2\)$"),
    "fails_on_import": ('''
import os
CONFIG = os.environ["MUNIFY_TEST_NO_SUCH_VARIABLE"]
''', "model", r"model entry point 'fails_on_import:model' failed to import: KeyError: "
              r"'MUNIFY_TEST_NO_SUCH_VARIABLE' \(at .*fails_on_import\.py:3, in <module>\)$"),
    "missing_dependency": ('''
import munify_test_no_such_dependency
''', "model", r"failed to import: ModuleNotFoundError: No module named 'munify_test_no_such_dependency' "
              r"\(at .*missing_dependency\.py:2, in <module>\)$"),
}


@pytest.mark.parametrize("module", sorted(ENTRY_MODULES))
def test_a_failing_entry_point_is_one_line_naming_it(tmp_path, capsys, module):
    source, role, expected = ENTRY_MODULES[module]
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    (tmp_path / f"{module}_data.py").write_text(GOOD_DATA)
    data = f"{module}:images" if role == "data" else f"{module}_data:images"
    model = f"{module}:model" if role == "model" else "mnist_cnn"
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'model = "{model}"\ndata = "{data}"\n[ratios]\nprune = 0.5\n')
    out = tmp_path / "out.mun"
    assert main(["compress", "--recipe", str(recipe), "-o", str(out), "--quiet", "--no-cache"]) == 2
    err = capsys.readouterr().err.rstrip("\n")
    assert "\n" not in err and "Traceback" not in err
    assert re.search(expected, err.removeprefix("munify: error: ")), err
    assert not out.exists()
