"""Kernel families, one package per ISA: layouts and packers, fitted costs, scratch sizes, registry entries.

Costs are looked up by (family, CPU, build): `costs_for(cpu, optimize)` gives, for each family, the cost table
of the board's CPU, or the table of the CPU the family's costs were fitted on when it has none for that CPU. A
family's variants carry the fitted CPU's costs (`KernelVariant.cost`); `KernelFamily.other_cpus` holds the
tables of further CPUs. `--optimize speed` builds at other compiler flags (toolchain.build: -O3, the others at
the board's, -O2): a family whose kernels compile differently there fits `speed_tables` to those builds, used
for speed plans (the CPU's, else the fitted CPU's), and otherwise ranks speed with the tables above. The
registry ranks the variants of one layer with these costs on every board that has the family's features.
Generic variants come first: ranking ties go to the variant listed first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from ..variant import KernelVariant, LayerFacts
from .dsp import DSP_VARIANTS
from .generic import CORTEX_A_PER_ELEMENT, GENERIC_VARIANTS, cpu_costs
from .mve import MVE_VARIANTS
from .neon import NEON_VARIANTS, neon_speed_costs

CostModel = Callable[[LayerFacts], float]


@dataclass(frozen=True)
class CostTable:
    """One CPU's retired instructions (QEMU -icount) for every variant of a family, by variant name."""

    cpu: str  # boards/*.toml `cpu` whose instruction counts the table matches
    source: str  # what produced the numbers
    costs: Mapping[str, CostModel] | None = None  # None: each variant's own `cost` (the fitted CPU's table)

    def cost(self, variant: KernelVariant, facts: LayerFacts) -> float:
        if self.costs is None:
            return variant.cost(facts)
        return self.costs[variant.name](facts)


@dataclass(frozen=True)
class KernelFamily:
    name: str  # the package under toolchain/plan/kernels/ and codegen_templates/kernels/
    variants: tuple[KernelVariant, ...]
    costs_fitted_on: str  # the CPU whose instruction counts the variants' own `cost` matches
    costs_source: str  # what produced the numbers
    other_cpus: tuple[CostTable, ...] = field(default=())  # tables of further CPUs, each naming every variant
    speed_tables: tuple[CostTable, ...] = field(default=())  # fitted to --optimize speed builds, each naming all

    @property
    def cost_tables(self) -> dict[str, CostTable]:
        """CPU -> table, the fitted CPU first."""
        fitted = CostTable(self.costs_fitted_on, self.costs_source)
        return {fitted.cpu: fitted, **{table.cpu: table for table in self.other_cpus}}

    def costs_for(self, cpu: str | None, optimize: str = "balanced") -> CostTable:
        """The table of `cpu`, else the fitted CPU's; for speed plans the speed table of either first."""
        speed = {table.cpu: table for table in self.speed_tables} if optimize == "speed" else {}
        tables = self.cost_tables
        return speed.get(cpu) or speed.get(self.costs_fitted_on) or tables.get(cpu, tables[self.costs_fitted_on])


FAMILIES: tuple[KernelFamily, ...] = (
    KernelFamily("generic", GENERIC_VARIANTS, "cortex-m3", "benchmarks/codegen_blocks.py on mps2-an385",
                 tuple(CostTable(cpu, "benchmarks/kernels/neon_calibrate.py, qemu-aarch64", cpu_costs(cpu))
                       for cpu in CORTEX_A_PER_ELEMENT)),
    KernelFamily("dsp", tuple(DSP_VARIANTS), "cortex-m4", "benchmarks/kernels/calibrate.py on mps2-an386"),
    KernelFamily("mve", tuple(MVE_VARIANTS), "cortex-m55", "counted from the kernels' loops, checked on mps3-an547"),
    KernelFamily("neon", tuple(NEON_VARIANTS), "cortex-a53",
                 "benchmarks/kernels/neon_calibrate.py, qemu-aarch64 (aarch64-linux)",
                 speed_tables=(CostTable("cortex-a53", "benchmarks/kernels/neon_calibrate.py --optimize speed (-O3)",
                                         neon_speed_costs()),)),
)

ALL_VARIANTS: tuple[KernelVariant, ...] = tuple(v for family in FAMILIES for v in family.variants)


def family_of(variant: KernelVariant) -> str:
    """The family a variant belongs to: its templates are under codegen_templates/kernels/<family>/."""
    return variant.template.split("/")[1]


@dataclass(frozen=True)
class BoardCosts:
    """The cost tables a plan ranks kernels with: per family, the board CPU's table or the fitted CPU's."""

    cpu: str | None  # the board's CPU; None: every family's fitted CPU
    tables: Mapping[str, CostTable]  # family name -> table

    def cost(self, variant: KernelVariant, facts: LayerFacts) -> float:
        return self.tables[family_of(variant)].cost(variant, facts)

    def cpus(self, features: frozenset) -> dict[str, str]:
        """Family -> the CPU whose costs ranked it, for the families a board with `features` can run."""
        return {family.name: self.tables[family.name].cpu for family in FAMILIES
                if any(v.features <= features for v in family.variants)}


def costs_for(cpu: str | None, optimize: str = "balanced", families: tuple[KernelFamily, ...] = FAMILIES) -> BoardCosts:
    return BoardCosts(cpu, {family.name: family.costs_for(cpu, optimize) for family in families})
