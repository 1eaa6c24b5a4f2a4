"""Shared by the code generator tests: one host build cache per session (the helpers in this folder are on
pytest's pythonpath, see pyproject.toml)."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def host_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("host-builds")
