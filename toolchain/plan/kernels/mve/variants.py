"""Kernel variants that need Helium (MVE, Cortex-M55): `features=frozenset({"mve"})`, templates under
`codegen_templates/kernels/mve/`; layouts and costs in `kernels.py` here, the template contract in the
`toolchain.plan.variant` docstring.
"""

from __future__ import annotations

import functools

from ....ir.blocks import BlockKind
from . import kernels as mve
from ...variant import KernelVariant

MVE = frozenset({"mve"})
COMMON = ("kernels/mve/munify_mve.h",)
ANY_KINDS = frozenset(BlockKind)
# Dense storage of block-structured weights: faster than any block kernel, so not for size.
NOT_SIZE = frozenset({"speed", "balanced"})


def _matrix(stem: str, op_type: str) -> list[KernelVariant]:
    args = dict(template="kernels/mve/matrix.c.j2", cost=mve.matrix_cost, layout="mve-rows4", features=MVE,
                applies=mve.single_image, pack=mve.pack_rows4, scratch=mve.matrix_scratch,
                support_files=COMMON + ("kernels/mve/munify_mve_matrix.h",))
    fuses_pool = op_type == "CONV_2D"  # munify_mve_matrix.h MVE_POOL_FUSED
    return [KernelVariant(f"{stem}_dense_mve", op_type, fuses_pool=fuses_pool, **args),
            KernelVariant(f"{stem}_as_dense_mve", op_type, block_kinds=ANY_KINDS, optimize=NOT_SIZE,
                          fuses_pool=fuses_pool, **args)]


def _tiles(stem: str, op_type: str) -> list[KernelVariant]:
    """Pruned 4 x 16 blocks skipped; unified ones either stored as int8 (speed) or as signs and magnitudes."""
    args = dict(template="kernels/mve/tiles.c.j2", features=MVE, block_kinds=ANY_KINDS, applies=mve.tiles_fit,
                scratch=mve.tiles_scratch, support_files=COMMON + ("kernels/mve/munify_mve_matrix.h",
                                                                   "kernels/mve/munify_mve_tiles.h"))
    return [KernelVariant(f"{stem}_tiles_mve", op_type, cost=mve.tiles_cost(False), layout="mve-tiles",
                          optimize=NOT_SIZE, pack=functools.partial(mve.pack_tiles, signs=False), **args),
            KernelVariant(f"{stem}_tiles_signs_mve", op_type, cost=mve.tiles_cost(True), layout="mve-tiles-signs",
                          pack=functools.partial(mve.pack_tiles, signs=True), **args)]


def _row_blocks() -> list[KernelVariant]:
    """FULLY_CONNECTED over 1 x bi row blocks, pruned blocks skipped; unified ones as int8 (speed) or signs."""
    args = dict(template="kernels/mve/row_blocks.c.j2", features=MVE, block_kinds=ANY_KINDS,
                applies=mve.row_blocks_fit, scratch=mve.row_blocks_scratch,
                support_files=COMMON + ("kernels/mve/munify_mve_matrix.h", "kernels/mve/munify_mve_row_blocks.h"))
    return [KernelVariant("fc_row_blocks_mve", "FULLY_CONNECTED", cost=mve.row_blocks_cost(False),
                          layout="mve-row-blocks", optimize=NOT_SIZE,
                          pack=functools.partial(mve.pack_row_blocks, signs=False), **args),
            KernelVariant("fc_row_blocks_signs_mve", "FULLY_CONNECTED", cost=mve.row_blocks_cost(True),
                          layout="mve-row-blocks-signs", pack=functools.partial(mve.pack_row_blocks, signs=True),
                          **args)]


def _unpack(stem: str, op_type: str) -> KernelVariant:
    """Any bo x bi blocks kept in flash as blocks-min, expanded once per call for the dense kernel."""
    return KernelVariant(f"{stem}_unpack_mve", op_type, "kernels/mve/unpack.c.j2", mve.unpack_cost,
                         layout="blocks-min", features=MVE, block_kinds=ANY_KINDS, applies=mve.unpack_fits,
                         scratch=mve.unpack_scratch, fuses_pool=op_type == "CONV_2D",  # the matrix kernel's
                         support_files=COMMON + ("kernels/mve/munify_mve_matrix.h", "kernels/mve/munify_mve_unpack.h"))


def _depthwise() -> list[KernelVariant]:
    args = dict(template="kernels/mve/depthwise.c.j2", cost=mve.depthwise_cost, layout="mve-dw16", features=MVE,
                applies=mve.depthwise_fits, pack=mve.pack_depthwise16, scratch=mve.depthwise_scratch,
                support_files=COMMON + ("kernels/mve/munify_mve_depthwise.h",))
    return [KernelVariant("dwconv_dense_mve", "DEPTHWISE_CONV_2D", **args),
            KernelVariant("dwconv_as_dense_mve", "DEPTHWISE_CONV_2D", block_kinds=ANY_KINDS, optimize=NOT_SIZE,
                          **args)]


def _same_shapes(params: dict) -> bool:
    return not params["broadcast"]


MVE_VARIANTS: tuple[KernelVariant, ...] = (
    *_matrix("conv", "CONV_2D"),
    *_matrix("fc", "FULLY_CONNECTED"),
    *_tiles("conv", "CONV_2D"),
    *_tiles("fc", "FULLY_CONNECTED"),
    *_row_blocks(),
    _unpack("conv", "CONV_2D"),
    _unpack("fc", "FULLY_CONNECTED"),
    *_depthwise(),
    KernelVariant("avgpool_mve", "AVERAGE_POOL_2D", "kernels/mve/pool.c.j2", mve.elementwise_cost(mve.POOL_TAP / 4),
                  features=MVE, support_files=COMMON + ("kernels/mve/munify_mve_pool.h",)),
    KernelVariant("maxpool_mve", "MAX_POOL_2D", "kernels/mve/pool.c.j2", mve.elementwise_cost(mve.POOL_TAP / 16),
                  features=MVE, support_files=COMMON + ("kernels/mve/munify_mve_pool.h",)),
    KernelVariant("add_mve", "ADD", "kernels/mve/add.c.j2", mve.elementwise_cost(mve.ADD_ELEMENT), features=MVE,
                  applies=_same_shapes, support_files=COMMON + ("kernels/mve/munify_mve_add.h",)),
)
