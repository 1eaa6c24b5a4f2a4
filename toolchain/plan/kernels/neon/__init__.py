"""Kernel variants for AArch64 NEON (Advanced SIMD), and SDOT where the board has the dotprod feature.

Each entry is a `toolchain.plan.registry.KernelVariant` with `features` {"neon"} or {"neon", "dotprod"} and a
template under `codegen_templates/kernels/neon/`; layouts and costs are in `toolchain.plan.kernels.neon.kernels`.
"""

from __future__ import annotations

from .kernels import neon_variants

NEON_VARIANTS = neon_variants()

__all__ = ["NEON_VARIANTS"]
