"""Constants and helpers of the target tests (a module of its own name: every test directory has a conftest)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from fc_graphs import fc_chain

from toolchain.harness.protocol import DeviceClient
from toolchain.ir import save
from toolchain.runners import runner_for

FAKE_MODEL = Path(__file__).parent / "fixtures" / "fake_model"
MPS_BOARDS = ("mps2-an385", "mps2-an386", "mps2-an500", "mps3-an547")  # qemu-system, icount
# Real SoCs QEMU emulates with their real peripherals: the STM32 and nRF drivers run here.
SOC_BOARDS = ("netduinoplus2", "stm32vldiscovery", "microbit", "mps2-an505")
QEMU_BOARDS = MPS_BOARDS + SOC_BOARDS
ALL_BOARDS = QEMU_BOARDS + ("aarch64-linux",)  # + qemu-user
# Real boards: built, linked and fitted here; run only with hardware (tests marked hil).
HARDWARE_BOARDS = ("nucleo-l4r5zi", "nucleo-f446re", "stm32f746g-disco", "nrf52840-dk", "nucleo-g0b1re")
MODEL_BOARDS = MPS_BOARDS + ("aarch64-linux",)  # room for the MLPerf Tiny models
FAKE_INPUT_BYTES = 16
SPIN_INSTRUCTIONS = 3_000_000


def crash_model(directory: Path) -> Path:
    """Model sources whose inference traps: fixtures/crash_model/model.c beside the fake model's model.h."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(FAKE_MODEL / "model.h", directory)
    shutil.copy(FAKE_MODEL.parent / "crash_model" / "model.c", directory)
    return directory


def require_tools(*extra: str) -> None:
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm", "aarch64-linux-gnu-gcc", "qemu-aarch64", "make", *extra):
        assert shutil.which(tool), f"{tool} is required for tests/target (run: make setup)"


def fake_reference(data: bytes) -> tuple[bytes, bytes]:
    """What the fake model computes: layer 0 and layer 1 (the output), see fixtures/fake_model/model.h."""
    x = np.frombuffer(data, np.int8).astype(np.int32)
    hidden = np.clip(2 * x + 3, -128, 127)
    out = np.clip(hidden[0::2] - hidden[1::2], -128, 127)
    return hidden.astype(np.int8).tobytes(), out.astype(np.int8).tobytes()


class Device:
    """A booted fake-model firmware under QEMU."""

    def __init__(self, build):
        self.runner = runner_for(build.board, build.elf)
        self.transport = self.runner.start()
        self.client = DeviceClient(self.transport, timeout=20)
        self.banner = self.client.wait_ready()

    def close(self):
        self.runner.stop()


def tiny_fc_model(path: Path) -> Path:
    """Two fully connected layers (64 -> 24 -> 10): small enough for 8 KiB of RAM."""
    save(fc_chain("tiny_fc", 64, (24, 10), seed=11), path)
    return path
