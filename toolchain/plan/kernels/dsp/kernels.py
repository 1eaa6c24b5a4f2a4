"""Cortex-M DSP kernels (codegen_templates/kernels/dsp/): packed weight layouts, cost model, registry entries.

Layouts (the C side documents the same in each kernel's header comment):
  dsp-fc4     dense FC: rows in groups of 4, for each group of 4 inputs the 4 rows' 4 bytes (one LDM);
              then the rows % 4 last rows one after the other; inputs padded to a multiple of 4 with zeros.
  dsp-conv2   dense matrix for im2col convolutions: rows in pairs (a zero row added to an odd count), for each
              group of 4 reduction elements the 2 rows' 4 bytes (one LDRD); reduction padded to a multiple of 4.
  dsp-conv1ch CONV_2D over one input channel, at most 9 taps: per output channel five words of int16 weights
              in the widened taps' order (w0, w2) (w1, w3) (w4, w6) (w5, w7) (w8, 0).
  dsp-dw      depthwise, channels a multiple of 4: int8, for each group of 4 channels, for each pair of taps
              (a zero tap added to an odd count), the words (c0 t, c2 t, c0 t+1, c2 t+1), (c1 ..., c3 ...).
  dsp-blocks-wide / dsp-blocks-bits / dsp-blocks-wide16 (1 x bi, speed: dense weights int16; FC and conv quads)
              bo x bi blocks (bi 4, 8 or 16): per row block, the dense blocks (column, int8 weights) and the unified
              blocks: with 1 x bi blocks and mask bytes as records (column | last << 15 | magnitude << 16, then
              bi mask bytes), with CONV_2D 1 x 4 / 1 x 8 and sign bits as one-word sign records (signs | step << 8
              | last << 15 | magnitude << 16), else as lists (column, mask or sign bytes, int16 magnitudes);
              pruned blocks are absent. With 1 x bi blocks the last dense column of each row carries bit 15.
              See pack_blocks, docs/FORMAT.md and codegen_templates/kernels/dsp/munify_dsp_blocks_scalar.h.
  dsp-blocks-table  CONV_2D 1 x bi (speed): as dsp-blocks-wide16, but a unified block is a table record, the byte
              offsets of its signed sums in the pixel quads' tables (per 4 inputs, 16 sign patterns) and its
              magnitude (1 x 4: offset | magnitude << 16; 1 x 8: offset | offset << 16, magnitude).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from ....ir.blocks import BlockKind, BlockStructure, grid_shape
from ...variant import ALL_KINDS, KernelVariant


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _pad_cols(matrix: np.ndarray, multiple: int) -> np.ndarray:
    rows, cols = matrix.shape
    out = np.zeros((rows, _round_up(cols, multiple)), np.int8)
    out[:, :cols] = matrix
    return out


def pack_fc_dense(matrix: np.ndarray) -> np.ndarray:
    """Layout dsp-fc4 of an int8 [rows, cols] matrix."""
    padded = _pad_cols(np.asarray(matrix, np.int8), 4)
    rows, cols = padded.shape
    full = rows // 4 * 4
    groups = padded[:full].reshape(rows // 4, 4, cols // 4, 4).transpose(0, 2, 1, 3)
    return np.concatenate([groups.reshape(-1), padded[full:].reshape(-1)])


def pack_conv_dense(matrix: np.ndarray) -> np.ndarray:
    """Layout dsp-conv2 of an int8 [rows, reduction] matrix."""
    padded = _pad_cols(np.asarray(matrix, np.int8), 4)
    if len(padded) % 2:
        padded = np.concatenate([padded, np.zeros((1, padded.shape[1]), np.int8)])
    rows, cols = padded.shape
    return padded.reshape(rows // 2, 2, cols // 4, 4).transpose(0, 2, 1, 3).reshape(-1)


CONV_1CH_TAPS = 9  # dsp-conv1ch: at most 9 taps (3x3) over one input channel
CONV_1CH_WORDS = 5  # int16-pair words of weights per output channel


def pack_conv_1ch(matrix: np.ndarray) -> np.ndarray:
    """Layout dsp-conv1ch of an int8 [rows, taps] matrix (one input channel, taps <= 9): per row five words of
    int16 weights in the widened taps' order (w0, w2) (w1, w3) (w4, w6) (w5, w7) (w8, 0)."""
    matrix = np.asarray(matrix, np.int8)
    padded = np.zeros((len(matrix), 12), np.int16)
    padded[:, :matrix.shape[1]] = matrix
    ordered = padded.reshape(len(matrix), 3, 4)[:, :, (0, 2, 1, 3)].reshape(len(matrix), 12)
    return ordered[:, :2 * CONV_1CH_WORDS].reshape(-1)


def pack_depthwise(matrix: np.ndarray) -> np.ndarray:
    """Layout dsp-dw of a depthwise matrix [channels, taps] (`weight_matrix` view), channels a multiple of 4."""
    matrix = np.asarray(matrix, np.int8)
    channels, taps = matrix.shape
    padded = np.zeros((channels, _round_up(taps, 2)), np.int8)
    padded[:, :taps] = matrix
    pairs = padded.reshape(channels // 4, 4, -1, 2)  # [group, channel, pair, tap in pair]
    # word A: c0 t, c2 t, c0 t+1, c2 t+1; word B: the same of c1, c3
    words = [pairs[:, (lo, hi), :, :].transpose(0, 2, 3, 1) for lo, hi in ((0, 2), (1, 3))]
    return np.stack(words, axis=2).reshape(-1)


LAST_BLOCK_FLAG = 0x8000  # dsp-blocks dense_cols / unified_cols (bo 1): a row's last block; columns stay below
MAX_BLOCK_COLS = LAST_BLOCK_FLAG


def pixel_quads(conv: bool, bo: int, bi: int) -> bool:
    """CONV_2D with 1 x bi blocks runs four output pixels at a time (munify_dsp_conv_blocks_1xn_s8.h)."""
    return conv and bo == 1


def layout_bi(conv: bool, bo: int, bi: int) -> int:
    """The block width of the packed layout: the pixel quads store a 1 x 16 block as two 1 x 8 blocks."""
    return 8 if pixel_quads(conv, bo, bi) and bi == 16 else bi


def _split_blocks(blocks, bi: int):
    """The same kinds over blocks of width bi (a divisor of blocks.bi); blocks inside the edge stay dense."""
    factor = blocks.bi // bi
    full = blocks.cols // blocks.bi * factor
    kinds = np.full(grid_shape(blocks.rows, blocks.cols, blocks.bo, bi), BlockKind.DENSE, np.uint8)
    kinds[:, :full] = np.repeat(blocks.kinds[:, : full // factor], factor, axis=1)
    return kinds


# How a layout stores its unified blocks: "masks" (mask bytes or sign bits, per sign_bits), "table" (table
# records, dsp-blocks-table) or "pairs" (pair records, dsp-blocks-pairs).
RECORD_KINDS = ("masks", "table", "pairs")


def pack_blocks(matrix: np.ndarray, blocks, sign_bits: bool, conv: bool = False,
                dense16: bool = False, records: str = "masks") -> dict[str, np.ndarray]:
    """Layouts dsp-blocks-wide (sign_bits False) and dsp-blocks-bits of a block-structured int8 matrix, and with
    `dense16` / `records` dsp-blocks-wide16, dsp-blocks-table and dsp-blocks-pairs.

    The partial last column block of a row block becomes one more dense block, padded with zero weights to bi.
    With bo 1, the last dense column of each row has LAST_BLOCK_FLAG set, and so has the last unified record
    (mask bytes; or sign records in the CONV_2D pixel-quad kernels, `conv` with 1 x 4 and 1 x 8 blocks).
    `dense16` (layout dsp-blocks-wide16) stores the dense blocks' weights as int16 in SXTB16 order: for every 4
    weights w0, w2, w1, w3. `records` "table" (layout dsp-blocks-table, CONV_2D 1 x bi) stores unified blocks as
    table records (_table_record; no unified_bias, no LAST_BLOCK_FLAG: the kernel counts them); "pairs" (layout
    dsp-blocks-pairs, FULLY_CONNECTED 1 x bi) stores a row's unified blocks as pair records, one per group of 8
    inputs that a unified block covers (_pair_records; no unified_bias, counted).
    The CONV_2D pixel quads (`conv`, bo 1) read one stream instead of dense_cols, dense_weights and
    unified_records (left empty): row_stream, every row's dense blocks and then its records (_row_stream).
    """
    if records not in RECORD_KINDS:
        raise ValueError(f"unknown record kind {records!r}")
    table, pairs = records == "table", records == "pairs"
    matrix = np.asarray(matrix, np.int8)
    rows, cols = matrix.shape
    if layout_bi(conv, blocks.bo, blocks.bi) != blocks.bi:
        bi = layout_bi(conv, blocks.bo, blocks.bi)
        blocks = BlockStructure.from_matrix(matrix, _split_blocks(blocks, bi), blocks.bo, bi)
    bo, bi = blocks.bo, blocks.bi
    full_rows, tail_col = rows // bo * bo, cols // bi * bi
    padded = _pad_cols(matrix, bi)
    counts, dense_cols, dense_w, unified_cols, signs, mags, records = [], [], [], [], [], [], []
    stream = []  # the pixel quads' rows, one stream (_row_stream)
    quads = pixel_quads(conv, bo, bi)
    unified_bias = np.zeros(rows, np.int64)
    for rb in range(full_rows // bo):
        r0 = rb * bo
        kinds = blocks.kinds[rb, : tail_col // bi]
        dense = list(np.flatnonzero(kinds == BlockKind.DENSE)) + ([tail_col // bi] if tail_col < cols else [])
        unified = np.flatnonzero(kinds == BlockKind.UNIFIED)
        counts += [len(dense), len(unified)]
        row_dense_at = len(dense_cols)
        for cb in dense:
            dense_cols.append(cb * bi)
            block = padded[r0:r0 + bo, cb * bi:(cb + 1) * bi].reshape(-1)
            dense_w.append(block.reshape(-1, 4)[:, (0, 2, 1, 3)].reshape(-1) if dense16 else block)
        if bo == 1 and dense:
            dense_cols[-1] |= LAST_BLOCK_FLAG
        row_records, at = [], 0
        if pairs:
            row_records = _pair_records(matrix[r0], unified, bi)
            unified = []
        for cb in unified:
            tile = matrix[r0:r0 + bo, cb * bi:(cb + 1) * bi].astype(np.int64)
            negative = tile < 0
            magnitude = np.abs(tile).max(axis=1)
            mask = _sign_bytes(negative, sign_bits)
            if table and pixel_quads(conv, bo, bi):
                row_records.append(_table_record(cb * bi, negative[0], int(magnitude[0])))
                continue
            positives = bi - negative.sum(axis=1)
            unified_bias[r0:r0 + bo] -= magnitude * (128 * positives + 127 * negative.sum(axis=1))
            if pixel_quads(conv, bo, bi) and sign_bits:
                row_records += _sign_records(cb - at, int(mask[0]), int(magnitude[0]))
                at = cb
            elif unified_records(bo, sign_bits):
                row_records.append([cb * bi | int(magnitude[0]) << 16, *mask.view("<u4")])
            else:
                unified_cols.append(cb * bi)
                mags.append(magnitude)
                signs.append(mask)
        if row_records and not (table or pairs):
            row_records[-1][0] |= LAST_BLOCK_FLAG
        counts[-1] = len(row_records) or len(unified)
        if table and bi == 8:
            row_records = _table_record_pairs(row_records)
        if quads:
            stream += _row_stream(dense_cols[row_dense_at:], dense_w[row_dense_at:], np.int16 if dense16 else np.int8,
                                  row_records, counts[-1] if table else None)
        else:
            records += row_records
    if quads:
        dense_cols, dense_w = [], []
    return {
        "counts": np.array(counts, np.uint16),
        "dense_cols": np.array(dense_cols, np.uint16),
        "dense_weights": _concat(dense_w, np.int16 if dense16 else np.int8),
        "unified_cols": np.array(unified_cols, np.uint16),
        "unified_signs": _concat(signs, np.uint8),
        "unified_magnitudes": _concat(mags, np.int16),
        "unified_records": np.array([word for record in records for word in record], np.uint32),
        "row_stream": np.array(stream, np.uint32),
        "tail_weights": _pad_cols(matrix[full_rows:], 4).reshape(-1),
        "unified_bias": unified_bias.astype(np.int32),
    }


def _row_stream(cols: list[int], weights: list[np.ndarray], weight_type, records: list[list[int]],
                table_count: int | None) -> list[int]:
    """One row of the pixel quads' row stream; one pointer walks the rows one after the other. Its dense blocks:
    int16 weights (dsp-blocks-wide16, dsp-blocks-table) per block its column word (column | last << 15), then its weights; int8
    weights the row's column halfwords first (padded to a word: row_columns_bytes), then the blocks' weights (so
    they take no more bytes than the separate lists). Then (table records, when the row has any: their count)
    the row's unified records."""
    if weight_type == np.int16:
        words = []
        for col, block in zip(cols, weights):
            words += [int(col), *np.ascontiguousarray(block, np.int16).view("<u4").tolist()]
    else:
        halves = np.zeros(row_columns_bytes(len(cols)) // 2, np.uint16)
        halves[:len(cols)] = cols
        words = halves.view("<u4").tolist() + _concat(weights, np.int8).view("<u4").tolist()
    if table_count and records:
        words.append(table_count)
    return words + [int(word) for record in records for word in record]


def row_columns_bytes(dense_blocks: int) -> int:
    """The bytes of a row's column halfwords in the row stream with int8 weights (whole words)."""
    return _round_up(2 * dense_blocks, 4)


TABLE_ENTRY_BYTES = 8  # one table entry: the four pixels' int16 signed sums (a | b << 16, c | d << 16)
MAX_TABLE_COLS = 2048  # table offsets are 16 bits


def table_block_bytes(bi: int) -> int:
    """Table bytes per block of bi (4 or 8) inputs. Pattern s and its complement have opposite sums, so a
    record whose last weight is negative flips every sign and negates its magnitude: 1 x 4 keeps the 8 patterns
    with weight 3 positive; 1 x 8 all 16 of inputs 0-3, then the 8 of inputs 4-7 with weight 7 positive."""
    return (8 if bi == 4 else 24) * TABLE_ENTRY_BYTES


def _table_record(col: int, negative: np.ndarray, magnitude: int) -> list[int]:
    """1 x 4: [offset | magnitude << 16]; 1 x 8: [offset(inputs 0-3) | offset(inputs 4-7) << 16, magnitude]
    (then paired by _table_record_pairs)
    (magnitudes int16 / int32, negated when the signs are flipped, see table_block_bytes). The offset of the
    block from column c with sign bits s (bit j: weight j negative) is c / bi * table_block_bytes(bi) + s * 8,
    the inputs 4-7 of a 1 x 8 block 128 bytes further."""
    bi = len(negative)
    if negative[-1]:
        negative, magnitude = ~negative, -magnitude
    base = col // bi * table_block_bytes(bi)
    signs = [int(np.packbits(negative[at:at + 4], bitorder="little")[0]) for at in range(0, bi, 4)]
    if bi == 4:
        return [base + signs[0] * TABLE_ENTRY_BYTES | (magnitude & 0xFFFF) << 16]
    return [base + signs[0] * TABLE_ENTRY_BYTES | (base + 16 * TABLE_ENTRY_BYTES + signs[1] * TABLE_ENTRY_BYTES) << 16,
            magnitude & 0xFFFFFFFF]


def _table_record_pairs(records: list[list[int]]) -> list[list[int]]:
    """A row's 1 x 8 table records two by two, so one LDM loads two: [offsets, offsets, m | m' << 16] (int16
    magnitudes); an odd count's first record stays [offsets, magnitude]."""
    lone, rest = records[:len(records) % 2], records[len(records) % 2:]
    return lone + [[first[0], second[0], (first[1] & 0xFFFF) | (second[1] & 0xFFFF) << 16]
                   for first, second in zip(rest[::2], rest[1::2])]


PAIR_GROUP = 8  # dsp-blocks-pairs: inputs per table group (two halves of 4)
PAIR_GROUP_BYTES = 64 * 4  # its 64 entries (int16 pairs) of one column
MAX_PAIR_COLS = 1024  # the pair table takes 32 bytes of scratch per input: at most 32 KiB


def _pair_half(weights: np.ndarray) -> tuple[int, int]:
    """(pattern, magnitude) of 4 unified weights: bit j of the pattern set when weight j (0-2) is negative;
    when weight 3 is negative every sign flips and the magnitude is negated (the table keeps weight 3
    positive)."""
    negative = weights < 0
    magnitude = int(np.abs(weights.astype(np.int64)).max())
    if negative[3]:
        negative, magnitude = ~negative, -magnitude
    return int(np.packbits(negative[:3], bitorder="little")[0]), magnitude


def _pair_records(row: np.ndarray, unified: np.ndarray, bi: int) -> list[list[int]]:
    """The pair records of one row (dsp-blocks-pairs): for every group g of 8 inputs a unified block covers,
    the words `g * 256 + (lo | hi << 3) * 4` (the byte offset of the table entry) and `m_lo | m_hi << 16`
    (int16 magnitudes; 0 for a half no unified block covers), lo / hi the patterns of its two halves."""
    halves: dict[int, tuple[int, int]] = {}
    for cb in unified:
        for at in range(cb * bi, (cb + 1) * bi, 4):
            halves[at // 4] = _pair_half(row[at:at + 4])
    records = []
    for group in sorted({half // 2 for half in halves}):
        lo, m_lo = halves.get(2 * group, (0, 0))
        hi, m_hi = halves.get(2 * group + 1, (0, 0))
        records.append([group * PAIR_GROUP_BYTES + (lo | hi << 3) * 4, (m_lo & 0xFFFF) | (m_hi & 0xFFFF) << 16])
    return records


MAX_SIGN_RECORD_STEP = 127  # block columns one sign record may advance; longer gaps take filler records


def _sign_records(step: int, signs: int, magnitude: int) -> list[list[int]]:
    """Sign records of the CONV_2D 1 x 4 / 1 x 8 kernels (dsp-blocks-bits): the word signs | step << 8 |
    last << 15 | magnitude << 16, step = block columns after the row's previous unified block (the first:
    after column 0). A longer step goes through fillers of magnitude 0, which add nothing."""
    fillers = []
    while step > MAX_SIGN_RECORD_STEP:
        fillers.append([MAX_SIGN_RECORD_STEP << 8])
        step -= MAX_SIGN_RECORD_STEP
    return fillers + [[signs | step << 8 | magnitude << 16]]


def unified_records(bo: int, sign_bits: bool) -> bool:
    """1 x bi blocks with mask bytes store each unified block as one record the kernels load with one LDM:
    the word `column | last-of-row << 15 | magnitude << 16`, then its bi mask bytes (munify_dsp_blocks_common.h)."""
    return bo == 1 and not sign_bits


def _sign_bytes(negative: np.ndarray, sign_bits: bool) -> np.ndarray:
    """[bo, bi] booleans -> mask bytes (0xFF negative) or little-endian sign bits, ceil(bi/8) bytes a row."""
    if not sign_bits:
        return np.where(negative, 0xFF, 0).astype(np.uint8).reshape(-1)
    bo, bi = negative.shape
    padded = np.zeros((bo, -(-bi // 8) * 8), bool)
    padded[:, :bi] = negative
    return np.packbits(padded, axis=1, bitorder="little").reshape(-1)


def _concat(pieces: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(pieces).astype(dtype) if pieces else np.zeros(0, dtype)


# ---------------------------------------------------------------------------------------------------------
# Cost model: retired instructions on a Cortex-M4 (QEMU -icount), least-squares fits (of the relative error) of
# benchmarks/kernels/calibrate.py over a sweep of layers (worst error 1-5%). Per position (output pixel or batch).

LAYER_CALL = 50.0
# 4x4 SMLAD step: 74 instructions per 64 MACs, unrolled 4 times; the rows % 4 last rows one at a time
FC_MAC, FC_TAIL_MAC, FC_ROW, FC_INPUT = 1.17, 2.12, 23.3, 2.5
# 2x2 step unrolled 4x: 58 per 64 MACs; per im2col copy (memcpy / memset of a kernel row or a tap) 24
CONV_MAC, CONV_OUTPUT, CONV_INPUT, CONV_COPY = 0.90, 21.2, 3.16, 24.3
DW_MAC, DW_OUTPUT, DW_TAP = 2.77, 20.5, 7.6  # 2 taps x 4 channels: 21 per 8 MACs


@dataclass(frozen=True)
class BlockCosts:
    """Instructions per dense weight, unified weight, unified block row, listed (not pruned) block, row, input,
    and (table records) per input of the pixel quads' tables, built when the layer has unified blocks."""

    dense: float
    unified: float
    unified_row: float
    listed: float
    row: float
    input: float
    tables: float = 0.0
    copy: float = 0.0  # per im2col copy (the conv pixel quads: the dense conv's CONV_COPY, not fitted)

    def __call__(self, f) -> float:
        copies = quad_patch_copies(f.patch_copies, f.inside_rows, f.patch_row, f.bi) if self.copy else 0.0
        per_position = (f.dense_weights * self.dense + f.unified_weights * self.unified
                        + f.unified_rows * self.unified_row + f.listed_blocks * self.listed
                        + f.rows * self.row + f.cols * self.input + copies * self.copy
                        + (f.cols * self.tables if f.unified_weights else 0.0))
        return LAYER_CALL + f.positions * per_position - f.pool_windows * f.rows * QUAD_WINDOW_ROW_SAVING


# A conv pixel quad that is a pool window (f.pool_windows, only the quads fuse): per row one requantization of the
# four accumulators' maximum (blocks_output_window: ~20 instructions) instead of the quad's four outputs (~35) and
# their call: 18 fewer a row and window (kernel_bench, -O2, no clamp: 14 x 14 x 16 -> 32 and 7 x 7 x 32 -> 48 dense
# quads, mask bytes, sign bits, tables; the fused layers then within +0.4% .. +2.2% of the model). Stop 21
# (s21-driver): the fused driver's border patches out of line and the four pixels widened in one call; refit on
# the MNIST CNN's fused layers 4 and 8 (dense / admm75 / admm90, speed and balanced, `munify run`, exact plugin
# counts): 26 a row and window, every one of the 10 within -0.9% .. +1.1% (they were +0.4% .. +4.8% over at 18).
QUAD_WINDOW_ROW_SAVING = 26.0


def quad_patch_copies(patch_copies: float, inside_rows: float, patch_row: int, bi: int) -> float:
    """The im2col copies per pixel the conv pixel quads make: none for a pixel inside the input when its kernel
    rows are whole layout blocks (blocks_direct_rows: it reads them straight from the input)."""
    direct = patch_row > 0 and patch_row % layout_bi(True, 1, max(bi, 4)) == 0  # a dense layer packs 1 x 4
    return patch_copies - inside_rows if direct else patch_copies


# FC with 1 x bi blocks: one assembly loop over the rows; CONV_2D with 1 x bi blocks: the same for four output
# pixels at a time (costs per pixel; 1 x 16 runs as two 1 x 8 blocks); 2 x 4 and 2 x 8 blocks: an assembly
# loop over row pairs (one pixel at a time); other bo x bi: the C loops.
# (refit at stop 20 with the MNIST CNN's FC, 10 x 432, in the sweep: worst error 4.5% / 3.4%; it was 6-8% low there)
ROW_BLOCK_COSTS = {False: BlockCosts(0.612, 0.239, 0.702, 5.29, 50.7, 4.32),
                   True: BlockCosts(1.117, 0.831, 0.341, 5.33, 50.0, 4.30)}
@dataclass(frozen=True)
class WidthCosts:
    """The costs of a kernel family fitted apart for 1 x 16 blocks (the conv pixel quads run them as 1 x 8)."""

    narrow: BlockCosts
    sixteen: BlockCosts

    def __call__(self, f) -> float:
        return (self.sixteen if f.bi == 16 else self.narrow)(f)


# (fitted without activation clamps, as the models' ReLU with output zero point -128: the four-pixel
# requantization; a clamping lower bound adds ~3 per output)
# mask bytes (speed): dense blocks as int16 weights (dsp-blocks-wide16); the inputs widened and copied unsigned in
# one pass; the four-pixel requantization with the output offset in the nudges (requant_folds_offset: ~2 per
# output more where it does not hold, not modelled); interior pixels read from the input (quad_patch_copies: the
# copies' bytes were in the input term, hence its ~0 now)
# (refit at stop 20 with the DS-CNN's pointwise 64 -> 64 on 25 x 5 in the sweep, and the mask-byte layouts' last
# quad of one pixel run alone; refit at stop 21 on the row stream (row_stream: per row and pixel 16.8 -> 14.8 mask
# bytes, 19.6 -> 15.2 sign bits, 17.2 -> 15.5 tables) and the LDRD widening of word-aligned inputs, with the bench's
# pt50 mix on the 64 -> 64 shapes in the sweep: worst errors 4.5% / 4.7% (1 x 4, 1 x 8 mask bytes / sign bits),
# 5.1% / 5.2% (1 x 16); refit at stop 21 for the quad's four pixels widened in one call (blocks_widen_quad_runs:
# per input 2.11 -> 1.92 mask bytes, 1.99 -> 1.83 sign bits; worst errors 5.0% / 5.2%, 5.0% / 4.9% (1 x 16))
QUAD_BLOCK_COSTS = {False: WidthCosts(BlockCosts(0.639, 0.298, 1.21, 0.990, 14.4, 1.92, copy=CONV_COPY),
                                      BlockCosts(0.765, 0.566, 0.035, 0.083, 14.9, 1.75, copy=CONV_COPY)),
                    True: WidthCosts(BlockCosts(0.767, 0.360, 1.43, 1.28, 15.2, 1.83, copy=CONV_COPY),
                                     BlockCosts(0.937, 0.696, 0.044, 0.102, 15.2, 1.66, copy=CONV_COPY))}
# Table records: dense blocks as dsp-blocks-wide16 (int8 before stop 21); tables 3.3-3.6 per input when the layer
# has unified blocks (blocks_tables: 108 instructions a 1 x 8 block and pixel quad, 43 a 1 x 4 block; 4.4-4.8
# before stop 21's one-STRD entries). Refit at stop 21 with the 64 -> 64 ResNet-8 / DS-CNN shapes' unified mixes
# in the calibration: worst fit error 4.8% / 5.1% (1 x 16), both on a 64-input layer; refit on the row stream
# (per row and pixel 17.1 -> 15.0): worst fit error 6.4% / 6.5%, on the 5 x 5 pointwise 48 -> 64 half unified,
# half pruned; refit for the four pixels widened in one call (per input 2.01 -> 1.78, 2.17 -> 1.80; the fit's
# unified row -0.049 taken as 0): worst fit error 6.3% / 6.6%.
QUAD_TABLE_COSTS = WidthCosts(BlockCosts(0.648, 0.248, 0.0, 0.893, 15.1, 1.78, 3.40, copy=CONV_COPY),
                              BlockCosts(0.758, 0.344, 0.022, 0.069, 14.6, 1.80, 3.67, copy=CONV_COPY))


@dataclass(frozen=True)
class BiCosts:
    """The costs of a kernel family fitted apart per block width (bi 4, 8, 16)."""

    by_bi: tuple[tuple[int, BlockCosts], ...]

    def __call__(self, f) -> float:
        if not f.unified_weights:  # no table: the wide16 kernel and a scan of the rows' counts
            return ROW_BLOCK_COSTS[False](f) + 4.0 * f.rows
        return dict(self.by_bi)[f.bi](f)


# FC pair records: dense blocks as dsp-blocks-wide16; the pair table ~20 per input (1 x 4: the fit's input and
# table terms together) when the layer has unified blocks; a record ~2.5 (worst fit error 5% with 1 x 4, whose
# records are the groups of 8 inputs with a unified half, 1% with 1 x 8 and 1 x 16)
PAIR_TABLE_COSTS = BiCosts(((4, BlockCosts(2.00, 0.17, 0.04, 0.54, 72.5, -14.1, 34.7)),
                            (8, BlockCosts(1.23, 0.31, 0.04, 0.19, 54.9, 1.09, 19.9)),
                            (16, BlockCosts(1.00, 0.32, 0.02, 0.08, 56.7, 1.23, 19.7))))

BO2_BLOCK_COSTS = {False: BlockCosts(1.12, 0.49, 0.54, 4.93, 45.8, 3.2),
                   True: BlockCosts(1.12, 0.59, 1.63, 4.99, 43.0, 3.6)}
TILE_BLOCK_COSTS = {False: BlockCosts(3.31, 0.53, 11.1, 0.12, 42.4, 4.9),
                    True: BlockCosts(3.54, 1.71, 2.29, 0.16, 54.4, 2.2)}


def fc_dense_cost(f) -> float:
    padded = _round_up(f.cols, 4)
    macs = f.rows // 4 * 4 * padded * FC_MAC + f.rows % 4 * padded * FC_TAIL_MAC
    return LAYER_CALL + f.positions * (macs + f.rows * FC_ROW + f.cols * FC_INPUT)


# Both pixels requantized from one table entry without overflow check and offset ADD (f.folded_requant): 9.5
# instructions an output against ~14 (the MNIST CNN's convs at the board's -O2: 26,396 / 9,010 fewer)
CONV_FOLDED_OUTPUT_SAVING = 4.2


# Fused with a 2x2 / stride 2 max pool (f.pool_windows; munify_dsp_conv_dense_pool_s8): a window's two pixel pairs,
# then one requantization of each channel's maximum (conv_outputs_window: ~25 against the pairs' 2 x 19): 16 fewer
# a channel and window (kernel_bench, -O2: 14 x 14 x 16 -> 32 and 7 x 7 x 32 -> 48 within +1.2% / +0.5%)
CONV_WINDOW_ROW_SAVING = 16.0


def conv_dense_cost(f) -> float:
    output = CONV_OUTPUT - (CONV_FOLDED_OUTPUT_SAVING if f.folded_requant else 0.0)
    per_pixel = (f.rows * _round_up(f.cols, 4) * CONV_MAC + f.rows * output + f.cols * CONV_INPUT
                 + f.patch_copies * CONV_COPY)
    return LAYER_CALL + f.positions * per_pixel - f.pool_windows * f.rows * CONV_WINDOW_ROW_SAVING


# One input channel: per output 11 (LDM, LDR, 5 SMLAD, store, loop) + the requantization loop; per pixel the
# taps (3x3 inside the input: five PKHBT words; at the borders the gathered patch: per im2col copy). Fit of
# calibrate.py conv_1ch (worst error 6%: its random layers mix ReLU and no activation); per output 24.6, not the
# fit's 25.8, from the MNIST CNN's first conv (munify run --layers: 358,851 measured, no clamp)
CONV_1CH_OUTPUT, CONV_1CH_PIXEL, CONV_1CH_COPY = 24.6, 27.1, 13.5
# The requantization in the channel loop (f.folded_requant): 18 per output in the loop; 17.9 from the MNIST CNN's
# first conv between the board's -O2 (balanced: 287,828 measured) and -O3 (speed: 275,125), the fit of
# calibrate.py conv_1ch_fused 17.0 (its copies priced as the dense conv's)
CONV_1CH_FUSED_OUTPUT = 17.9


# Fused with a 2x2 / stride 2 max pool (f.pool_windows; munify_dsp_conv_1ch_pool_s8): per window and channel
# one pass over the four pixels (5 LDR, 5 LDM, 20 SMLAD, 9 for the maximum) and one requantization (its LDM
# also loads the next channel's bias); the taps into the interleaved buffer: a 3x3 window from four words of its
# 4 x 4 input block, read in place inside the input (f.inside_windows; conv_1ch_window_taps_inside, 41 in
# assembly), gathered with the zero point at the border; other kernels pixel by pixel. Fit of calibrate.py
# conv_1ch_pool (folded, no clamp, the board's -O2; worst error 0.1% over 5 layers; 3x3 windows are assumed
# stride 1); `--optimize speed` (-O3) builds the taps in 0.69 of that (the MNIST CNN's first conv: 177,292
# measured, 0.70). Not folded: the maximum stored and the requantization loop (~70 an output with both bounds
# clamped, 14 x 14 x 16 RELU6; unclamped ~8 less, as the output loop's clamps). (Refit at stop 21 for the
# assembly taps and the bias in the entries: per window and channel 51.2 -> 50.2, inside window 146.7 -> 77.0,
# border window 403.6 -> 327.1.)
CONV_1CH_WINDOW_FOLDED_OUTPUT, CONV_1CH_WINDOW_OUTPUT = 50.2, 62.0
CONV_1CH_INSIDE_WINDOW, CONV_1CH_BORDER_WINDOW, CONV_1CH_OTHER_PIXEL = 77.0, 327.1, 103.9
CONV_1CH_TAPS_SPEED_BUILD = 0.69


def _conv_1ch_window_cost(f) -> float:
    if (f.cols, f.patch_row) == (9, 3):  # 3x3: a window's taps from its 4 x 4 input block
        taps = (f.inside_windows * CONV_1CH_INSIDE_WINDOW
                + (f.pool_windows - f.inside_windows) * CONV_1CH_BORDER_WINDOW)
    else:
        taps = f.positions * CONV_1CH_OTHER_PIXEL
    per_output = CONV_1CH_WINDOW_FOLDED_OUTPUT if f.folded_requant else CONV_1CH_WINDOW_OUTPUT
    return (LAYER_CALL + f.pool_windows * f.rows * per_output
            + taps * (CONV_1CH_TAPS_SPEED_BUILD if f.speed_build else 1.0))


def conv_1ch_cost(f) -> float:
    if f.pool_windows:
        return _conv_1ch_window_cost(f)
    per_output = CONV_1CH_FUSED_OUTPUT if f.folded_requant else CONV_1CH_OUTPUT
    return LAYER_CALL + f.positions * (f.rows * per_output + CONV_1CH_PIXEL + f.patch_copies * CONV_1CH_COPY)


def depthwise_cost(f) -> float:
    return LAYER_CALL + f.positions * (f.rows * f.cols * DW_MAC + f.rows * DW_OUTPUT + f.cols * DW_TAP)


# ---------------------------------------------------------------------------------------------------------
# Scratch bytes (the same as each kernel's munify_dsp_*_scratch_size; the benchmark checks they agree).

REQUANT_ENTRY_BYTES = 20  # munify_dsp_requant: the per-channel requantization table in scratch
QUAD_ROW_HEAD_BYTES = 20  # MUNIFY_DSP_BLOCKS_ROW_BYTES of the conv pixel quads


def blocks_scratch(params: dict, conv: bool, records: str = "masks") -> int:
    """Requantization table, then per column in flight (4 for conv pixel quads, else room for 2) one accumulator
    per row, one widened column (2 bytes an input), one unsigned column (table records: instead the quads'
    tables, table_block_bytes per block) and (im2col) one patch; the pixel quads then a row head per row
    (QUAD_ROW_HEAD_BYTES: the flags word, bias + unified_bias four times) and an end head."""
    k = _round_up(params["k"], max(4, params["bi"]))
    quads = pixel_quads(conv, params["bo"], params["bi"])
    columns = 4 if quads else 2
    im2col = 0 if params["pointwise"] else columns * k
    bi = layout_bi(conv, params["bo"], params["bi"])
    unsigned = k // bi * table_block_bytes(bi) if records == "table" and quads else columns * k
    if records == "pairs":  # one column's pair table instead of the unsigned columns
        unsigned = _round_up(k, PAIR_GROUP) // PAIR_GROUP * PAIR_GROUP_BYTES
    heads = QUAD_ROW_HEAD_BYTES * (params["cout"] + 1) if quads else 0  # and the end head
    return (REQUANT_ENTRY_BYTES + 4 * columns) * params["cout"] + heads + 2 * columns * k + unsigned + im2col


FC_CHUNK_ROWS = 64  # MUNIFY_DSP_FC_CHUNK: accumulators requantized per chunk of rows


def fc_dense_scratch(params: dict) -> int:
    return 2 * _round_up(params["cin"], 4) + 4 * min(params["cout"], FC_CHUNK_ROWS)


def conv_dense_scratch(params: dict) -> int:
    """munify_dsp_conv_dense_scratch_size; fused with a pool (munify_dsp_conv_dense_pool_scratch_size) four
    accumulators per channel instead of two."""
    k = _round_up(params["k"], 4)
    accumulators = 16 if params["pool_fused"] else 8
    return (REQUANT_ENTRY_BYTES + accumulators) * params["cout"] + 4 * k + (0 if params["pointwise"] else k)


def conv_1ch_scratch(params: dict) -> int:
    """munify_dsp_conv_1ch_scratch_size, fused with a pool munify_dsp_conv_1ch_pool_scratch_size: the requantization
    table, the accumulators, the widened taps (one pixel: 6 words; a pool window's four pixels: 20), the patch."""
    taps = 4 * CONV_1CH_WORDS if params["pool_fused"] else 6
    return (REQUANT_ENTRY_BYTES + 4) * params["cout"] + taps * 4 + 12


def _conv_1ch_fits(params: dict) -> bool:
    return params["batches"] == 1 and params["cin"] == 1 and params["kh"] * params["kw"] <= CONV_1CH_TAPS


# MAX_POOL_2D, 4 channels a word: per window element (f.positions: output elements x taps) of 4 channels LDR,
# SSUB8, SEL and the loop, the window walk and the store of 4 outputs shared out over the taps (whole 2x2
# windows unrolled). The MNIST CNN's three pools at the board's -O2 (balanced; munify run --layers): 3.6-4.0
# per 4 elements, so no fixed term; `--optimize speed` builds them with -O3: 0.76-0.78 of that (the same pools:
# 9,502 / 4,560 / 1,251 against 12,441 / 5,882 / 1,602)
MAXPOOL_ELEMENT4, MAXPOOL_SPEED_BUILD = 3.8, 0.77


def maxpool_cost(f) -> float:
    return f.positions / 4 * MAXPOOL_ELEMENT4 * (MAXPOOL_SPEED_BUILD if f.speed_build else 1.0)


def _maxpool_fits(params: dict) -> bool:
    return params["cin"] % 4 == 0


def depthwise_scratch(params: dict) -> int:
    return (REQUANT_ENTRY_BYTES + 4) * params["cin"] + 4 * _round_up(params["taps"], 2)


def _single_image(params: dict) -> bool:
    return params["batches"] == 1


def _blocks_fit(family: str, op_type: str, records: str = "masks"):
    """The block shapes each block kernel family handles (batch 1, bi 4, 8 or 16; table records: at most
    MAX_TABLE_COLS inputs; pair records: at most MAX_PAIR_COLS)."""
    def fits(params: dict) -> bool:
        bo, bi = params["bo"], params["bi"]
        if params["batches"] != 1 or bi not in (4, 8, 16) or _round_up(params["k"], bi) > MAX_BLOCK_COLS:
            return False
        if family == "rows":
            too_wide = params["k"] > {"table": MAX_TABLE_COLS, "pairs": MAX_PAIR_COLS}.get(records, params["k"])
            return bo == 1 and not too_wide
        if family == "bo2":
            return bo == 2 and bi <= 8
        return bo > 1 and not (bo == 2 and bi <= 8)
    return fits


def _depthwise_fits(params: dict) -> bool:
    return params["batches"] == 1 and params["depth_multiplier"] == 1 and params["cin"] % 4 == 0


def _pack_blocks_or_dense(matrix: np.ndarray, blocks, sign_bits: bool, conv: bool,
                          dense16: bool, records: str) -> dict[str, np.ndarray]:
    if blocks is None:
        blocks = BlockStructure.dense(*np.asarray(matrix).shape, 1, 4)
    return pack_blocks(matrix, blocks, sign_bits, conv, dense16, records)


# ---------------------------------------------------------------------------------------------------------
# Registry entries (toolchain.plan.kernels.dsp exports DSP_VARIANTS)

DSP = frozenset({"dsp"})
COMMON_FILES = ("kernels/dsp/munify_dsp.h",)
# munify_dsp_blocks.h picks one family header per layer from its block shape; all of them are copied.
BLOCK_HEADERS = ("munify_dsp_blocks.h", "munify_dsp_blocks_common.h", "munify_dsp_blocks_scalar.h",
                 "munify_dsp_blocks_columns.h", "munify_dsp_fc_blocks_1xn_s8.h", "munify_dsp_conv_blocks_1xn_s8.h",
                 "munify_dsp_matrix_blocks_2xn_s8.h", "munify_dsp_matrix_blocks_mxn_s8.h")


def _block_variants() -> list[KernelVariant]:
    files = COMMON_FILES + tuple(f"kernels/dsp/{name}" for name in BLOCK_HEADERS) + ("kernels/dsp/munify_dsp_tables.c",)
    families = (("", {"FULLY_CONNECTED": ROW_BLOCK_COSTS, "CONV_2D": QUAD_BLOCK_COSTS}, "rows"),
                ("_bo2", {"FULLY_CONNECTED": BO2_BLOCK_COSTS, "CONV_2D": BO2_BLOCK_COSTS}, "bo2"),
                ("_tiles", {"FULLY_CONNECTED": TILE_BLOCK_COSTS, "CONV_2D": TILE_BLOCK_COSTS}, "tiles"))
    # Mask bytes cost 1.25 bytes per 1x8 weight, sign bits 0.25: balanced and size take the bits. Table records
    # (CONV_2D 1 x bi: 0.5 bytes per 1x4 weight, 1 per 1x8) pay for their tables only with enough rows: speed
    # takes the cheapest of the three.
    # FC 1 x bi pair records (speed): one pair table per column, read by every row.
    masks = (("wide", False, frozenset({"speed"})), ("bits", True, frozenset({"balanced", "size"})),
             ("table", False, frozenset({"speed"})), ("pairs", False, frozenset({"speed"})))

    def records(name):
        return name if name in RECORD_KINDS else "masks"

    # 1 x bi rows for speed (FC mask bytes and pair records, the conv pixel quads' mask bytes and table records):
    # dense blocks stored widened (int16), so their loop has no SXTB16.
    def dense16(op_type, family, name):
        return family == "rows" and name in (("wide", "pairs") if op_type == "FULLY_CONNECTED" else ("wide", "table"))

    def offered(op_type, family, name):
        if name == "table":
            return op_type == "CONV_2D" and family == "rows"
        return name != "pairs" or (op_type == "FULLY_CONNECTED" and family == "rows")

    def layout(op_type, family, name):
        return f"dsp-blocks-{name}{'16' if name == 'wide' and dense16(op_type, family, name) else ''}"

    def cost(op_type, name, costs, bits):
        return {"table": QUAD_TABLE_COSTS, "pairs": PAIR_TABLE_COSTS}.get(name) or costs[op_type][bits]

    return [KernelVariant(f"{stem}_blocks_{name}{suffix}_dsp", op_type, "kernels/dsp/blocks.c.j2",
                          cost(op_type, name, costs, bits), layout=layout(op_type, family, name), features=DSP,
                          block_kinds=ALL_KINDS, applies=_blocks_fit(family, op_type, records(name)),
                          optimize=modes,
                          pack=functools.partial(_pack_blocks_or_dense, sign_bits=bits, conv=op_type == "CONV_2D",
                                                 dense16=dense16(op_type, family, name), records=records(name)),
                          support_files=files,
                          scratch=functools.partial(blocks_scratch, conv=op_type == "CONV_2D",
                                                    records=records(name)),
                          fuses_pool=op_type == "CONV_2D" and family == "rows")
            for stem, op_type in (("fc", "FULLY_CONNECTED"), ("conv", "CONV_2D"))
            for suffix, costs, family in families
            for name, bits, modes in masks
            if offered(op_type, family, name)]


# Dense CONV_2D on the pixel quads (conv_dense_quads_dsp): the weights packed as dense 1 x 8 blocks of int16
# (dsp-blocks-wide16), 26 instructions a block for four pixels against the dense kernel's 29 per 32 MACs, and
# the four-pixel requantization. Offered for speed and balanced; balanced prices its doubled weight bytes.
DENSE_QUAD_BI = 8


def _dense_quads_fit(params: dict) -> bool:
    return params["batches"] == 1 and _round_up(params["k"], DENSE_QUAD_BI) <= MAX_BLOCK_COLS


def _pack_dense_quads(matrix: np.ndarray, blocks) -> dict[str, np.ndarray]:
    """Layout dsp-blocks-wide16 of dense weights as 1 x DENSE_QUAD_BI blocks (any block structure given is all
    dense: the kernel's block width is its own)."""
    rows, cols = np.asarray(matrix).shape
    return pack_blocks(matrix, BlockStructure.dense(rows, cols, 1, DENSE_QUAD_BI), sign_bits=False, conv=True,
                       dense16=True)


# Fit of calibrate.py conv_dense_quads (no clamp; worst error 3.4% over 8 layers; stop 21, the row stream: per row
# and pixel 17.4 -> 14.8; the four pixels widened in one call: per input 2.27 -> 1.43, worst error 3.7%): the dense
# blocks' weights, per block, per row and pixel (row head and outputs), per input
DENSE_QUAD_COSTS = BlockCosts(0.773, 0.0, 0.0, 0.097, 14.5, 1.43, copy=CONV_COPY)


def dense_quads_cost(f) -> float:
    """DENSE_QUAD_COSTS of the layer's weights as dense 1 x 8 blocks."""
    full = f.rows * (f.cols // DENSE_QUAD_BI)
    return DENSE_QUAD_COSTS(dataclasses.replace(f, bi=DENSE_QUAD_BI, listed_blocks=full, full_blocks=full))


def _dense_quads_variant() -> KernelVariant:
    files = COMMON_FILES + tuple(f"kernels/dsp/{name}" for name in BLOCK_HEADERS) + ("kernels/dsp/munify_dsp_tables.c",)
    return KernelVariant("conv_dense_quads_dsp", "CONV_2D", "kernels/dsp/blocks.c.j2", dense_quads_cost,
                         layout="dsp-blocks-wide16", features=DSP, optimize=frozenset({"speed", "balanced"}),
                         applies=_dense_quads_fit, pack=_pack_dense_quads, support_files=files,
                         options={"bo": 1, "bi": DENSE_QUAD_BI},
                         scratch=functools.partial(blocks_scratch, conv=True), fuses_pool=True)


def _dense_pair(stem: str, op_type: str, **args) -> list[KernelVariant]:
    """The dense kernel for dense weights, and for block-structured ones when the cost model says so (pruned
    and unified blocks save no SMLAD there). Not for size: dense bytes are the most."""
    return [KernelVariant(f"{stem}_dense_dsp", op_type, block_kinds=frozenset({BlockKind.DENSE}), **args),
            KernelVariant(f"{stem}_as_dense_dsp", op_type, block_kinds=frozenset(BlockKind),
                          optimize=frozenset({"speed", "balanced"}), **args)]


def _build_variants() -> tuple:
    fc = dict(template="kernels/dsp/fc_dense.c.j2", cost=fc_dense_cost, layout="dsp-fc4", features=DSP,
              pack=_dense_packer(pack_fc_dense), scratch=fc_dense_scratch,
              support_files=COMMON_FILES + ("kernels/dsp/munify_dsp_fc_dense.h",))
    conv = dict(template="kernels/dsp/conv_dense.c.j2", cost=conv_dense_cost, layout="dsp-conv2", features=DSP,
                applies=_single_image, pack=_dense_packer(pack_conv_dense), scratch=conv_dense_scratch, fuses_pool=True,
                support_files=COMMON_FILES + ("kernels/dsp/munify_dsp_conv_dense.h",))
    conv_1ch = dict(template="kernels/dsp/conv_1ch.c.j2", cost=conv_1ch_cost, layout="dsp-conv1ch", features=DSP,
                    applies=_conv_1ch_fits, pack=_dense_packer(pack_conv_1ch), scratch=conv_1ch_scratch, fuses_pool=True,
                    support_files=COMMON_FILES + ("kernels/dsp/munify_dsp_conv_1ch.h",))
    depthwise = dict(template="kernels/dsp/depthwise.c.j2", cost=depthwise_cost, layout="dsp-dw", features=DSP,
                     applies=_depthwise_fits, pack=_dense_packer(pack_depthwise), scratch=depthwise_scratch,
                     support_files=COMMON_FILES + ("kernels/dsp/munify_dsp_depthwise.h",))
    maxpool = [KernelVariant("maxpool_dsp", "MAX_POOL_2D", "kernels/dsp/maxpool.c.j2", maxpool_cost, features=DSP,
                             applies=_maxpool_fits,
                             support_files=COMMON_FILES + ("kernels/dsp/munify_dsp_maxpool.h",))]
    return tuple(_block_variants()
                 + _dense_pair("fc", "FULLY_CONNECTED", **fc)
                 + _dense_pair("conv", "CONV_2D", **conv) + [_dense_quads_variant()]
                 + _dense_pair("conv1ch", "CONV_2D", **conv_1ch)
                 + _dense_pair("dwconv", "DEPTHWISE_CONV_2D", **depthwise) + maxpool)


def _dense_packer(packer):
    return lambda matrix, blocks: {"weights": packer(matrix)}


DSP_VARIANTS = _build_variants()
