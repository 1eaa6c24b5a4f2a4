"""Packed weight layouts (docs/FORMAT.md, "Packed weights"). Each layout turns a weight matrix [rows, cols]
(`toolchain.ir.weight_matrix`, reduction in deployment order) and its block structure into const arrays.

  dense         plain int8 [rows, cols], row-major.
  blocks-min    block stream + 2-bit kind map; a unified block row is one magnitude + ceil(bi/8) sign bytes
                (exactly `BlockStructure.stored_bytes()`).
  blocks-index  block stream as blocks-min + per-row-block list of the blocks that are not pruned, each list
                ended by END_OF_ROW_BLOCK.
  blocks-wide   as blocks-index, but a unified block row carries bi sign-mask bytes (0x00 / 0xFF).

`unpack` is the inverse of every layout; tests use it to pin the format down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ....errors import MunifyError
from ....ir.blocks import BlockKind, BlockStructure

LAYOUTS = ("dense", "blocks-min", "blocks-index", "blocks-wide")
END_OF_ROW_BLOCK = 0xFFFF  # closes the block list of a row block (index layouts)
BLOCK_LAYOUTS = LAYOUTS[1:]


@dataclass(frozen=True)
class BlockGeometry:
    rows: int
    cols: int
    bo: int
    bi: int

    @property
    def full_row_blocks(self) -> int:
        return self.rows // self.bo

    @property
    def full_col_blocks(self) -> int:
        return self.cols // self.bi

    @property
    def tail_rows(self) -> int:
        return self.rows % self.bo

    @property
    def tail_cols(self) -> int:
        return self.cols % self.bi

    @property
    def col_blocks(self) -> int:
        return -(-self.cols // self.bi)

    @property
    def sign_bytes(self) -> int:
        return -(-self.bi // 8)


@dataclass(frozen=True)
class PackedWeights:
    layout: str
    geometry: BlockGeometry
    stream: np.ndarray  # int8: dense block values, unified magnitudes and sign fields, in kernel order
    kind_map: np.ndarray | None = None  # uint8, blocks-min only
    entries: np.ndarray | None = None  # uint16 (col_block << 1 | unified) ... END_OF_ROW_BLOCK, index layouts

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in (self.stream, self.kind_map, self.entries) if a is not None)


def pack(matrix: np.ndarray, blocks: BlockStructure | None, layout: str) -> PackedWeights:
    matrix = np.asarray(matrix, dtype=np.int8)
    rows, cols = matrix.shape
    if layout == "dense":
        return PackedWeights(layout, BlockGeometry(rows, cols, 1, cols or 1), matrix.reshape(-1).copy())
    if layout not in BLOCK_LAYOUTS:
        raise MunifyError(f"unknown weight layout '{layout}'; use one of {', '.join(LAYOUTS)}")
    if blocks is None:
        blocks = BlockStructure.dense(rows, cols)
    geo = BlockGeometry(rows, cols, blocks.bo, blocks.bi)
    wide = layout == "blocks-wide"
    pieces: list[np.ndarray] = []
    entries: list[int] = []
    for rb in range(geo.full_row_blocks):
        r0 = rb * geo.bo
        for cb in range(geo.full_col_blocks):
            kind = blocks.kinds[rb, cb]
            if kind == BlockKind.PRUNED:
                continue
            c0 = cb * geo.bi
            if kind == BlockKind.DENSE:
                pieces.append(matrix[r0:r0 + geo.bo, c0:c0 + geo.bi].reshape(-1))
            else:
                pieces.append(_unified_rows(blocks, r0, cb, geo, wide))
            entries.append(cb << 1 | int(kind == BlockKind.UNIFIED))
        entries.append(END_OF_ROW_BLOCK)
        if geo.tail_cols:
            pieces.append(matrix[r0:r0 + geo.bo, geo.full_col_blocks * geo.bi:].reshape(-1))
    if geo.tail_rows:
        pieces.append(matrix[geo.full_row_blocks * geo.bo:, :].reshape(-1))
    stream = np.concatenate(pieces).astype(np.int8) if pieces else np.zeros(0, np.int8)
    if layout == "blocks-min":
        return PackedWeights(layout, geo, stream, kind_map=_kind_map(blocks.kinds))
    if geo.col_blocks >= END_OF_ROW_BLOCK >> 1:
        raise MunifyError(f"weight matrix has {geo.col_blocks} column blocks; the block index holds at most "
                          f"{(END_OF_ROW_BLOCK >> 1) - 1}; use a larger bi")
    return PackedWeights(layout, geo, stream, entries=np.array(entries, np.uint16))


def _unified_rows(blocks: BlockStructure, r0: int, cb: int, geo: BlockGeometry, wide: bool) -> np.ndarray:
    out = []
    for r in range(r0, r0 + geo.bo):
        sign = int(blocks.signs[r, cb])
        out.append(int(blocks.magnitudes[r, cb]))
        if wide:
            out.extend(-((sign >> j) & 1) for j in range(geo.bi))
        else:
            out.extend(_as_int8((sign >> (8 * k)) & 0xFF) for k in range(geo.sign_bytes))
    return np.array(out, np.int8)


def _as_int8(byte: int) -> int:
    return byte - 256 if byte >= 128 else byte


def _kind_map(kinds: np.ndarray) -> np.ndarray:
    """2 bits per block, row-major over the whole grid, four blocks per byte, first block in the low bits."""
    flat = kinds.reshape(-1).astype(np.uint8)
    flat = np.concatenate([flat, np.zeros(-len(flat) % 4, np.uint8)]).reshape(-1, 4)
    return (flat[:, 0] | flat[:, 1] << 2 | flat[:, 2] << 4 | flat[:, 3] << 6).astype(np.uint8)


def kind_at(kind_map: np.ndarray, index: int) -> int:
    return int(kind_map[index >> 2] >> ((index & 3) * 2)) & 3


def unpack(packed: PackedWeights) -> np.ndarray:
    """Rebuild the int8 matrix from its packed form (the decoder every kernel implements)."""
    geo = packed.geometry
    if packed.layout == "dense":
        return packed.stream.reshape(geo.rows, geo.cols).copy()
    matrix = np.zeros((geo.rows, geo.cols), np.int8)
    stream = packed.stream.astype(np.int32)
    pos = 0
    lists = _block_lists(packed)
    for rb in range(geo.full_row_blocks):
        r0 = rb * geo.bo
        for cb, kind in lists[rb]:
            c0 = cb * geo.bi
            if kind == BlockKind.DENSE:
                size = geo.bo * geo.bi
                matrix[r0:r0 + geo.bo, c0:c0 + geo.bi] = stream[pos:pos + size].reshape(geo.bo, geo.bi)
                pos += size
            else:
                pos = _unpack_unified(matrix, stream, pos, r0, c0, geo, packed.layout == "blocks-wide")
        if geo.tail_cols:
            tail = matrix[r0:r0 + geo.bo, geo.full_col_blocks * geo.bi:]
            tail[:] = stream[pos:pos + tail.size].reshape(tail.shape)
            pos += tail.size
    if geo.tail_rows:
        tail = matrix[geo.full_row_blocks * geo.bo:, :]
        tail[:] = stream[pos:pos + tail.size].reshape(tail.shape)
        pos += tail.size
    if pos != len(stream):
        raise MunifyError(f"packed stream has {len(stream)} bytes, the block list describes {pos}")
    return matrix


def _block_lists(packed: PackedWeights) -> list[list[tuple[int, int]]]:
    """(column block, kind) of the listed blocks of every full row block."""
    geo = packed.geometry
    if packed.layout == "blocks-min":
        lists = []
        for rb in range(geo.full_row_blocks):
            kinds = [kind_at(packed.kind_map, rb * geo.col_blocks + cb) for cb in range(geo.full_col_blocks)]
            lists.append([(cb, k) for cb, k in enumerate(kinds) if k != BlockKind.PRUNED])
        return lists
    lists, current = [], []
    for e in packed.entries.tolist():
        if e == END_OF_ROW_BLOCK:
            lists.append(current)
            current = []
        else:
            current.append((e >> 1, BlockKind.UNIFIED if e & 1 else BlockKind.DENSE))
    if current or len(lists) != geo.full_row_blocks:
        raise MunifyError(f"block index has {len(lists)} row blocks, the matrix {geo.full_row_blocks}")
    return lists


def _unpack_unified(matrix, stream, pos, r0, c0, geo: BlockGeometry, wide: bool) -> int:
    for r in range(r0, r0 + geo.bo):
        magnitude = stream[pos]
        pos += 1
        if wide:
            negative = stream[pos:pos + geo.bi] != 0
            pos += geo.bi
        else:
            bits = sum((int(stream[pos + k]) & 0xFF) << (8 * k) for k in range(geo.sign_bytes))
            negative = np.array([(bits >> j) & 1 for j in range(geo.bi)], bool)
            pos += geo.sign_bytes
        matrix[r, c0:c0 + geo.bi] = np.where(negative, -magnitude, magnitude)
    return pos


def packed_arrays(packed: PackedWeights) -> dict[str, np.ndarray]:
    """The const tables of a packed weight, by the role name kernel templates use."""
    arrays = {"weights": packed.stream}
    if packed.kind_map is not None:
        arrays["kinds"] = packed.kind_map
    if packed.entries is not None:
        arrays["entries"] = packed.entries
    return arrays


def layout_bytes(rows: int, cols: int, blocks: BlockStructure | None, layout: str) -> int:
    """Bytes `pack(matrix, blocks, layout)` produces, computed from the block counts alone."""
    if layout == "dense":
        return rows * cols
    if layout not in BLOCK_LAYOUTS:
        raise MunifyError(f"unknown weight layout '{layout}'; use one of {', '.join(LAYOUTS)}")
    blocks = blocks if blocks is not None else BlockStructure.dense(rows, cols)
    geo = BlockGeometry(rows, cols, blocks.bo, blocks.bi)
    dense_weights = int(np.sum(blocks.weight_kinds() == BlockKind.DENSE))
    unified_rows = int(np.sum(np.repeat(blocks.kinds == BlockKind.UNIFIED, geo.bo, axis=0)[:rows]))
    row_bytes = 1 + (geo.bi if layout == "blocks-wide" else geo.sign_bytes)
    stream = dense_weights + unified_rows * row_bytes
    if layout == "blocks-min":
        return stream + -(-blocks.kinds.size // 4)
    full = blocks.kinds[:geo.full_row_blocks, :geo.full_col_blocks]
    listed = int(np.sum(full != BlockKind.PRUNED))
    return stream + 2 * geo.full_row_blocks + 2 * listed
