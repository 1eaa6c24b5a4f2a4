"""Kernel registry: ranks the variants of every ISA package (`toolchain.plan.kernels`) for one layer.

`select_variant` picks, for one layer, the cheapest variant whose op type matches, whose ISA features the board
has, whose weight layout can hold the block kinds the weight uses and that is offered for the `optimize` mode.
`size` ranks candidates by (weight bytes, cost), `speed` by (cost, weight bytes) and `balanced` takes the
fastest candidate whose weights need at most BALANCED_BYTES_SLACK times the bytes of the smallest candidate,
or BALANCED_BYTES_ALLOWANCE more bytes, whichever is larger (compressed weights stay compressed; on small
layers a few hundred bytes of padding or tables do not decide; within that budget time wins). Costs come from
the board CPU's cost tables (`toolchain.plan.kernels.costs_for`). Ties go to the variant listed first (generic
dense kernels come first), so the choice is deterministic. Every matrix variant can run any block structure (the
dense layout stores the full matrix), so a block kernel is chosen only where the ranking prefers it.

Adding a variant: append a `KernelVariant` (`toolchain.plan.variant`, which also holds the kernel template
contract) to the ISA package it needs, e.g. `toolchain/plan/kernels/dsp/kernels.py`, and write its template
under `codegen_templates/kernels/<isa>/`.
"""

from __future__ import annotations

from typing import Callable

from ..errors import MunifyError
from .kernels import ALL_VARIANTS, BoardCosts
from .variant import OPTIMIZE_MODES, KernelVariant, LayerFacts

# A RESHAPE whose output can share its input's storage runs no code at all.
RESHAPE_ALIAS = "reshape_alias"


def all_variants() -> tuple[KernelVariant, ...]:
    return ALL_VARIANTS


def candidates(op_type: str, features: frozenset, kinds: frozenset, optimize: str,
               params: dict) -> list[KernelVariant]:
    return [v for v in all_variants()
            if v.op_type == op_type and v.features <= features and kinds <= v.block_kinds
            and optimize in v.optimize and v.applies(params)]


def forced_variant(op_type: str, name: str, facts: LayerFacts, features: frozenset) -> KernelVariant:
    """The variant called `name` for `op_type`, if the features and block kinds allow it."""
    for v in all_variants():
        if v.name == name and v.op_type == op_type:
            if not (v.features <= features and facts.kinds <= v.block_kinds):
                raise MunifyError(f"kernel {name} needs features {sorted(v.features)} and block kinds "
                                  f"{sorted(k.name.lower() for k in v.block_kinds)}; pick another kernel")
            return v
    names = sorted({v.name for v in all_variants() if v.op_type == op_type})
    raise MunifyError(f"no kernel '{name}' for {op_type}; choose one of {', '.join(names)}")


BALANCED_BYTES_SLACK = 1.2
BALANCED_BYTES_ALLOWANCE = 1024


def select_variant(op_type: str, facts: LayerFacts, features: frozenset, optimize: str, params: dict,
                   weight_bytes: Callable[["KernelVariant"], int], costs: BoardCosts) -> KernelVariant:
    if optimize not in OPTIMIZE_MODES:
        raise MunifyError(f"unknown optimize mode '{optimize}'; use one of {', '.join(OPTIMIZE_MODES)}")
    found = candidates(op_type, features, facts.kinds, optimize, params)
    if not found:
        raise MunifyError(f"no kernel for {op_type} with features {sorted(features)} and optimize={optimize}; "
                          f"use another --optimize or board")

    order = {id(v): i for i, v in enumerate(all_variants())}
    if optimize == "balanced":
        smallest = min(weight_bytes(v) for v in found)
        budget = max(BALANCED_BYTES_SLACK * smallest, smallest + BALANCED_BYTES_ALLOWANCE)
        found = [v for v in found if weight_bytes(v) <= budget]

    def rank(v: KernelVariant):
        cost, size = round(costs.cost(v, facts)), weight_bytes(v)
        if optimize == "size":
            return (size, cost, order[id(v)])
        return (cost, size, order[id(v)])

    return min(found, key=rank)
