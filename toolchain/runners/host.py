"""Run a generated model compiled for the host (toolchain/host_build.py): inputs on stdin, outputs (and with
`--layers` every layer's output) on stdout."""

from __future__ import annotations

import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import MunifyError
from ..process import format_command, log

if TYPE_CHECKING:
    from ..plan import Plan

RECORD_HEADER = struct.Struct("<iI")


@dataclass(frozen=True)
class HostModel:
    """A generated model compiled for the host."""

    plan: Plan
    executable: Path

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Model outputs, one int8 array (flat) per input."""
        raw = self._execute(inputs, layers=False)
        size = self.plan.output.size
        return [np.frombuffer(raw[i * size:(i + 1) * size], np.int8).copy() for i in range(len(inputs))]

    def run_layers(self, inputs: list[np.ndarray]) -> list[dict[int, np.ndarray]]:
        """Per input: layer index -> that layer's output (flat int8), as the hook saw it."""
        raw = self._execute(inputs, layers=True)
        results, pos = [], 0
        for _ in inputs:
            layers: dict[int, np.ndarray] = {}
            for _layer in self.plan.layers:
                index, size = RECORD_HEADER.unpack_from(raw, pos)
                pos += RECORD_HEADER.size
                layers[index] = np.frombuffer(raw[pos:pos + size], np.int8).copy()
                pos += size
            pos += self.plan.output.size
            results.append(layers)
        return results

    def _execute(self, inputs: list[np.ndarray], layers: bool) -> bytes:
        payload = b"".join(_input_bytes(x, self.plan.input.size) for x in inputs)
        args = [str(self.executable)] + (["--layers"] if layers else [])
        log.info("run: %s < (%d inputs)", format_command(args), len(inputs))
        proc = subprocess.run(args, input=payload, capture_output=True, timeout=600)
        if proc.returncode != 0:
            raise MunifyError(f"host model exited with status {proc.returncode}: "
                              f"{proc.stderr.decode(errors='replace').strip()[:300]}")
        return proc.stdout


def _input_bytes(x: np.ndarray, size: int) -> bytes:
    x = np.asarray(x)
    if x.dtype != np.int8 or x.size != size:
        raise MunifyError(f"input is {x.dtype}{list(x.shape)}, the model takes {size} int8 values")
    return x.tobytes()
