"""The plan: everything the code generator needs, decided once, with every number precomputed.

A `Plan` is the only input of the Jinja2 templates. It prints as readable text (`format_plan`) and as JSON
(`plan_to_json`); both are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .report import format_plan

REGIONS = ("input", "output", "arena", "const")


@dataclass(frozen=True)
class ConstArray:
    """A const table in weights.c: packed weights, block index, folded bias, per-channel multipliers."""

    name: str  # C identifier
    ctype: str  # int8_t, uint8_t, int16_t, uint16_t, int32_t
    values: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.values.size * self.values.dtype.itemsize)

    @property
    def length(self) -> int:
        return int(self.values.size)


@dataclass(frozen=True)
class Buffer:
    """Where a tensor lives at run time: in the caller's input or output buffer, or at an arena offset."""

    tensor: str
    region: str
    offset: int
    size: int
    symbol: str = ""  # the const table of a constant input (region "const")

    @property
    def c_pointer(self) -> str:
        if self.region == "arena":
            return f"munify_arena + {self.offset}"
        if self.region == "const":
            return self.symbol
        return self.region


@dataclass(frozen=True)
class LayerPlan:
    index: int
    name: str  # the op name
    op_type: str
    variant: str  # registry key, also reported in munify_layer_kernels
    template: str  # kernel template, relative to codegen_templates/
    layout: str  # weight layout (docs/FORMAT.md) or "none"
    function: str  # C function name
    source: str  # generated C file name
    inputs: tuple[Buffer, ...]
    output: Buffer
    scratch: Buffer | None
    params: dict[str, Any]  # every number the kernel template uses
    arrays: dict[str, ConstArray]  # role ("weights", "bias", "mult", ...) -> const table
    macs: int
    cost: float  # the cost model's retired instructions (QEMU -icount) for the chosen variant
    alias: bool = False  # no code runs: a RESHAPE sharing its input's storage, or a pool its conv computed (pool_fused)
    layout_bytes: dict[str, int] = field(default_factory=dict)  # packed weight bytes in every built-in layout

    @property
    def weight_bytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())


@dataclass(frozen=True)
class Plan:
    model_name: str
    features: tuple[str, ...]
    optimize: str
    input: Buffer
    output: Buffer
    arena_size: int
    layers: tuple[LayerPlan, ...]
    buffers: dict[str, Buffer] = field(default_factory=dict)
    cpu: str | None = None  # the board's CPU the plan was made for (None: no board)
    cost_cpus: dict[str, str] = field(default_factory=dict)  # kernel family -> the CPU whose costs ranked it

    def __str__(self) -> str:
        return format_plan(self)

    @property
    def const_bytes(self) -> int:
        return sum(layer.weight_bytes for layer in self.layers)

    @property
    def arrays(self) -> list[ConstArray]:
        return [a for layer in self.layers for a in layer.arrays.values()]

    def layout_totals(self) -> dict[str, int]:
        """Packed weight bytes of the whole model if every matrix op used one layout."""
        totals: dict[str, int] = {}
        for layer in self.layers:
            for layout, size in layer.layout_bytes.items():
                totals[layout] = totals.get(layout, 0) + size
        return totals

    @property
    def sources(self) -> list[str]:
        return [layer.source for layer in self.layers if not layer.alias]
