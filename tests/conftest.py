"""Shared fixtures: the MLPerf Tiny models and their imported IR graphs (imported once per session).

    def test_something(models_dir, imported_model):
        graph = imported_model("kws")          # "kws", "resnet", "ad01" or a .tflite name in models_dir
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

MODELS_DIR = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf-tiny"
MODEL_FILES = {
    "kws": "kws_ref_model.tflite",
    "resnet": "pretrainedResnet_quant.tflite",
    "ad01": "ad01_int8.tflite",
}


@lru_cache(maxsize=None)
def _import_model(name: str):
    from toolchain.importers import import_tflite

    return import_tflite(MODELS_DIR / MODEL_FILES.get(name, name))


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS_DIR


@pytest.fixture(scope="session")
def imported_model():
    """A function name -> Graph. Graphs are frozen, so sharing one import is safe; derive with `replace`."""
    return _import_model
