"""Code generation: a plan rendered into plain C (model.h, model.c, weights.h, weights.c, one file per layer)."""

from __future__ import annotations

from pathlib import Path

from ..ir.graph import Graph
from ..plan import Plan, make_plan
from .render import render, write


def generate(graph: Graph, out_dir: str | Path, features: frozenset[str] = frozenset(),
             optimize: str = "balanced", cpu: str | None = None) -> Plan:
    """Plan `graph` for a board with `features` and `cpu` (its cost tables) and write its C sources into
    `out_dir`. Deterministic."""
    plan = make_plan(graph, frozenset(features), optimize, cpu=cpu)
    write(plan, out_dir)
    return plan


__all__ = ["generate", "render", "write"]
