"""Helium (MVE) kernels for the Cortex-M55 (codegen_templates/kernels/mve/): weight packing and cost model.

Layouts (each kernel header documents the same):
  mve-rows4   dense CONV_2D / FULLY_CONNECTED: rows padded to a multiple of 4, reduction padded to a multiple
              of 16 with zeros; per group of 4 rows, per 16 reduction elements, 16 bytes of each of the 4 rows.
  mve-dw16    dense DEPTHWISE_CONV_2D (multiplier 1, at most 16 taps): per channel, its taps padded to 16.
  mve-row-blocks, mve-row-blocks-signs
              FULLY_CONNECTED (batch 1) over 1 x bi row blocks, bi 4, 8 or 16 (any bo x bi blocks read row by
              row): per row `counts` (its dense, its unified blocks), `offsets` (each block's first input, dense
              first), `dense_weights` (bi int8 a block); an all-zero block (pruned) is left out. -signs stores a
              block of one magnitude with signs as one `unified_words` word: the VPR.P0 predicate of its negative
              lanes (16 / bi bits a lane) in bits 0-15, the magnitude in bits 16-31.
  blocks-min  (toolchain.plan.kernels.generic.packing) any bo x bi blocks, bi <= 16: expanded into mve-rows4 in
              scratch once per call, then the dense kernel runs (munify_mve_unpack.h).

  mve-tiles, mve-tiles-signs
              CONV_2D / FULLY_CONNECTED as tiles of 4 rows x 16 reduction elements (the kernel's step; reduction
              a multiple of 16): an all-zero tile (pruned blocks) is left out. Per group of 4 rows, `counts`
              holds its dense and its unified tiles, `steps` their reduction offsets (16 * step) in that order.
              mve-tiles stores every tile left as 64 int8 weights (`dense_weights`, row after row);
              mve-tiles-signs stores a tile whose every row is one magnitude with signs (unified 4 x 16 blocks,
              or any tile of that form) as 4 `unified_rows` words instead of 64 bytes: per row (uint32) its sign
              mask in bits 0-15 (bit j: lane j negative, the VPR.P0 predicate as is) and its magnitude in bits
              16-31 (the top half SMLABT multiplies by).

The cost model counts retired instructions under QEMU -icount (not cycles), per layer.
"""

from __future__ import annotations

import numpy as np

VECTOR_BYTES = 16  # one Q register of int8 lanes
ROW_GROUP = 4  # weight rows per activation load
POOL_WINDOW_PIXELS = 4  # a fused 2x2 max pool's window (munify_mve_matrix.h MVE_POOL_FUSED)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def pack_rows4(matrix: np.ndarray, blocks=None) -> dict[str, np.ndarray]:
    """Layout mve-rows4 of an int8 [rows, cols] matrix (every block kind stored as its int8 weights)."""
    matrix = np.asarray(matrix, np.int8)
    rows, cols = matrix.shape
    padded = np.zeros((_round_up(rows, ROW_GROUP), _round_up(cols, VECTOR_BYTES)), np.int8)
    padded[:rows, :cols] = matrix
    groups, steps = padded.shape[0] // ROW_GROUP, padded.shape[1] // VECTOR_BYTES
    tiles = padded.reshape(groups, ROW_GROUP, steps, VECTOR_BYTES).transpose(0, 2, 1, 3)
    return {"weights": tiles.reshape(-1)}


def pack_depthwise16(matrix: np.ndarray, blocks=None) -> dict[str, np.ndarray]:
    """Layout mve-dw16 of a depthwise matrix [channels, taps]."""
    matrix = np.asarray(matrix, np.int8)
    channels, taps = matrix.shape
    padded = np.zeros((channels, VECTOR_BYTES), np.int8)
    padded[:, :taps] = matrix
    return {"weights": padded.reshape(-1)}


def _sign_tile(tile: np.ndarray) -> bool:
    """Every row of the 4 x 16 tile is one nonzero magnitude with signs."""
    magnitudes = np.abs(tile.astype(np.int16))
    return bool(np.all(magnitudes == magnitudes[:, :1]) and np.all(magnitudes[:, 0] > 0))


def pack_tiles(matrix: np.ndarray, blocks=None, signs: bool = False) -> dict[str, np.ndarray]:
    """Layouts mve-tiles (`signs` False) and mve-tiles-signs of an int8 [rows, cols] matrix, cols % 16 == 0."""
    matrix = np.asarray(matrix, np.int8)
    rows, cols = matrix.shape
    padded = np.zeros((_round_up(rows, ROW_GROUP), cols), np.int8)
    padded[:rows] = matrix
    counts, steps, dense, unified_rows = [], [], [], []
    for g in range(padded.shape[0] // ROW_GROUP):
        tiles = [padded[g * ROW_GROUP:(g + 1) * ROW_GROUP, t * VECTOR_BYTES:(t + 1) * VECTOR_BYTES]
                 for t in range(cols // VECTOR_BYTES)]
        kept = [(t, tile) for t, tile in enumerate(tiles) if np.any(tile)]
        compact = [(t, tile) for t, tile in kept if signs and _sign_tile(tile)]
        full = [(t, tile) for t, tile in kept if not (signs and _sign_tile(tile))]
        counts += [len(full), len(compact)]
        steps += [t * VECTOR_BYTES for t, _ in full + compact]
        dense += [tile.reshape(-1) for _, tile in full]
        unified_rows += [_sign_rows(tile) for _, tile in compact]
    arrays = {"counts": np.array(counts, np.uint16), "steps": np.array(steps or [0], np.uint16),
              "dense_weights": _concat(dense, np.int8)}
    if signs:
        arrays["unified_rows"] = _concat(unified_rows, np.uint32)
    return arrays


def _sign_rows(tile: np.ndarray) -> np.ndarray:
    """The 4 row words of a sign tile: sign mask | magnitude << 16."""
    magnitudes = np.abs(tile[:, 0].astype(np.int64)).astype(np.uint32)
    bits = (tile < 0).astype(np.uint32) << np.arange(VECTOR_BYTES, dtype=np.uint32)
    return bits.sum(axis=1).astype(np.uint32) | magnitudes << np.uint32(16)


def _concat(pieces: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(pieces).astype(dtype) if pieces else np.zeros(1, dtype)


def _sign_block(block: np.ndarray) -> bool:
    magnitudes = np.abs(block.astype(np.int16))
    return bool(np.all(magnitudes == magnitudes[0]) and magnitudes[0] > 0)


def pack_row_blocks(matrix: np.ndarray, blocks=None, signs: bool = False) -> dict[str, np.ndarray]:
    """Layouts mve-row-blocks (`signs` False) and mve-row-blocks-signs of an int8 [rows, cols] matrix over
    1 x bi blocks (bi from `blocks`, cols % bi == 0)."""
    matrix = np.asarray(matrix, np.int8)
    bi = blocks.bi
    lane_bits = VECTOR_BYTES // bi
    counts, offsets, dense, words = [], [], [], []
    for row in matrix:
        kept = [(j, row[j:j + bi]) for j in range(0, len(row), bi) if np.any(row[j:j + bi])]
        compact = [(j, b) for j, b in kept if signs and _sign_block(b)]
        full = [(j, b) for j, b in kept if not (signs and _sign_block(b))]
        counts += [len(full), len(compact)]
        offsets += [j for j, _ in full + compact]
        dense += [b for _, b in full]
        for _, b in compact:
            negative = np.repeat(b < 0, lane_bits).astype(np.uint32) << np.arange(VECTOR_BYTES, dtype=np.uint32)
            words.append(int(negative.sum()) | int(abs(int(b[0]))) << 16)
    arrays = {"counts": np.array(counts, np.uint16), "offsets": np.array(offsets or [0], np.uint16),
              "dense_weights": _concat(dense, np.int8)}
    if signs:
        arrays["unified_words"] = np.array(words or [0], np.uint32)
    return arrays


# ---------------------------------------------------------------------------------------------------------
# Geometry shared with the C headers (the same conditions as their macros)

def reads_in_place(params: dict) -> bool:
    """munify_mve_matrix.h MVE_IN_PLACE: interior patches are read from the input, not gathered."""
    return params["pointwise"] or (params["dil_w"] == 1 and params["kw"] * params["cin"] % VECTOR_BYTES == 0)


def matrix_scratch(params: dict) -> int:
    """munify_mve_matrix.h: one pixel's accumulators (fused with a pool, a window's four pixels'), then a gathered
    patch (the offsets of munify_mve_tiles.h follow it, so pointwise layers keep its room too)."""
    pixels = POOL_WINDOW_PIXELS if params["pool_fused"] else 1
    return pixels * 4 * _round_up(params["cout"], ROW_GROUP) + _round_up(params["k"], 4)


def segmented(params: dict) -> bool:
    """munify_mve_matrix.h MVE_SEGMENTED: the reduction runs over kh kernel rows of the input."""
    return not params["pointwise"] and reads_in_place(params)


def tiles_scratch(params: dict) -> int:
    """The gathered patch, then (segmented layers) the steps as input offsets: at most one per tile."""
    tiles = -(-params["cout"] // ROW_GROUP) * (params["k"] // VECTOR_BYTES)
    return matrix_scratch(params) + (2 * tiles if segmented(params) else 0)


def tiles_fit(params: dict) -> bool:
    """4 x 16 blocks (the kernel's tile), the reduction in whole 16-byte steps, the input offsets of a
    segmented patch within uint16."""
    if (params["bo"], params["bi"]) != (ROW_GROUP, VECTOR_BYTES):
        return False
    if params["batches"] != 1 or params["k"] % VECTOR_BYTES:
        return False
    span = (params["kh"] - 1) * params["dil_h"] * params["in_w"] * params["cin"] + params["kw"] * params["cin"]
    return not segmented(params) or span <= 0xFFFF


# The expansion costs about 2 instructions per weight (1x8 blocks), the dense kernel about 0.16 per weight and
# output pixel: below 32 pixels the expansion outweighs half the kernel's work, and the block kernels that
# skip pruned blocks at every pixel win (FULLY_CONNECTED has one).
UNPACK_MIN_PIXELS = 32


def row_blocks_fit(params: dict) -> bool:
    """One input vector, 1 x 4 / 8 / 16 row blocks (one widening load each) in whole blocks, offsets in uint16."""
    return (single_image(params) and params["bi"] in (4, 8, 16) and params["k"] % params["bi"] == 0
            and params["k"] <= 0xFFFF)


def row_blocks_scratch(params: dict) -> int:
    """munify_mve_row_blocks.h: the row accumulators."""
    return 4 * _round_up(params["cout"], ROW_GROUP)


def unpack_fits(params: dict) -> bool:
    """Block-structured weights (bi 2, 4, 8, 16: a block row is one predicated vector store inside one 16-byte
    step) that the tile kernels do not take (they skip pruned 4 x 16 tiles at every pixel), batch 1, and enough
    output pixels to spread the expansion over."""
    return (single_image(params) and params["bi"] in (2, 4, 8, 16) and not tiles_fit(params)
            and params["out_h"] * params["out_w"] >= UNPACK_MIN_PIXELS)


def unpack_scratch(params: dict) -> int:
    """munify_mve_unpack.h: the matrix kernel's scratch rounded up to 16, then the weights as mve-rows4."""
    rows4 = _round_up(params["cout"], ROW_GROUP) * _round_up(params["k"], VECTOR_BYTES)
    return _round_up(matrix_scratch(params), VECTOR_BYTES) + rows4


def depthwise_plane(params: dict) -> tuple[int, int]:
    """Rows and columns of one channel's zero-padded input plane (munify_mve_depthwise.h)."""
    rows = max(params["pad_top"] + params["in_h"],
               (params["out_h"] - 1) * params["stride_h"] + (params["kh"] - 1) * params["dil_h"] + 1)
    cols = max(params["pad_left"] + params["in_w"],
               (params["out_w"] - 1) * params["stride_w"] + (params["kw"] - 1) * params["dil_w"] + 1)
    return rows, cols


def depthwise_scratch(params: dict) -> int:
    """The zero-padded planes, then a uint16 window offset per output pixel (padded to 4 pixels)."""
    rows, cols = depthwise_plane(params)
    pixels = params["out_h"] * params["out_w"]
    return _round_up(params["cin"] * rows * cols, 4) + 2 * _round_up(pixels, 4)


def depthwise_fits(params: dict) -> bool:
    """One gather of 8-bit offsets reads a channel's window: at most 16 taps, spread over at most 256 bytes."""
    if (params["batches"] != 1 or params["depth_multiplier"] != 1 or params["taps"] > VECTOR_BYTES
            or 4 * params["cin"] > 4095 or params["out_h"] * params["out_w"] // 4 > 0xFFFF):
        return False
    rows, cols = depthwise_plane(params)
    if 7 * rows * cols > 0xFFFF:  # the planes of 8 channels are 16-bit scatter offsets apart
        return False
    span = (params["kh"] - 1) * params["dil_h"] * cols + (params["kw"] - 1) * params["dil_w"]
    return span < 256


def single_image(params: dict) -> bool:
    return params["batches"] == 1


# ---------------------------------------------------------------------------------------------------------
# Cost model: retired instructions (QEMU -icount), per layer

LAYER_CALL = 40.0
STEP = 9.5  # per 16 reduction elements of 4 rows: 1 + 4 loads, 4 VMLADAVA, loop
GROUP = 28.0  # per 4 rows of one pixel: accumulators, bias, requantization, store
GATHER_TAP = 9.0  # per kernel tap of a gathered patch
DW_OUTPUT = 6.0  # per depthwise output: a gather and a VMLADAVA, its share of the requantization
DW_INPUT = 1.0  # per input byte copied into the padded planes
POOL_TAP = 3.0  # per window tap of one vector of channels (pool facts count output elements x taps)
ADD_ELEMENT = 6.5  # 4 lanes a step: two rescaled inputs, their sum requantized


def mve_window_terms(rows: int, cols: int, patch_row: int, windows: int, inside: int,
                     patch_copies: float) -> list[float]:
    """The terms of a conv fused with its pool (munify_mve_matrix.h mve_matrix_pool), per layer: the 16-input
    steps of the four pixels' dot products, their segments (a kernel row each where the patch is read in place),
    per window and 4 rows the maximum and one requantization, the gathered patches' copies (every pixel's when
    the patch is not read in place, else the border windows' four), per pixel."""
    groups = -(-rows // ROW_GROUP)
    in_place = patch_copies == 0 or patch_row % VECTOR_BYTES == 0  # pointwise, or whole 16-byte kernel rows
    segments = cols // patch_row if in_place and patch_copies else 1
    gathered = POOL_WINDOW_PIXELS * (windows - inside if in_place else windows)
    pixels = POOL_WINDOW_PIXELS * windows
    return [pixels * groups * -(-cols // VECTOR_BYTES), pixels * groups * segments, windows * groups,
            gathered * patch_copies, pixels]


# Fused with a 2x2 / stride 2 max pool: the coefficients of mve_window_terms (by f.speed_build: False the board's
# -O2, True -O3), fitted to exact counts (benchmarks/kernels/simd_pool_fusion.py: 8 conv + pool layers and the
# MNIST CNN's; within 3.3% but a 16 x 16 x 3 -> 8 layer at -O3, +7.0%)
MVE_WINDOW = {False: (9.48, 14.17, 32.2, 20.02, 12.53), True: (9.73, 5.12, 54.86, 17.68, 0.0)}


def _window_cost(f) -> float:
    terms = mve_window_terms(f.rows, f.cols, f.patch_row, f.pool_windows, f.inside_windows, f.patch_copies)
    return LAYER_CALL + float(np.dot(terms, MVE_WINDOW[f.speed_build]))


def matrix_cost(f) -> float:
    """`f` is a LayerFacts; gathers are charged as if every patch were gathered when cols % 16 != 0."""
    if f.pool_windows:
        return _window_cost(f)
    groups = -(-f.rows // ROW_GROUP)
    steps = -(-f.cols // VECTOR_BYTES)
    gather = 0.0 if f.cols % VECTOR_BYTES == 0 else f.cols / 4 * GATHER_TAP / 4
    return LAYER_CALL + f.positions * (groups * (steps * STEP + GROUP) + gather)


TILE = 12.0  # per dense tile left: its offset, 1 + 4 loads, 4 VMLADAVA, loop
SIGN_TILE = 22.0  # per unified tile: its step, 2 LDRD of row words, per row VMSR P0, VPSEL -1 / +1, VMLADAV, SMLABT
TILES_GROUP = 36.0


def tiles_cost(signs: bool):
    """Tiles are counted from the LayerFacts as 4 x 16 blocks: listed blocks minus (signs) unified ones."""
    def cost(f) -> float:
        groups = -(-f.rows // ROW_GROUP)
        blocks = f.listed_blocks if f.full_blocks else groups * (f.cols // VECTOR_BYTES)
        unified = f.unified_rows // ROW_GROUP if signs else 0
        return LAYER_CALL + f.positions * (groups * TILES_GROUP + (blocks - unified) * TILE + unified * SIGN_TILE)
    return cost


UNPACK_BLOCK = 15.0  # per full block, once per call: its 2-bit kind, a copy or VPSEL of +-m
# (measured: 15.2, the MNIST CNN's 48 x 288 1x8 layer against conv_dense_mve, both at -O2)
UNPACK_EDGE = 6.0  # per weight of the edge blocks (byte copies)
UNPACK_FILL = 1.0 / 16  # per byte of the expanded matrix (zeroed first)


def unpack_cost(f) -> float:
    """The dense kernel plus, once per call, the expansion of the blocks-min weights."""
    edge = f.rows * (f.cols % max(f.bi, 1))  # the partial column blocks (LayerFacts has no bo for row tails)
    rows4 = _round_up(f.rows, ROW_GROUP) * _round_up(f.cols, VECTOR_BYTES)
    return matrix_cost(f) + f.full_blocks * UNPACK_BLOCK + edge * UNPACK_EDGE + rows4 * UNPACK_FILL


ROW_BLOCK = 6.0  # per dense 1 x bi block: its offset, 2 widening loads, VMLADAVA, loop
SIGN_BLOCK = 9.0  # per unified block: its offset, activation load, its word, VMSR P0, VPSEL, VMLADAV, SMLABT, loop
BLOCK_ROW = 22.0  # per row: its counts, the loops' set-up, the accumulator store (fitted: MNIST CNN admm75 / 90 FC)
BLOCK_REQUANT = 7.0  # per 4 rows: bias, requantization, store


def row_blocks_cost(signs: bool):
    """Blocks are counted from the LayerFacts as 1 x bi row blocks: the weights not pruned, bi a block (the
    reduction is whole blocks, so only the rows % bo edge rows are outside full blocks, and they are dense)."""
    def cost(f) -> float:
        kept_rows = (f.dense_weights + f.unified_weights) // max(f.bi, 1)
        unified = f.unified_rows if signs else 0
        return (LAYER_CALL + f.rows * BLOCK_ROW + -(-f.rows // ROW_GROUP) * BLOCK_REQUANT
                + (kept_rows - unified) * ROW_BLOCK + unified * SIGN_BLOCK)
    return cost


def depthwise_cost(f) -> float:
    return LAYER_CALL + f.positions * f.rows * DW_OUTPUT + f.positions * f.rows * DW_INPUT


def elementwise_cost(per_element: float):
    return lambda f: LAYER_CALL + f.positions * per_element
