"""Kernel variants for AArch64 NEON (Advanced SIMD), and SDOT where the board has the dotprod feature.

Each entry is a `toolchain.plan.variant.KernelVariant` with `features` {"neon"} or {"neon", "dotprod"} and a
template under `codegen_templates/kernels/neon/`; layouts and costs are in `kernels.py` here.
"""

from __future__ import annotations

from .kernels import neon_speed_costs, neon_variants

NEON_VARIANTS = neon_variants()

__all__ = ["NEON_VARIANTS", "neon_speed_costs"]
