"""Kernel families, one package per ISA: layouts and packers, fitted costs, scratch sizes, registry entries.

`FAMILIES` records, for each family, the CPU whose retired instructions (QEMU -icount) its cost model was
fitted to and by what; the registry ranks the variants of one layer with these costs on every board that has
the family's features. Generic variants come first: ranking ties go to the variant listed first.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..variant import KernelVariant
from .dsp import DSP_VARIANTS
from .generic import GENERIC_VARIANTS
from .mve import MVE_VARIANTS
from .neon import NEON_VARIANTS


@dataclass(frozen=True)
class KernelFamily:
    name: str  # the package under toolchain/plan/kernels/ and codegen_templates/kernels/
    variants: tuple[KernelVariant, ...]
    costs_fitted_on: str  # the CPU (boards/*.toml `cpu`) whose instruction counts the cost model matches
    costs_source: str  # what produced the numbers


FAMILIES: tuple[KernelFamily, ...] = (
    KernelFamily("generic", GENERIC_VARIANTS, "cortex-m3", "benchmarks/codegen_blocks.py on mps2-an385"),
    KernelFamily("dsp", tuple(DSP_VARIANTS), "cortex-m4", "benchmarks/kernels/calibrate.py on mps2-an386"),
    KernelFamily("mve", tuple(MVE_VARIANTS), "cortex-m55", "counted from the kernels' loops, checked on mps3-an547"),
    KernelFamily("neon", tuple(NEON_VARIANTS), "cortex-a53", "benchmarks/neon_bench.py, qemu-aarch64 (aarch64-linux)"),
)

ALL_VARIANTS: tuple[KernelVariant, ...] = tuple(v for family in FAMILIES for v in family.variants)

