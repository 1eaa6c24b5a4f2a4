"""Shared fixtures of the target tests: the fake-model firmware built for each board, and booted devices.
QEMU and the cross compilers are required: their absence is an error, never a skip."""

from __future__ import annotations

import pytest

from target_support import ALL_BOARDS, FAKE_MODEL, Device, require_tools
from toolchain.boards import load_board
from toolchain.build import build_sources


@pytest.fixture(scope="session")
def fake_builds(tmp_path_factory):
    require_tools()
    root = tmp_path_factory.mktemp("fake-firmware")
    return {name: build_sources(FAKE_MODEL, load_board(name), root / name) for name in ALL_BOARDS}


@pytest.fixture
def boot(fake_builds):
    devices = []

    def start(board: str = "mps2-an386") -> Device:
        device = Device(fake_builds[board])
        devices.append(device)
        return device

    yield start
    for device in devices:
        device.close()


@pytest.fixture(scope="module")
def device(fake_builds):
    """One device shared by a module's protocol tests (each test sets up the state it needs)."""
    shared = Device(fake_builds["mps2-an386"])
    yield shared
    shared.close()
