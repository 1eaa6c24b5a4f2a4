"""Run generated C natively: compile it with the host gcc beside firmware/host/main.c, feed inputs on stdin.

Builds are cached by content: the same sources and flags reuse the same executable.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codegen import render
from ..errors import MunifyError, SetupError
from ..fsutil import atomic_path, atomic_write_text
from ..ir.graph import Graph
from ..plan import Plan, make_plan
from ..resources import firmware_dir
from ..process import format_command, log, run_logged

DEFAULT_CFLAGS = ("-std=c99", "-O1", "-Wall", "-Wextra", "-Werror")
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


def compiler(cc: str = "gcc") -> str:
    path = shutil.which(cc)
    if path is None:
        raise SetupError(f"host C compiler '{cc}' not found; install gcc (sudo apt-get install gcc)")
    return path


def build(plan: Plan, cache_dir: str | Path, cflags: tuple[str, ...] = DEFAULT_CFLAGS, cc: str = "gcc") -> HostModel:
    """Render `plan`, compile it with the host main; reuse a cached executable built from identical sources."""
    files = render(plan)
    files["main.c"] = (firmware_dir() / "host" / "main.c").read_text()
    digest = hashlib.sha256(repr((cc, tuple(cflags))).encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    build_dir = Path(cache_dir) / digest.hexdigest()[:20]
    executable = build_dir / "model_host"
    if executable.is_file():
        return HostModel(plan, executable)
    src_dir = build_dir / "src"
    for name, text in files.items():
        atomic_write_text(src_dir / name, text)
    sources = sorted(str(src_dir / name) for name in files if name.endswith(".c"))
    with atomic_path(executable) as tmp:
        proc = run_logged([compiler(cc), *cflags, "-I", str(src_dir), *sources, "-o", str(tmp)])
        if proc.returncode != 0:
            raise MunifyError(f"host compile of the generated C failed:\n{proc.stderr.strip()[:4000]}")
    executable.chmod(0o755)
    return HostModel(plan, executable)


def build_graph(graph: Graph, cache_dir: str | Path, features: frozenset[str] = frozenset(),
                optimize: str = "balanced", **kwargs) -> HostModel:
    return build(make_plan(graph, frozenset(features), optimize), cache_dir, **kwargs)
