"""The NEON kernels' packed layouts and their place in the plan: which boards get NEON and SDOT, when the
SMLAL pairs are ruled out, and that pruned blocks leave the weights."""

import numpy as np
import pytest

from random_graphs import random_blocks, random_chain
from toolchain.boards import load_board
from toolchain.ir import BlockKind
from toolchain.plan import make_plan
from toolchain.plan.kernels.neon import kernels as neon

MATRIX_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def test_dense_layout_interleaves_four_rows_per_sixteen_inputs():
    m = (np.arange(6 * 20) % 251 - 125).reshape(6, 20).astype(np.int8)
    packed = neon.pack_dense(m)
    padded = np.zeros((8, 32), np.int8)
    padded[:6, :20] = m
    assert len(packed) == 8 * 32
    assert packed[:64].tolist() == np.concatenate([padded[r, :16] for r in range(4)]).tolist()
    assert packed[64:128].tolist() == np.concatenate([padded[r, 16:] for r in range(4)]).tolist()
    assert packed[128:144].tolist() == padded[4, :16].tolist() and not packed[160:192].any()  # zero rows 6, 7


def test_depthwise_layout_is_tap_major_with_channels_padded_to_sixteen():
    m = np.arange(10 * 3).reshape(10, 3).astype(np.int8)  # 10 channels, 3 taps
    packed = neon.pack_depthwise(m)
    assert len(packed) == 3 * 16
    assert packed[:16].tolist() == m[:, 0].tolist() + [0] * 6
    assert packed[32:48].tolist() == m[:, 2].tolist() + [0] * 6


@pytest.fixture
def neon_blocks(monkeypatch):
    """random_blocks with the block widths the NEON block kernel takes."""
    import random_graphs

    monkeypatch.setattr(random_graphs, "BI_CHOICES", (8, 16))
    return random_blocks


@pytest.mark.parametrize("seed", range(6))
def test_block_layout_round_trips_and_drops_pruned_blocks(seed, neon_blocks):
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(1, 30)), int(rng.integers(8, 70))
    matrix, blocks = neon_blocks(rng, rows, cols)
    bo, bi = blocks.bo, blocks.bi
    packed = neon.pack_blocks(matrix, blocks)
    np.testing.assert_array_equal(neon.unpack_blocks(packed, rows, cols, bo, bi), matrix)
    kinds = np.asarray(blocks.kinds)[:rows // bo, :cols // bi]
    edge_blocks = (rows // bo) * (cols % bi > 0) + (-(-cols // bi)) * (rows % bo > 0)
    assert len(packed["dense_cols"]) == int(np.sum(kinds == BlockKind.DENSE)) + edge_blocks
    assert len(packed["unified_cols"]) == int(np.sum(kinds == BlockKind.UNIFIED))
    # unified_bias: magnitude * (negative weights) of each unified block row
    expected = np.zeros(-(-rows // bo) * bo, np.int64)
    for rb, cb in zip(*np.nonzero(kinds == BlockKind.UNIFIED)):
        tile = matrix[rb * bo:(rb + 1) * bo, cb * bi:(cb + 1) * bi].astype(np.int64)
        expected[rb * bo:(rb + 1) * bo] += np.abs(tile).max(axis=1) * (tile < 0).sum(axis=1)
    np.testing.assert_array_equal(packed["unified_bias"], expected)


@pytest.mark.parametrize("seed", range(4))
def test_table_layout_round_trips_with_one_lookup_per_unified_block_row(seed, monkeypatch):
    import random_graphs

    monkeypatch.setattr(random_graphs, "BO_CHOICES", (1, 2))
    monkeypatch.setattr(random_graphs, "BI_CHOICES", (8,))
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(1, 30)), int(rng.integers(8, 70))
    matrix, blocks = random_blocks(rng, rows, cols)
    packed = neon.pack_blocks(matrix, blocks, tables=True)
    np.testing.assert_array_equal(neon.unpack_blocks(packed, rows, cols, blocks.bo, 8), matrix)
    kinds = np.asarray(blocks.kinds)[:rows // blocks.bo, :cols // 8]
    unified_columns = np.flatnonzero(np.any(kinds == BlockKind.UNIFIED, axis=0)) * 8
    assert packed["table_cols"].tolist() == unified_columns.tolist()  # one table per column with unified blocks
    assert len(packed["unified_lookups"]) == blocks.bo * int(np.sum(kinds == BlockKind.UNIFIED))
    plain = neon.pack_blocks(matrix, blocks)  # a lookup (2 bytes) replaces a column and a sign byte
    assert sum(a.nbytes for a in packed.values()) <= sum(a.nbytes for a in plain.values())
    assert "unified_bias" not in packed and "unified_signs" not in packed


def _matrix_kernels(plan):
    return [layer.variant for layer in plan.layers if layer.op_type in MATRIX_OPS]


@pytest.mark.parametrize("seed", range(4))
def test_sdot_is_chosen_only_where_the_board_has_dotprod(seed):
    graph = random_chain(seed, blocked=False)
    plain = _matrix_kernels(make_plan(graph, load_board("aarch64-linux").features, "speed"))
    dotprod = _matrix_kernels(make_plan(graph, load_board("aarch64-linux-dotprod").features, "speed"))
    assert not any("sdot" in name for name in plain)
    assert all(name.endswith(("_neon", "_generic")) for name in plain)
    assert any(name.endswith("_sdot") for name in dotprod)
    assert not any(name.endswith(("_dsp",)) for name in plain + dotprod)
    for board in ("aarch64-linux", "rpi4"):
        assert "dotprod" not in load_board(board).features
    assert {"neon", "dotprod"} <= load_board("rpi5").features


def test_weights_of_minus_128_keep_the_smlal_pairs_away():
    """-128 * -128 twice overflows the int16 pair sum of SMULL + SMLAL2: such a layer takes SDOT or generic C."""
    graph = random_chain(0, blocked=False)
    op = next(op for op in graph.ops if op.type == "FULLY_CONNECTED")
    weight = graph.weight_of(op)
    data = weight.data.copy()
    data.reshape(-1)[0] = -128
    graph = graph.with_tensor(weight.replace(data=data))
    layer = {layer.name: layer for layer in make_plan(graph, frozenset({"neon"}), "speed").layers}[op.name]
    assert layer.variant == "fc_dense_generic"
    layer = {layer.name: layer for layer in make_plan(graph, frozenset({"neon", "dotprod"}), "speed").layers}[op.name]
    assert layer.variant == "fc_dense_sdot"


def test_pruned_blocks_leave_the_weights(neon_blocks):
    rng = np.random.default_rng(5)
    matrix, blocks = neon_blocks(rng, 64, 256)
    packed = neon.pack_blocks(matrix, blocks)
    listed = np.asarray(blocks.kinds) != BlockKind.PRUNED
    assert len(packed["dense_cols"]) + len(packed["unified_cols"]) == int(np.sum(listed))
    assert sum(a.nbytes for a in packed.values()) < 0.7 * neon.pack_dense(matrix).nbytes


def test_neon_sources_are_deterministic(neon_blocks):
    from toolchain.codegen import render

    graph = random_chain(3)
    first = render(make_plan(graph, frozenset({"neon", "dotprod"}), "speed"))
    second = render(make_plan(random_chain(3), frozenset({"neon", "dotprod"}), "speed"))
    assert first == second and "munify_neon.h" in first
