"""AArch64 NEON kernels (codegen_templates/kernels/neon/): packed weight layouts, cost model, registry entries.

Layouts (each kernel header documents the same):
  neon-dense   dense matrix: rows in groups of 4 (zero rows added), reduction padded with zeros to a multiple
               of 16; per group, per 16 reduction elements, the 4 rows' 16 bytes.
  neon-dw      depthwise [channels, taps]: per tap the channels' weights, padded with zeros to a multiple of 16.
  neon-blocks  bo x bi blocks (bi 8 or 16): per row block the counts of its dense and unified blocks, the
               dense blocks (column, bo x bi weights) and the unified blocks (column, bo x bi/8 sign bytes,
               bo magnitudes); pruned blocks are absent. The partial last column block is one more dense block
               and the rows % bo last rows one more (dense) row block, both padded with zeros.
  neon-blocks-tables
               neon-blocks (bo 1 or 2, bi 8) with the unified blocks as table lookups: `table_cols` lists the
               column of every sign-pattern table (the full column blocks some unified block reads, at most
               128); per unified block row `unified_lookups` holds, instead of a column and a sign byte, one
               uint16: its column's table (bits 0-6), the table entry of its low sign nibble (bits 7-10) and
               16 + its high sign nibble (bits 11-15); then its magnitude; no `unified_bias`.
Unified block rows fold magnitude * (their negative weights) into `unified_bias` (munify_neon_blocks.h); the
table kernel reads exact signed sums, so it needs no such term.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ....ir.blocks import BlockKind, BlockStructure
from ...variant import KernelVariant

DENSE_ROWS = 4  # rows per step of the dense kernel
DEPTH_STEP = 16  # reduction elements per step (one q register)
DW_CHANNELS = 16  # channels per step of the depthwise kernel
DW_MAX_TAPS = 64  # MUNIFY_NEON_DW_MAX_TAPS
BLOCK_BI = (8, 16)
MAX_COLUMN = 0xFFFF  # block columns are uint16


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _padded(matrix: np.ndarray, rows: int, cols: int) -> np.ndarray:
    out = np.zeros((rows, cols), np.int8)
    out[:matrix.shape[0], :matrix.shape[1]] = matrix
    return out


def depth(k: int) -> int:
    return _round_up(max(k, 1), DEPTH_STEP)


def pack_dense(matrix: np.ndarray) -> np.ndarray:
    """Layout neon-dense of an int8 [rows, cols] matrix."""
    matrix = np.asarray(matrix, np.int8)
    rows, cols = matrix.shape
    padded = _padded(matrix, _round_up(rows, DENSE_ROWS), depth(cols))
    groups = padded.reshape(-1, DENSE_ROWS, padded.shape[1] // DEPTH_STEP, DEPTH_STEP)
    return groups.transpose(0, 2, 1, 3).reshape(-1)


def pack_depthwise(matrix: np.ndarray) -> np.ndarray:
    """Layout neon-dw of a depthwise matrix [channels, taps] (`weight_matrix` view)."""
    matrix = np.asarray(matrix, np.int8)
    channels, taps = matrix.shape
    return _padded(matrix, _round_up(channels, DW_CHANNELS), taps).T.reshape(-1).copy()


def pack_blocks(matrix: np.ndarray, blocks, tables: bool = False) -> dict[str, np.ndarray]:
    """Layout neon-blocks (or, `tables`, neon-blocks-tables) of a block-structured int8 matrix (`blocks` a
    BlockStructure with bi 8 or 16; 8 for `tables`)."""
    matrix = np.asarray(matrix, np.int8)
    rows, cols = matrix.shape
    bo, bi = blocks.bo, blocks.bi
    row_blocks, full_cols = -(-rows // bo), cols // bi
    padded = _padded(matrix, row_blocks * bo, _round_up(cols, bi)).astype(np.int64)
    kinds = np.full((row_blocks, -(-cols // bi)), BlockKind.DENSE, np.uint8)
    kinds[:rows // bo, :full_cols] = blocks.kinds[:rows // bo, :full_cols]
    counts, dense_cols, dense_w, unified_cols, signs, mags = [], [], [], [], [], []
    unified_bias = np.zeros(row_blocks * bo, np.int64)
    for rb in range(row_blocks):
        r0 = rb * bo
        dense = np.flatnonzero(kinds[rb] == BlockKind.DENSE)
        unified = np.flatnonzero(kinds[rb] == BlockKind.UNIFIED)
        counts += [len(dense), len(unified)]
        for cb in dense:
            dense_cols.append(cb * bi)
            dense_w.append(padded[r0:r0 + bo, cb * bi:(cb + 1) * bi].reshape(-1))
        for cb in unified:
            unified_cols.append(cb * bi)
            tile = padded[r0:r0 + bo, cb * bi:(cb + 1) * bi]
            negative = tile < 0
            magnitude = np.abs(tile).max(axis=1)
            mags.append(magnitude)
            signs.append(np.packbits(negative, axis=1, bitorder="little").reshape(-1))
            unified_bias[r0:r0 + bo] += magnitude * negative.sum(axis=1)
    packed = {
        "counts": np.array(counts, np.uint16),
        "dense_cols": np.array(dense_cols, np.uint16),
        "dense_weights": _concat(dense_w, np.int8),
        "unified_cols": np.array(unified_cols, np.uint16),
        "unified_signs": _concat(signs, np.uint8),
        "unified_magnitudes": _concat(mags, np.int8),
        "unified_bias": unified_bias.astype(np.int32),
    }
    return _with_tables(packed, bo) if tables else packed


# A lookup (uint16): bits 0-6 its column's table, 7-10 the entry of the low sign nibble, 11-15 the entry of
# the high one (16 + nibble: the high half of the table), so each entry is one shift away.
MAX_TABLES = 128
HIGH_ENTRIES = 16


def _with_tables(packed: dict[str, np.ndarray], bo: int) -> dict[str, np.ndarray]:
    """neon-blocks (bi 8) -> neon-blocks-tables: one table per column some unified block reads; a unified
    block row becomes one lookup of its column's table by its sign byte."""
    columns, table_of = np.unique(packed.pop("unified_cols"), return_inverse=True)
    del packed["unified_bias"]
    signs = packed.pop("unified_signs").astype(np.int64).reshape(-1, bo)
    lookups = (HIGH_ENTRIES + (signs >> 4)) << 11 | (signs & 15) << 7 | table_of.reshape(-1, 1).astype(np.int64)
    packed["unified_lookups"] = lookups.reshape(-1).astype(np.uint16)
    packed["table_cols"] = columns.astype(np.uint16)
    return packed


def _tables_to_columns(packed: dict[str, np.ndarray], bo: int) -> tuple[np.ndarray, np.ndarray]:
    """The column and sign byte of each unified block row of a neon-blocks-tables packing."""
    lookups = packed["unified_lookups"].astype(np.int64).reshape(-1, bo)
    columns = packed["table_cols"][lookups[:, 0] & (MAX_TABLES - 1)] if len(lookups) else np.zeros(0, np.int64)
    signs = (lookups >> 7 & 15) | ((lookups >> 11) - HIGH_ENTRIES) << 4
    return columns, signs.astype(np.uint8).reshape(-1)


def unpack_blocks(packed: dict[str, np.ndarray], rows: int, cols: int, bo: int, bi: int) -> np.ndarray:
    """The int8 matrix a neon-blocks packing describes (what the kernel computes with; tests pin it down)."""
    row_blocks = -(-rows // bo)
    matrix = np.zeros((row_blocks * bo, _round_up(cols, bi)), np.int64)
    unified_cols, unified_signs = packed.get("unified_cols"), packed.get("unified_signs")
    if "table_cols" in packed:
        unified_cols, unified_signs = _tables_to_columns(packed, bo)
    counts = packed["counts"].reshape(-1, 2)
    dense_w = packed["dense_weights"].reshape(-1, bo, bi)
    signs = unified_signs.reshape(-1, bo, bi // 8)
    mags = packed["unified_magnitudes"].reshape(-1, bo)
    d = u = 0
    for rb in range(row_blocks):
        r0 = rb * bo
        for _ in range(counts[rb, 0]):
            c0 = int(packed["dense_cols"][d])
            matrix[r0:r0 + bo, c0:c0 + bi] = dense_w[d]
            d += 1
        for _ in range(counts[rb, 1]):
            c0 = int(unified_cols[u])
            negative = np.unpackbits(signs[u], axis=1, bitorder="little")[:, :bi].astype(bool)
            matrix[r0:r0 + bo, c0:c0 + bi] = np.where(negative, -1, 1) * mags[u][:, None].astype(np.int64)
            u += 1
    return matrix[:rows, :cols].astype(np.int8)


def _concat(pieces: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(pieces).astype(dtype) if pieces else np.zeros(0, dtype)


def _pack_blocks_or_dense(matrix: np.ndarray, blocks, tables: bool = False) -> dict[str, np.ndarray]:
    if blocks is None:
        blocks = BlockStructure.dense(*np.asarray(matrix).shape, 1, 8)
    return pack_blocks(matrix, blocks, tables)


# ---------------------------------------------------------------------------------------------------------
# Cost model: estimated retired AArch64 instructions (the registry ranks variants of one target by it).
# Per position (output pixel or batch): the inner steps counted from the kernels' loops, plus the patch copy
# and the vector requantization.

LAYER_CALL = 60.0


@dataclass(frozen=True)
class DenseCosts:
    """The dense kernel per output pixel: per step (4 rows x 16 inputs), per output channel (rows padded to
    groups of 4), per patch byte and per patch copy (im2col convolutions), per pixel; and per call. A depth
    loop of at most `unrolled_trips` steps gcc unrolls completely (-O3 peels short constant loops: the
    layer's depth is a constant of its static parameters): `unrolled_step` a step there."""

    step: float
    output: float
    patch: float
    copy: float
    pixel: float
    call: float = LAYER_CALL
    unrolled_step: float = 0.0
    unrolled_trips: int = 0


# Every coefficient set comes per build: "O2" the boards' flags (balanced and size plans), "O3" what
# `--optimize speed` compiles with (toolchain.build); gcc unrolls and schedules the kernels differently there,
# the dense and depthwise ones most (kws: 0.83x and 0.66x of their -O2 counts, the block kernels 0.99x). The
# O3 sets are fitted the same way to the same layers built with --optimize speed (neon_calibrate measure
# --optimize speed); there gcc peels the dense kernel's short depth loops (at most 4 steps NEON, 9 SDOT:
# `unrolled_step`, measured) and the rest varies with the shapes more loosely: every fitted layer within 2.2% /
# 3.2% (NEON / SDOT conv dense), 10% / 16% (blocks), 10% / 12% (sign tables), 12% / 8% (FC, the MNIST CNN's
# 10-row one worst).
BUILDS = ("O2", "O3")
SPEED_BUILD = "O3"

# Non-negative least squares (benchmarks/kernels/neon_calibrate.py) on exact per-layer counts of the dense
# layers of kws, resnet, ad01 and the MNIST CNN (dense, pt50, pt75, 1x8 p45/p60 u30) on aarch64-linux (NEON)
# and aarch64-linux-dotprod (SDOT); per board, every fitted layer within 6% (NEON conv), 1.5% (SDOT conv),
# 2.5% / 5% (FC).
CONV_DENSE = {  # NEON: SMULL + SMLAL2 + SADALP a row; SDOT: one SDOT a row
    "O2": {False: DenseCosts(step=4.49, output=6.46, patch=0.084, copy=24.2, pixel=2.2),
           True: DenseCosts(step=2.10, output=5.52, patch=0.128, copy=24.4, pixel=22.2)},
    "O3": {False: DenseCosts(step=4.42, output=6.22, patch=0.076, copy=8.88, pixel=21.9, unrolled_step=3.51,
                             unrolled_trips=4),
           True: DenseCosts(step=2.02, output=6.56, patch=0.060, copy=12.0, pixel=5.94, unrolled_step=1.53,
                            unrolled_trips=9)},
}
FC_DENSE = {
    "O2": {False: DenseCosts(step=4.49, output=10.1, patch=0.0, copy=0.0, pixel=0.0, call=0.0),
           True: DenseCosts(step=2.52, output=9.22, patch=0.0, copy=0.0, pixel=0.0, call=4.7)},
    "O3": {False: DenseCosts(step=4.01, output=9.0, patch=0.0, copy=0.0, pixel=0.0, call=0.0, unrolled_step=4.47,
                             unrolled_trips=4),
           True: DenseCosts(step=2.54, output=9.5, patch=0.0, copy=0.0, pixel=0.0, call=7.61, unrolled_step=1.56,
                            unrolled_trips=9)},
}


def neon_window_terms(rows: int, cols: int, patch_row: int, windows: int, patch_copies: float,
                      unrolled_trips: int) -> list[float]:
    """The terms of a conv fused with its pool (munify_neon_dense.h munify_neon_conv_dense_pool_s8), per layer:
    the 16-input steps of 4 rows x 4 pixels (in depth loops gcc runs as loops, and in those of at most
    `unrolled_trips` steps it unrolls), per window and 4 rows the reductions, maximum and one requantization,
    the four im2col patches' copies (none pointwise) and their moves (munify_neon_copy: 16, 8, then single
    bytes of a kernel row), per window."""
    groups = -(-rows // DENSE_ROWS)
    trips = depth(cols) / DEPTH_STEP
    steps = windows * groups * trips
    moves = patch_row // 16 + patch_row % 16 // 8 + patch_row % 8
    return [0.0 if trips <= unrolled_trips else steps, steps if trips <= unrolled_trips else 0.0, windows * groups,
            4 * windows * patch_copies, 4 * windows * patch_copies * moves, windows]


# Fused with a 2x2 / stride 2 max pool: the coefficients of neon_window_terms per build and sdot, fitted to exact
# counts (benchmarks/kernels/simd_pool_fusion.py: 8 conv + pool layers and the MNIST CNN's on aarch64-linux /
# -dotprod; within 4.6%)
CONV_DENSE_WINDOW = {"O2": {False: (64.99, 0.0, 54.38, 19.35, 2.88, 0.0), True: (24.94, 0.0, 67.04, 14.06, 3.64, 8.47)},
                     "O3": {False: (62.47, 43.16, 49.38, 14.47, 0.0, 58.49),
                            True: (26.57, 22.57, 40.68, 13.98, 0.57, 9.44)}}


def dense_cost(sdot: bool, fully_connected: bool, build: str = "O2"):
    c = (FC_DENSE if fully_connected else CONV_DENSE)[build][sdot]
    window = CONV_DENSE_WINDOW[build][sdot]

    def cost(f) -> float:
        if f.pool_windows:
            terms = neon_window_terms(f.rows, f.cols, f.patch_row, f.pool_windows, f.patch_copies,
                                      c.unrolled_trips)
            return c.call + sum(t * k for t, k in zip(terms, window))
        groups = -(-f.rows // DENSE_ROWS) * DENSE_ROWS
        patch = f.cols * c.patch + f.patch_copies * c.copy if f.patch_copies > 0 else 0.0  # pointwise: no im2col
        trips = depth(f.cols) / DEPTH_STEP
        step = c.unrolled_step if trips <= c.unrolled_trips else c.step
        per_position = groups * trips * step + groups * c.output + patch + c.pixel
        return c.call + f.positions * per_position
    return cost


@dataclass(frozen=True)
class DepthwiseCosts:
    """Per 16 channels and tap (4 loads, SMULL(2) + SMLAL(2), 4 SADDW(2), loop), per output channel, per tap
    (its input pointer)."""

    step: float
    output: float
    tap: float


# O2: the loop-counted shape, scaled to the exact counts of kws' 4 depthwise layers (64 channels, 3x3, 125
# pixels: 854 instructions a pixel on both NEON boards); O3: the same shape at their -O3 counts (0.65x).
DEPTHWISE = {"O2": DepthwiseCosts(9.9, 6.1, 12.2), "O3": DepthwiseCosts(9.9 * 0.65, 6.1 * 0.65, 12.2 * 0.65)}


def depthwise_cost(build: str = "O2"):
    c = DEPTHWISE[build]

    def cost(f) -> float:
        groups = -(-f.rows // DW_CHANNELS)
        return LAYER_CALL + f.positions * (groups * f.cols * c.step + f.rows * c.output + f.cols * c.tap)
    return cost


# Fewer than MIN_PASS output pixels (FULLY_CONNECTED): one pixel, 16 weights a step (two 1x8 blocks). Fitted
# (benchmarks/kernels/neon_calibrate.py) on ad01's and the MNIST CNN's compressed FULLY_CONNECTED layers:
# within 6%.
MIN_PASS = 4  # MUNIFY_NEON_MIN_PASS


@dataclass(frozen=True)
class SingleCosts:
    """The one-pixel path: per 16 dense weights (2 columns, 2 input loads, weights, multiply), per 16 unified
    weights (signs, magnitudes, EOR, SADDLP, SMLAL), per row."""

    dense16: float
    unified16: float
    row: float


# O3: the O2 figures, not refitted to -O3 counts (the one-pixel layers measured, e.g. the MNIST CNN admm75 FC,
# run the dense kernels in speed builds: fc_as_dense_neon / _sdot; fc_blocks_* in balanced ones)
SINGLE = {"O2": {False: SingleCosts(15.6, 24.9, 21.2), True: SingleCosts(10.9, 24.3, 21.7)},
          "O3": {False: SingleCosts(15.6, 24.9, 21.2), True: SingleCosts(10.9, 24.3, 21.7)}}


@dataclass(frozen=True)
class PassCosts:
    """Instructions per output pixel of the block kernels' passes: per 8 weights of dense blocks, per 8 weights
    of unified blocks (sign masks, or table lookups), per row, per reduction element (patch, interleave and,
    with tables, the tables' build), per im2col patch copy and per pixel."""

    dense8: float
    unified8: float
    row: float
    col: float
    copy: float
    pixel: float


# Non-negative least squares (benchmarks/kernels/neon_calibrate.py) on exact per-layer counts of the 1x8
# CONV_2D layers of kws and resnet (pt50, pt75) and the MNIST CNN (p45, p60 u30) with each kernel forced, 22
# layers per kernel and board; every fitted layer within 3.2% (SDOT blocks, the quads path: 3.7%). Pixels
# count in whole passes. The quads path's row term (3.82 at -O2, 8.48 before) is low because a row's 16 sums are
# requantized in their registers (per channel: one LD4R of the row's table entry) and stored 4 rows x 16 pixels
# by ST4 lanes, not one by one; the O3 fit (same layers, --optimize speed) within 2.3%.
BLOCK_PASS = {"O2": {False: PassCosts(3.07, 3.58, 11.4, 0.02, 37.2, 26.5),
                     True: PassCosts(1.05, 1.54, 3.82, 0.0569, 34.1, 11.8)},
              "O3": {False: PassCosts(3.26, 3.31, 9.96, 0.0, 22.6, 0.0),
                     True: PassCosts(1.04, 1.47, 4.0, 0.186, 18.1, 0.0)}}
TABLE_PASS = {"O2": {False: PassCosts(3.28, 1.34, 10.8, 1.36, 36.3, 30.8),
                     True: PassCosts(1.76, 1.28, 9.98, 1.62, 27.9, 40.4)},
              "O3": {False: PassCosts(3.41, 1.38, 9.52, 0.938, 24.8, 0.0),
                     True: PassCosts(1.88, 1.37, 8.8, 1.04, 17.1, 0.0)}}


# Fused with a 2x2 / stride 2 max pool (munify_neon_blocks_pool_s8; f.positions: the windows' four pixels each):
# instructions fewer per window and row than the passes' four pixels cost, for one requantization of the row's
# maximum (munify_neon_window_run; SDOT quads: 3 SMAXP and a 4-lane requantization a row). Fitted
# (benchmarks/kernels/simd_pool_fusion.py: the MNIST CNN's admm75 / admm90 layers and 1x8 / 2x8 / 1x16 conv + pool
# layers with each kernel forced; within 3.0% where the unfused pass model holds, i.e. not on 8-channel, 2 x 8 or
# 1 x 16 layers, which it misses by 5-15% unfused too)
BLOCK_WINDOW_ROW_SAVING = {"O2": {False: 15.0, True: 6.29}, "O3": {False: 8.66, True: 4.93}}
TABLE_WINDOW_ROW_SAVING = {"O2": {False: 14.48, True: 13.67}, "O3": {False: 6.42, True: 7.65}}


def _pass_cost(f, c: PassCosts, pass_pixels: int, window_row_saving: float = 0.0) -> float:
    pixels = -(-f.positions // pass_pixels) * pass_pixels
    per_pixel = (f.dense_weights / 8 * c.dense8 + f.unified_weights / 8 * c.unified8 + f.rows * c.row
                 + f.cols * c.col + f.patch_copies * c.copy + c.pixel)
    return LAYER_CALL + pixels * per_pixel - f.pool_windows * f.rows * window_row_saving


def tables_cost(sdot: bool, build: str = "O2"):
    return lambda f: _pass_cost(f, TABLE_PASS[build][sdot], TABLE_PIXELS, TABLE_WINDOW_ROW_SAVING[build][sdot])


def blocks_cost(sdot: bool, build: str = "O2"):
    single, passes = SINGLE[build][sdot], BLOCK_PASS[build][sdot]

    def cost(f) -> float:
        if f.positions < MIN_PASS:
            per_position = (f.dense_weights / 16 * single.dense16 + f.unified_weights / 16 * single.unified16
                            + f.rows * single.row)
            return LAYER_CALL + f.positions * per_position
        return _pass_cost(f, passes, block_pixels(1, sdot),  # NEON: half with bo 4 (no bo in LayerFacts)
                          BLOCK_WINDOW_ROW_SAVING[build][sdot])
    return cost


# Scratch bytes (the kernels' comments say the same).

def dense_scratch(params: dict) -> int:
    """Two patches (a pixel pair), fused with a pool four (a window's pixels)."""
    return (4 if params["pool_fused"] else 2) * depth(params["k"])


def block_pixels(bo: int, sdot: bool) -> int:
    """MUNIFY_NEON_PASS_PIXELS: output pixels per pass of the block kernel (with SDOT the quads path)."""
    return QUAD_PIXELS if sdot else 8 if bo <= 2 else 4


QUAD_PIXELS = 16  # MUNIFY_NEON_QUAD_PIXELS


def blocks_scratch(params: dict) -> int:
    """Accumulators of the pixels of one pass, their interleaved chunks and their patches; with SDOT each row's
    requantization (4 int32, munify_neon_row_quants); with fewer than MIN_PASS output pixels an image (run one at
    a time) one pixel's accumulators and its patch."""
    rows = _round_up(params["cout"], params["bo"])
    if params["out_h"] * params["out_w"] < MIN_PASS:
        return 4 * rows + depth(params["k"])
    pixels = block_pixels(params["bo"], params["sdot"])
    return 4 * pixels * rows + 2 * pixels * depth(params["k"]) + (16 * rows if params["sdot"] else 0)


TABLE_PIXELS = 16  # MUNIFY_NEON_TABLE_PIXELS
TABLE_BYTES = 2 * 16 * TABLE_PIXELS * 2  # MUNIFY_NEON_TABLE_WORDS int16: 2 halves x 16 sign patterns x 16 pixels


def tables_scratch(params: dict) -> int:
    """The accumulators, chunks and patches of 16 pixels, then at most one table per full column block."""
    return (4 * TABLE_PIXELS * _round_up(params["cout"], params["bo"]) + 2 * TABLE_PIXELS * depth(params["k"])
            + TABLE_BYTES * (params["k"] // 8))


# ---------------------------------------------------------------------------------------------------------
# Where each kernel applies (params of toolchain.plan.layers)

def _pairs_fit_int16(params: dict) -> bool:
    """SMULL + SMLAL2 pairs: -128 * -128 twice overflows int16, so weights must stay in [-127, 127]."""
    return params.get("weights_min", -128) > -128


def _blocks_fit(params: dict) -> bool:
    """bi 8 or 16, columns that fit uint16, and magnitudes that fit int8 (no weight -128)."""
    return (params["bi"] in BLOCK_BI and _round_up(params["k"], params["bi"]) <= MAX_COLUMN
            and _pairs_fit_int16(params))


def _tables_fit(params: dict) -> bool:
    """1 x 8 or 2 x 8 blocks, every image at least a pass wide (no one-pixel path), at most MAX_TABLES
    columns."""
    return (_blocks_fit(params) and params["bi"] == 8 and params["bo"] <= 2
            and params["out_h"] * params["out_w"] >= MIN_PASS and params["k"] // 8 <= MAX_TABLES)


def _depthwise_fits(params: dict) -> bool:
    return params["depth_multiplier"] == 1 and params["taps"] <= DW_MAX_TAPS and _pairs_fit_int16(params)


def depthwise_scratch(params: dict) -> int:
    return _round_up(params["cin"], DW_CHANNELS)  # the zero-point row


def _dense_packer(packer):
    return lambda matrix, blocks: {"weights": packer(matrix)}


# ---------------------------------------------------------------------------------------------------------
# Registry entries (toolchain.plan.kernels.neon exports NEON_VARIANTS)

NEON = frozenset({"neon"})
DOTPROD = frozenset({"neon", "dotprod"})
COMMON_FILES = ("kernels/neon/munify_neon.h",)


def _dense_variants(build: str) -> list[KernelVariant]:
    """Dense weights, and block-structured ones where the cost model says pruned and unified blocks save
    nothing (speed and balanced; size never takes the dense bytes)."""
    variants = []
    files = COMMON_FILES + ("kernels/neon/munify_neon_dense.h",)
    for stem, op_type in (("fc", "FULLY_CONNECTED"), ("conv", "CONV_2D")):
        for suffix, features, applies, sdot in (
                ("neon", NEON, _pairs_fit_int16, False),
                ("sdot", DOTPROD, lambda params: True, True)):
            common = dict(template="kernels/neon/dense.c.j2", layout="neon-dense", features=features,
                          pack=_dense_packer(pack_dense), scratch=dense_scratch, support_files=files,
                          applies=applies, options={"sdot": sdot},
                          cost=dense_cost(sdot, op_type == "FULLY_CONNECTED", build))
            variants += [
                KernelVariant(f"{stem}_dense_{suffix}", op_type, block_kinds=frozenset({BlockKind.DENSE}),
                              fuses_pool=op_type == "CONV_2D", **common),  # munify_neon_conv_dense_pool_s8
                KernelVariant(f"{stem}_as_dense_{suffix}", op_type, block_kinds=frozenset(BlockKind),
                              optimize=frozenset({"speed", "balanced"}), fuses_pool=op_type == "CONV_2D", **common),
            ]
    return variants


def _block_variants(build: str) -> list[KernelVariant]:
    files = COMMON_FILES + ("kernels/neon/munify_neon_blocks.h",)
    variants = []
    for stem, op_type in (("fc", "FULLY_CONNECTED"), ("conv", "CONV_2D")):
        for suffix, features, sdot in (("neon", NEON, False), ("sdot", DOTPROD, True)):
            common = dict(template="kernels/neon/blocks.c.j2", features=features, block_kinds=frozenset(BlockKind),
                          support_files=files, fuses_pool=op_type == "CONV_2D")  # munify_neon_blocks_pool_s8
            variants += [
                KernelVariant(f"{stem}_blocks_{suffix}", op_type, cost=blocks_cost(sdot, build),
                              layout="neon-blocks", applies=_blocks_fit, pack=_pack_blocks_or_dense,
                              scratch=blocks_scratch, options={"sdot": sdot, "sign_tables": False}, **common),
                KernelVariant(f"{stem}_blocks_tables_{suffix}", op_type, cost=tables_cost(sdot, build),
                              layout="neon-blocks-tables", applies=_tables_fit,
                              pack=functools.partial(_pack_blocks_or_dense, tables=True), scratch=tables_scratch,
                              options={"sdot": sdot, "sign_tables": True}, **common),
            ]
    return variants


def _depthwise_variants(build: str) -> list[KernelVariant]:
    common = dict(template="kernels/neon/depthwise.c.j2", cost=depthwise_cost(build), layout="neon-dw", features=NEON,
                  applies=_depthwise_fits, pack=_dense_packer(pack_depthwise), scratch=depthwise_scratch,
                  support_files=COMMON_FILES + ("kernels/neon/munify_neon_depthwise.h",))
    return [KernelVariant("dwconv_dense_neon", "DEPTHWISE_CONV_2D", block_kinds=frozenset({BlockKind.DENSE}),
                          **common),
            KernelVariant("dwconv_as_dense_neon", "DEPTHWISE_CONV_2D", block_kinds=frozenset(BlockKind),
                          optimize=frozenset({"speed", "balanced"}), **common)]


# per element: widen, offset, shift, three requantizations on 4 lanes, narrow (resnet's adds); the same at -O3
# (resnet pt50 add_3: 115,732 instructions in both builds on aarch64-linux)
ADD_ELEMENT = {"O2": 7.06, "O3": 7.06}


def _same_shapes(params: dict) -> bool:
    return not params["broadcast"]


def _add_variants(build: str) -> list[KernelVariant]:
    element = ADD_ELEMENT[build]
    return [KernelVariant("add_neon", "ADD", "kernels/neon/add.c.j2", lambda f: LAYER_CALL + f.positions * element,
                          features=NEON, applies=_same_shapes,
                          support_files=COMMON_FILES + ("kernels/neon/munify_neon_add.h",))]


def _variants(build: str) -> list[KernelVariant]:
    return _dense_variants(build) + _block_variants(build) + _depthwise_variants(build) + _add_variants(build)


@functools.cache
def neon_variants() -> tuple:
    """The registry entries, their costs those of the boards' builds (O2)."""
    return tuple(_variants("O2"))


def neon_speed_costs() -> dict:
    """Variant name -> its cost in `--optimize speed` builds (SPEED_BUILD): the speed plans' table."""
    return {v.name: v.cost for v in _variants(SPEED_BUILD)}
