"""Compile generated C natively: the host gcc builds a plan's sources beside firmware/host/main.c into an
executable that runners/host.py runs.

Builds are cached by content: the same sources and flags reuse the same executable.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from .codegen import render
from .errors import MunifyError, SetupError
from .fsutil import atomic_path, atomic_write_text
from .ir.graph import Graph
from .plan import Plan, make_plan
from .process import run_logged
from .resources import firmware_dir
from .runners.host import HostModel

DEFAULT_CFLAGS = ("-std=c99", "-O1", "-Wall", "-Wextra", "-Werror")


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
