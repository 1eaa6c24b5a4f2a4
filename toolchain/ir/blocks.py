"""Block structure of a weight matrix [out, reduction]: micro-blocks of bo x bi, each dense, unified or pruned.

A unified block keeps the signs of its weights; every weight of one block row shares one int8 magnitude
(after per-channel quantization each output row has its own scale, so the magnitude is per block row).
A pruned block is all zeros. Edge blocks that do not fill a whole bo x bi block are always dense.

Arrays (see docs/FORMAT.md for how the code generator packs them):
  kinds       uint8  [ceil(rows/bo), ceil(cols/bi)]  BlockKind per block
  magnitudes  int8   [rows, ceil(cols/bi)]           magnitude of each unified block row, else 0
  signs       uint16 [rows, ceil(cols/bi)]           bit j set when weight (r, cb*bi + j) is negative
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from ..errors import IRError

SUPPORTED_BI = (1, 2, 4, 8, 16)
SUPPORTED_BO = (1, 2, 4)


class BlockKind(IntEnum):
    DENSE = 0
    UNIFIED = 1
    PRUNED = 2


def grid_shape(rows: int, cols: int, bo: int, bi: int) -> tuple[int, int]:
    return -(-rows // bo), -(-cols // bi)


def full_block_mask(rows: int, cols: int, bo: int, bi: int) -> np.ndarray:
    """True for blocks that fill a whole bo x bi tile (only those may be unified or pruned)."""
    gr, gc = grid_shape(rows, cols, bo, bi)
    row_full = (np.arange(gr) + 1) * bo <= rows
    col_full = (np.arange(gc) + 1) * bi <= cols
    return row_full[:, None] & col_full[None, :]


def expand_kinds(kinds: np.ndarray, rows: int, cols: int, bo: int, bi: int) -> np.ndarray:
    """Per-weight kind map [rows, cols] from the per-block map."""
    return np.repeat(np.repeat(kinds, bo, axis=0), bi, axis=1)[:rows, :cols]


@dataclass(frozen=True, eq=False)
class BlockStructure:
    bo: int
    bi: int
    rows: int
    cols: int
    kinds: np.ndarray
    magnitudes: np.ndarray
    signs: np.ndarray

    @classmethod
    def dense(cls, rows: int, cols: int, bo: int = 1, bi: int = 1) -> "BlockStructure":
        gr, gc = grid_shape(rows, cols, bo, bi)
        return cls(bo, bi, rows, cols, np.zeros((gr, gc), np.uint8), np.zeros((rows, gc), np.int8),
                   np.zeros((rows, gc), np.uint16))

    @classmethod
    def from_matrix(cls, matrix: np.ndarray, kinds: np.ndarray, bo: int, bi: int) -> "BlockStructure":
        """Derive magnitudes and sign bits of the unified blocks from an int8 matrix and a kind map."""
        matrix = np.asarray(matrix)
        rows, cols = matrix.shape
        kinds = np.asarray(kinds, dtype=np.uint8)
        gr, gc = grid_shape(rows, cols, bo, bi)
        if kinds.shape != (gr, gc):
            raise IRError(f"block kind map has shape {kinds.shape}, expected {(gr, gc)} for {bo}x{bi} blocks")
        padded = np.zeros((rows, gc * bi), np.int32)
        padded[:, :cols] = matrix
        tiles = padded.reshape(rows, gc, bi)
        unified_rows = np.repeat(kinds == BlockKind.UNIFIED, bo, axis=0)[:rows]
        magnitudes = np.where(unified_rows, np.abs(tiles).max(axis=2), 0).astype(np.int8)
        bit_values = (1 << np.arange(bi, dtype=np.uint32))
        sign_bits = ((tiles < 0).astype(np.uint32) * bit_values).sum(axis=2)
        signs = np.where(unified_rows, sign_bits, 0).astype(np.uint16)
        return cls(bo, bi, rows, cols, kinds, magnitudes, signs)

    @property
    def grid(self) -> tuple[int, int]:
        return grid_shape(self.rows, self.cols, self.bo, self.bi)

    def counts(self) -> dict[str, int]:
        return {kind.name.lower(): int(np.sum(self.kinds == kind)) for kind in BlockKind}

    @property
    def is_dense(self) -> bool:
        return not np.any(self.kinds != BlockKind.DENSE)

    def weight_kinds(self) -> np.ndarray:
        return expand_kinds(self.kinds, self.rows, self.cols, self.bo, self.bi)

    def unified_values(self) -> np.ndarray:
        """The int8 matrix the unified blocks encode (0 elsewhere)."""
        gc = self.grid[1]
        bits = (self.signs[:, :, None].astype(np.uint32) >> np.arange(self.bi, dtype=np.uint32)) & 1
        values = np.where(bits == 1, -1, 1) * self.magnitudes[:, :, None].astype(np.int32)
        return values.reshape(self.rows, gc * self.bi)[:, : self.cols]

    def check(self, matrix: np.ndarray, name: str = "weight") -> None:
        """Refuse a weight whose values break the structure; the error names the tensor and the block."""
        rows, cols = matrix.shape
        if (rows, cols) != (self.rows, self.cols):
            raise IRError(f"tensor '{name}': block structure is for a {self.rows}x{self.cols} matrix, "
                          f"weight is {rows}x{cols}")
        if self.bo not in SUPPORTED_BO or self.bi not in SUPPORTED_BI:
            raise IRError(f"tensor '{name}': block shape {self.bo}x{self.bi} is not supported "
                          f"(bo in {SUPPORTED_BO}, bi in {SUPPORTED_BI})")
        gr, gc = self.grid
        expected = {"kinds": ((gr, gc), np.uint8), "magnitudes": ((rows, gc), np.int8),
                    "signs": ((rows, gc), np.uint16)}
        for field_name, (shape, dtype) in expected.items():
            arr = getattr(self, field_name)
            if arr.shape != shape or arr.dtype != dtype:
                raise IRError(f"tensor '{name}': block {field_name} is {arr.dtype}{list(arr.shape)}, "
                              f"expected {np.dtype(dtype)}{list(shape)}")
        if np.any(self.kinds > BlockKind.PRUNED):
            raise IRError(f"tensor '{name}': block kinds must be 0 (dense), 1 (unified) or 2 (pruned)")
        partial = (self.kinds != BlockKind.DENSE) & ~full_block_mask(rows, cols, self.bo, self.bi)
        if np.any(partial):
            r, c = np.argwhere(partial)[0]
            raise IRError(f"tensor '{name}': edge block ({r}, {c}) is not full and must stay dense")
        if np.any(self.magnitudes < 0):
            raise IRError(f"tensor '{name}': unified magnitudes must be >= 0")
        kinds = self.weight_kinds()
        unified = kinds == BlockKind.UNIFIED
        bad = (unified & (matrix != self.unified_values())) | ((kinds == BlockKind.PRUNED) & (matrix != 0))
        if np.any(bad):
            r, c = np.argwhere(bad)[0]
            kind = BlockKind(kinds[r, c]).name.lower()
            raise IRError(f"tensor '{name}': weight ({r}, {c}) = {matrix[r, c]} breaks its {kind} block "
                          f"({r // self.bo}, {c // self.bi})")
        unified_rows = np.repeat(self.kinds == BlockKind.UNIFIED, self.bo, axis=0)[:rows]
        if np.any(~unified_rows & ((self.magnitudes != 0) | (self.signs != 0))):
            raise IRError(f"tensor '{name}': magnitudes or signs set on a block that is not unified")
        if np.any(self.signs >> np.uint16(self.bi)):
            raise IRError(f"tensor '{name}': sign bits beyond the block width {self.bi}")

    def stored_bytes(self) -> int:
        """Exact bytes of the minimal packed format (docs/FORMAT.md), weights only."""
        gr, gc = self.grid
        dense_weights = int(np.sum(self.weight_kinds() == BlockKind.DENSE))
        if self.is_dense:
            return dense_weights
        unified_rows = int(np.sum(np.repeat(self.kinds == BlockKind.UNIFIED, self.bo, axis=0)[: self.rows]))
        sign_bytes = -(-self.bi // 8)
        kind_map_bytes = -(-(gr * gc * 2) // 8)
        return dense_weights + unified_rows * (1 + sign_bytes) + kind_map_bytes
