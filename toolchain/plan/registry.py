"""Kernel registry: ranks the variants of every ISA package (`toolchain.plan.kernels`) for one layer.

`select_variant` picks, for one layer, the cheapest variant whose op type matches, whose ISA features the board
has, whose weight layout can hold the block kinds the weight uses and that is offered for the `optimize` mode.
`size` ranks candidates by (weight bytes, cost), `speed` by (cost, weight bytes) and `balanced` by
cost + price x the weight bytes beyond the layer's smallest candidate plus BALANCED_BYTES_ALLOWANCE (padding and
small tables do not decide). The price of a byte (`balanced_byte_price`) is BALANCED_EXCHANGE times the
instructions per weight byte of the model's fastest plan: with the exchange 1.0, a layout may cost 1% more of
the model's instructions for every 1% of the model's weight bytes it saves. The trade is priced for the whole
model, not per layer, so a layout several times slower for a few percent of bytes is never taken (ad01 with 1x8
blocks on the M55), while one that saves a large share of the model's bytes at a small share of its time is.
Costs come from the board CPU's cost tables (`toolchain.plan.kernels.costs_for`). Ties go to the variant
listed first (generic dense kernels come first), so the choice is deterministic. Every matrix variant can run any block structure (the
dense layout stores the full matrix), so a block kernel is chosen only where the ranking prefers it.

Adding a variant: append a `KernelVariant` (`toolchain.plan.variant`, which also holds the kernel template
contract) to the ISA package it needs, e.g. `toolchain/plan/kernels/dsp/kernels.py`, and write its template
under `codegen_templates/kernels/<isa>/`.
"""

from __future__ import annotations

from typing import Callable, Iterable

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


# `balanced`: instructions are worth BALANCED_EXCHANGE times their share of the model per share of weight bytes;
# bytes within BALANCED_BYTES_ALLOWANCE of the layer's smallest candidate are free.
BALANCED_EXCHANGE = 1.0
BALANCED_BYTES_ALLOWANCE = 1024


def balanced_byte_price(fastest: Iterable[tuple[float, int]]) -> float:
    """Instructions one weight byte is worth under `balanced`, from the (cost, weight bytes) of every layer's
    fastest candidate: BALANCED_EXCHANGE x the model's instructions per weight byte (0 without weights)."""
    fastest = list(fastest)
    size = sum(b for _, b in fastest)
    return BALANCED_EXCHANGE * sum(c for c, _ in fastest) / size if size else 0.0


def select_variant(op_type: str, facts: LayerFacts, features: frozenset, optimize: str, params: dict,
                   weight_bytes: Callable[["KernelVariant"], int], costs: BoardCosts,
                   byte_price: float = 0.0) -> KernelVariant:
    """The best candidate for `optimize`; `byte_price` (balanced only) from `balanced_byte_price`: at 0,
    balanced takes the fastest of its candidates."""
    if optimize not in OPTIMIZE_MODES:
        raise MunifyError(f"unknown optimize mode '{optimize}'; use one of {', '.join(OPTIMIZE_MODES)}")
    found = candidates(op_type, features, facts.kinds, optimize, params)
    if not found:
        raise MunifyError(f"no kernel for {op_type} with features {sorted(features)} and optimize={optimize}; "
                          f"use another --optimize or board")

    order = {id(v): i for i, v in enumerate(all_variants())}
    free_bytes = min(weight_bytes(v) for v in found) + BALANCED_BYTES_ALLOWANCE

    def rank(v: KernelVariant):
        cost, size = round(costs.cost(v, facts)), weight_bytes(v)
        if optimize == "size":
            return (size, cost, order[id(v)])
        if optimize == "balanced":
            return (cost + byte_price * max(0, size - free_bytes), cost, size, order[id(v)])
        return (cost, size, order[id(v)])

    return min(found, key=rank)
