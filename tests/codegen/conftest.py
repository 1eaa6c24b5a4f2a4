"""Shared by the code generator tests: random graph helpers on the path, one host build cache per session."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def host_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("host-builds")
