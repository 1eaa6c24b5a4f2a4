"""Portable C kernels (codegen_templates/kernels/generic/): fitted costs and registry entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ...variant import ALL_KINDS, KernelVariant, LayerFacts

# Retired instructions of the generic C on a Cortex-M3 at -O2 (QEMU -icount), fitted to the per-layer counts
# of benchmarks/codegen_blocks.py on KWS and ResNet-8 (dense and 2x8 blocks). Matrix ops (CONV_2D, FC) share
# every load between two output pixels and two rows; depthwise reads each tap through a pointer.


@dataclass(frozen=True)
class MatrixCosts:
    mac: float  # per dense weight
    unified: float  # per unified weight, sign bit field (row multiply included)
    unified_wide: float  # per unified weight, byte sign mask
    block: float  # per listed (not pruned) full block
    kind_decode: float  # per full block, blocks-min only
    mac_single: float = 0.0  # per dense weight when one output pixel runs alone (0: same as mac)
    requant: float = 31.0  # per output channel

    def mac_for(self, f: LayerFacts) -> float:
        return self.mac_single if self.mac_single and not f.paired else self.mac


MATRIX = MatrixCosts(mac=2.65, unified=5.4, unified_wide=5.3, block=6.0, kind_decode=6.0, mac_single=3.5)
DEPTHWISE = MatrixCosts(mac=4.45, unified=9.5, unified_wide=9.5, block=20.0, kind_decode=4.0)
LUT_ENTRY = 3.0  # per sign-pattern table entry built (per output pixel)
LUT_LOOKUP = 2.7  # per table lookup (one per 4 weights of a unified block row)


def dense_matrix_cost(c: MatrixCosts) -> Callable[[LayerFacts], float]:
    return lambda f: f.positions * f.rows * (f.cols * c.mac_for(f) + c.requant)


def block_matrix_cost(c: MatrixCosts, wide: bool, decode_all: bool) -> Callable[[LayerFacts], float]:
    def cost(f: LayerFacts) -> float:
        unified = c.unified_wide if wide else c.unified
        decode = f.full_blocks * c.kind_decode if decode_all else 0.0
        per_position = (f.dense_weights * c.mac_for(f) + f.unified_weights * unified + f.listed_blocks * c.block
                        + decode + f.rows * c.requant)
        return f.positions * per_position
    return cost


def lut_matrix_cost(decode_all: bool) -> Callable[[LayerFacts], float]:
    """Per output pixel: the tables of every column block some unified block reads, then one lookup per
    4 weights of each unified block row."""
    def cost(f: LayerFacts) -> float:
        groups = max(f.bi // 4, 1)
        build = f.unified_cols * groups * (1 << min(f.bi, 4)) * LUT_ENTRY
        decode = f.full_blocks * MATRIX.kind_decode if decode_all else 0.0
        per_position = (f.dense_weights * MATRIX.mac_for(f) + f.unified_rows * groups * LUT_LOOKUP + build + decode
                        + f.listed_blocks * MATRIX.block + f.rows * MATRIX.requant)
        return f.positions * per_position
    return cost


def lut_scratch(params: dict) -> int:
    """Sign-pattern tables (int16) of every full column block for each column, then the im2col patches."""
    return params["lut_offset"] + params["im2col_bytes"]


def elementwise_cost(per_element: float) -> Callable[[LayerFacts], float]:
    return lambda f: f.positions * per_element


# Bytes of tables `balanced` and `size` accept for a LUT kernel (`speed`: any): 4 KiB, or the largest activation
# of the model (the planner sets params["lut_limit"]), which the arena holds anyway.
LUT_SCRATCH_LIMIT = 4096


def _small_tables(params: dict) -> bool:
    return params["lut_offset"] <= max(LUT_SCRATCH_LIMIT, params.get("lut_limit", 0))


def _matrix_variants(op_type: str, stem: str, template: str, costs: MatrixCosts,
                     shared_columns: bool) -> list[KernelVariant]:
    variants = [
        KernelVariant(f"{stem}_dense_generic", op_type, template, dense_matrix_cost(costs), layout="dense",
                      block_kinds=ALL_KINDS),
        KernelVariant(f"{stem}_blocks_min_generic", op_type, template, block_matrix_cost(costs, False, True),
                      layout="blocks-min", block_kinds=ALL_KINDS, optimize=frozenset({"size"})),
        KernelVariant(f"{stem}_blocks_index_generic", op_type, template, block_matrix_cost(costs, False, False),
                      layout="blocks-index", block_kinds=ALL_KINDS, optimize=frozenset({"balanced", "speed"})),
        KernelVariant(f"{stem}_blocks_wide_generic", op_type, template, block_matrix_cost(costs, True, False),
                      layout="blocks-wide", block_kinds=ALL_KINDS, optimize=frozenset({"speed"})),
    ]
    if shared_columns:  # every row reads the same activations, so one set of tables serves all rows
        lut = {"block_kinds": ALL_KINDS, "options": {"lut": True}, "scratch": lut_scratch}
        variants += [
            KernelVariant(f"{stem}_blocks_lut_generic", op_type, template, lut_matrix_cost(False),
                          layout="blocks-index", optimize=frozenset({"speed"}), **lut),
            KernelVariant(f"{stem}_blocks_lut_generic", op_type, template, lut_matrix_cost(False),
                          layout="blocks-index", optimize=frozenset({"balanced"}), applies=_small_tables, **lut),
            KernelVariant(f"{stem}_blocks_min_lut_generic", op_type, template, lut_matrix_cost(True),
                          layout="blocks-min", optimize=frozenset({"size"}), applies=_small_tables, **lut),
        ]
    return variants


GENERIC_VARIANTS: tuple[KernelVariant, ...] = (
    *_matrix_variants("CONV_2D", "conv", "kernels/generic/conv.c.j2", MATRIX, shared_columns=True),
    *_matrix_variants("FULLY_CONNECTED", "fc", "kernels/generic/conv.c.j2", MATRIX, shared_columns=True),
    *_matrix_variants("DEPTHWISE_CONV_2D", "dwconv", "kernels/generic/depthwise.c.j2", DEPTHWISE,
                      shared_columns=False),
    KernelVariant("avgpool_generic", "AVERAGE_POOL_2D", "kernels/generic/avgpool.c.j2", elementwise_cost(4.0)),
    # per window element (out elements x kernel taps); mps2-an386, the MNIST CNN's pools: 4.05-4.10
    KernelVariant("maxpool_generic", "MAX_POOL_2D", "kernels/generic/maxpool.c.j2", elementwise_cost(4.1)),
    KernelVariant("add_generic", "ADD", "kernels/generic/add.c.j2", elementwise_cost(40.0)),
    KernelVariant("mul_generic", "MUL", "kernels/generic/mul.c.j2", elementwise_cost(25.0)),
    KernelVariant("reshape_copy_generic", "RESHAPE", "kernels/generic/copy.c.j2", elementwise_cost(0.5)),
    KernelVariant("softmax_generic", "SOFTMAX", "kernels/generic/softmax.c.j2", elementwise_cost(120.0)),
    KernelVariant("pad_generic", "PAD", "kernels/generic/pad.c.j2", elementwise_cost(1.0)),
)


# Per element on the Cortex-A boards (qemu-aarch64; benchmarks/kernels/neon_calibrate.py, the exact per-layer
# counts of kws' and resnet's AVERAGE_POOL_2D and SOFTMAX and the MNIST CNN's MAX_POOL_2D: each within 2.6%). The
# other variants keep the Cortex-M3 costs: the NEON kernels replace them there.
CORTEX_A_PER_ELEMENT = {
    "cortex-a53": {"avgpool_generic": 5.03, "maxpool_generic": 3.58, "softmax_generic": 51.5},
    "cortex-a76": {"avgpool_generic": 4.87, "maxpool_generic": 3.58, "softmax_generic": 51.5},
}


def cpu_costs(cpu: str) -> dict[str, Callable[[LayerFacts], float]]:
    """Every generic variant's cost on `cpu` (a CORTEX_A_PER_ELEMENT CPU)."""
    per_element = CORTEX_A_PER_ELEMENT[cpu]
    return {v.name: elementwise_cost(per_element[v.name]) if v.name in per_element else v.cost
            for v in GENERIC_VARIANTS}
