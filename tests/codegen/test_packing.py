"""The packed weight layouts of docs/FORMAT.md: every layout decodes back to the matrix, its byte count is
the documented one, and blocks-min is exactly the IR's minimal stored-bytes accounting."""

import numpy as np
import pytest

from random_graphs import random_blocks
from toolchain.ir.blocks import BlockKind
from toolchain.plan.kernels.generic import packing
from toolchain.plan.arena import StorageGroup, place


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("layout", packing.LAYOUTS)
def test_pack_roundtrip_and_size(seed, layout):
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(1, 30)), int(rng.integers(1, 70))
    matrix, blocks = random_blocks(rng, rows, cols)
    packed = packing.pack(matrix, blocks, layout)
    np.testing.assert_array_equal(packing.unpack(packed), matrix)
    assert packed.nbytes == packing.layout_bytes(rows, cols, blocks, layout)
    arrays = packing.packed_arrays(packed)
    assert sum(a.nbytes for a in arrays.values()) == packed.nbytes
    if layout == "blocks-min" and not blocks.is_dense:
        assert packed.nbytes == blocks.stored_bytes()


def test_pruned_blocks_are_absent_and_unified_rows_are_one_byte_plus_signs():
    matrix = np.array([[5, -5, 5, 5, 1, 2, 3, 4, 0, 0, 0, 0, 9],
                       [-7, 7, 7, -7, 5, 6, 7, 8, 0, 0, 0, 0, 9]], np.int8)
    kinds = np.array([[BlockKind.UNIFIED, BlockKind.DENSE, BlockKind.PRUNED, BlockKind.DENSE]], np.uint8)
    from toolchain.ir import BlockStructure

    blocks = BlockStructure.from_matrix(matrix, kinds, 2, 4)
    packed = packing.pack(matrix, blocks, "blocks-index")
    # unified rows (magnitude, sign byte), then the dense block row-major, then the 2x1 dense tail column
    assert packed.stream.tolist() == [5, 0b0010, 7, 0b1001, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9]
    assert packed.entries.tolist() == [0 << 1 | 1, 1 << 1, packing.END_OF_ROW_BLOCK]
    wide = packing.pack(matrix, blocks, "blocks-wide")
    assert wide.stream[:10].tolist() == [5, 0, -1, 0, 0, 7, -1, 0, 0, -1]
    small = packing.pack(matrix, blocks, "blocks-min")
    assert small.kind_map.tolist() == [BlockKind.UNIFIED | BlockKind.DENSE << 2 | BlockKind.PRUNED << 4]


def test_arena_first_fit_never_overlaps_live_tensors():
    rng = np.random.default_rng(0)
    for _ in range(50):
        groups = []
        for i in range(int(rng.integers(1, 12))):
            first = int(rng.integers(0, 10))
            groups.append(StorageGroup(f"g{i}", int(rng.integers(1, 500)), first, first + int(rng.integers(0, 4))))
        size = place(groups)
        for a in groups:
            assert a.offset % 4 == 0 and a.offset + a.size <= size
            for b in groups:
                if a is not b and a.first <= b.last and b.first <= a.last:
                    assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
