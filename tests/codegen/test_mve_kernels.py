"""The Helium (MVE) kernels on the host side: packed layouts, where the plan uses them, deterministic C.
Their outputs and instruction counts under QEMU are checked in tests/target/test_mve_models.py."""

import filecmp

import numpy as np
import pytest

from random_graphs import random_chain
from toolchain.codegen import generate
from toolchain.ir import BlockKind, BlockStructure
from toolchain.plan import make_plan
from toolchain.plan.kernels.mve import kernels as mve

M55 = frozenset({"dsp", "fpu", "mve"})


def test_rows4_layout_interleaves_four_rows_per_16_inputs_and_pads_rows_and_columns():
    m = np.arange(6 * 20).reshape(6, 20).astype(np.int8)
    packed = mve.pack_rows4(m)["weights"]
    padded = np.zeros((8, 32), np.int8)
    padded[:6, :20] = m
    assert len(packed) == 8 * 32
    assert packed[:64].tolist() == np.concatenate([padded[r, :16] for r in range(4)]).tolist()
    assert packed[64:128].tolist() == np.concatenate([padded[r, 16:32] for r in range(4)]).tolist()
    assert packed[128:192].tolist() == np.concatenate([padded[r, :16] for r in range(4, 8)]).tolist()
    assert packed[192:].tolist() == np.concatenate([padded[r, 16:32] for r in range(4, 8)]).tolist()
    assert not packed[160:192].any()  # rows 6 and 7 are padding


def test_depthwise16_layout_pads_each_channel_to_16_taps():
    m = np.arange(3 * 9).reshape(3, 9).astype(np.int8)
    packed = mve.pack_depthwise16(m)["weights"]
    assert packed.reshape(3, 16)[:, :9].tolist() == m.tolist() and not packed.reshape(3, 16)[:, 9:].any()


def _tile_matrix(rng, rows: int, cols: int, kinds: np.ndarray) -> np.ndarray:
    """An int8 matrix of 4 x 16 blocks: dense random, unified (one magnitude per row, random signs) or zero."""
    per = np.repeat(np.repeat(kinds, 4, 0), 16, 1)[:rows, :cols]
    dense = rng.integers(-127, 128, size=(rows, cols))
    mags = np.repeat(rng.integers(1, 128, size=(rows, cols // 16)), 16, axis=1)
    unified = np.where(rng.random((rows, cols)) < 0.5, -1, 1) * mags
    out = np.where(per == BlockKind.UNIFIED, unified, dense)
    return np.where(per == BlockKind.PRUNED, 0, out).astype(np.int8)


def unpack_tiles(arrays: dict, rows: int, cols: int) -> np.ndarray:
    """The matrix a mve-tiles / mve-tiles-signs packing encodes (the kernel's reading of it)."""
    out = np.zeros((-(-rows // 4) * 4, cols), np.int32)
    counts, steps = arrays["counts"].reshape(-1, 2), iter(arrays["steps"].tolist())
    dense = iter(arrays["dense_weights"].reshape(-1, 4, 16)) if counts[:, 0].sum() else iter(())
    words = arrays.get("unified_rows", np.zeros(0, np.uint32)).astype(np.int64).reshape(-1, 4)
    signs, mags = iter(words & 0xFFFF), iter(words >> 16)
    for g, (n_dense, n_unified) in enumerate(counts):
        for _ in range(n_dense):
            s = next(steps)
            out[4 * g:4 * g + 4, s:s + 16] = next(dense)
        for _ in range(n_unified):
            s, bits, m = next(steps), next(signs), next(mags)
            negative = (bits[:, None] >> np.arange(16)) & 1
            out[4 * g:4 * g + 4, s:s + 16] = np.where(negative, -1, 1) * m[:, None]
    return out[:rows]


@pytest.mark.parametrize("signs", [False, True])
def test_tiles_leave_pruned_tiles_out_and_store_unified_tiles_as_signs(signs):
    rng = np.random.default_rng(3)
    kinds = np.array([[0, 1, 2, 2], [2, 2, 2, 2], [1, 0, 2, 1]], np.uint8)  # 10 rows: the last group is an edge
    kinds[2] = BlockKind.DENSE
    m = _tile_matrix(rng, 10, 64, kinds)
    arrays = mve.pack_tiles(m, BlockStructure.from_matrix(m, kinds, 4, 16), signs=signs)
    assert unpack_tiles(arrays, 10, 64).tolist() == m.tolist()
    counts = arrays["counts"].reshape(-1, 2)
    assert counts[1].tolist() == [0, 0]  # an all-pruned row group has no tiles at all
    if signs:
        assert counts[0].tolist() == [1, 1] and arrays["unified_rows"].dtype == np.uint32
        assert len(arrays["dense_weights"]) == 64 * (1 + 4)  # the unified tile takes 16 bytes, not 64
    else:
        assert counts[0].tolist() == [2, 0] and "unified_rows" not in arrays


def test_m55_plans_every_layer_of_the_mlperf_models_on_helium_kernels(imported_model):
    for name, expected in (("kws", {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D"}),
                           ("resnet", {"CONV_2D", "ADD", "FULLY_CONNECTED", "AVERAGE_POOL_2D"}),
                           ("ad01", {"FULLY_CONNECTED"})):
        plan = make_plan(imported_model(name), M55)
        on_mve = {layer.op_type for layer in plan.layers if layer.variant.endswith("_mve")}
        assert on_mve == expected, (name, sorted((lay.name, lay.variant) for lay in plan.layers))


def test_helium_kernels_stay_off_boards_without_mve():
    graph = random_chain(4, blocked=False)
    assert not any(layer.variant.endswith("_mve") for layer in make_plan(graph, frozenset({"dsp", "fpu"})).layers)
    assert any(layer.variant.endswith("_mve") for layer in make_plan(graph, M55).layers)


def test_tile_kernels_take_4x16_blocks_and_signs_keep_the_unified_blocks_small(imported_model):
    from mve_tile_blocks import with_tile_blocks

    graph = with_tile_blocks(imported_model("kws"), seed=1)
    speed = make_plan(graph, M55, "speed")
    tiled = {layer.name: layer for layer in speed.layers if layer.layout == "mve-tiles"}
    assert len(tiled) >= 3, [layer.layout for layer in speed.layers]
    signs = make_plan(graph, M55, "speed", force={name: "conv_tiles_signs_mve" for name in tiled}).layers
    for b in (layer for layer in signs if layer.name in tiled):
        s = tiled[b.name]  # 20% dense, 30% unified, 50% pruned blocks: 64 bytes a dense tile, 12 a unified one
        assert b.layout == "mve-tiles-signs" and packed_bytes(b) < 0.7 * packed_bytes(s), (s.name, packed_bytes(b))


def packed_bytes(layer) -> int:
    """The weights as packed (no bias and requantization tables)."""
    return sum(a.nbytes for role, a in layer.arrays.items() if role not in ("bias", "mult", "shift"))


def test_same_ir_and_options_give_identical_helium_c(tmp_path, imported_model):
    from mve_tile_blocks import with_tile_blocks

    graph = with_tile_blocks(imported_model("kws"), seed=2)
    generate(graph, tmp_path / "a", M55, "balanced")
    generate(graph, tmp_path / "b", M55, "balanced")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "munify_mve_tiles.h" in names and "munify_mve_depthwise.h" in names
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert not mismatch and not errors


def test_1x8_blocks_stay_compressed_on_helium_instead_of_the_m4_dsp_kernels(imported_model):
    """Balanced on the M55: 1x8-compressed convolutions keep blocks-min weights and run the dense Helium
    kernel (expanded per call); one-pixel layers, where the expansion would not pay, do not take it."""
    from toolchain.compress.post_training import compress_graph

    graph = compress_graph(imported_model("kws"), 1, 8, 0.4, 0.4)
    plan = make_plan(graph, M55, "balanced")
    variants = {layer.name: layer.variant for layer in plan.layers}
    blocked = [op.name for op in graph.ops if op.type == "CONV_2D" and graph.weight_of(op).blocks is not None
               and not graph.weight_of(op).blocks.is_dense]
    assert blocked and all(variants[name] == "conv_unpack_mve" for name in blocked), variants
    assert not any(v.endswith("_dsp") for v in variants.values()), variants
    fc = next(layer for layer in plan.layers if layer.op_type == "FULLY_CONNECTED")
    assert fc.variant != "fc_unpack_mve"


@pytest.mark.parametrize("bi, fits", [(4, True), (8, True), (16, True), (3, False), (12, False)])
def test_unpack_takes_only_block_rows_inside_one_16_byte_step(bi, fits):
    """munify_mve_unpack.h stores a block row as one predicated store: bi must divide the 16-byte step."""
    params = dict(batches=1, bo=1, bi=bi, k=288, kh=3, kw=3, cin=32, in_w=7, dil_h=1, dil_w=1, pointwise=False,
                  out_h=7, out_w=7)
    assert mve.unpack_fits(params) is fits


def unpack_row_blocks(arrays: dict, rows: int, cols: int, bi: int) -> np.ndarray:
    """The matrix a mve-row-blocks / mve-row-blocks-signs packing encodes (the kernel's reading of it)."""
    out = np.zeros((rows, cols), np.int32)
    counts, offsets = arrays["counts"].reshape(-1, 2), iter(arrays["offsets"].tolist())
    dense = iter(arrays["dense_weights"].reshape(-1, bi)) if counts[:, 0].sum() else iter(())
    words = iter(arrays.get("unified_words", np.zeros(0, np.uint32)).astype(np.int64).tolist())
    lane_bits = 16 // bi
    for r, (n_dense, n_unified) in enumerate(counts):
        for _ in range(n_dense):
            j = next(offsets)
            out[r, j:j + bi] = next(dense)
        for _ in range(n_unified):
            j, word = next(offsets), next(words)
            negative = (word >> (lane_bits * np.arange(bi))) & 1  # a lane's predicate bits are all alike
            assert all(((word >> (lane_bits * k)) & ((1 << lane_bits) - 1)) in (0, (1 << lane_bits) - 1)
                       for k in range(bi))
            out[r, j:j + bi] = np.where(negative, -1, 1) * (word >> 16)
    return out


@pytest.mark.parametrize("bo, bi", [(1, 4), (1, 8), (2, 8), (1, 16)])
@pytest.mark.parametrize("signs", [False, True])
def test_row_blocks_leave_pruned_blocks_out_and_store_unified_blocks_as_words(bo, bi, signs):
    from benchmarks.kernels.kernel_bench import block_matrix

    m, blocks = block_matrix(np.random.default_rng(bi + bo), 10, 6 * bi, bo, bi, (0.3, 0.3, 0.4))
    arrays = mve.pack_row_blocks(m, blocks, signs=signs)
    assert unpack_row_blocks(arrays, 10, 6 * bi, bi).tolist() == m.tolist()
    kept = sum(int(np.any(m[r, j:j + bi])) for r in range(10) for j in range(0, 6 * bi, bi))
    assert len(arrays["offsets"]) == kept  # pruned blocks take nothing
    if signs:
        assert arrays["counts"][1::2].sum() > 0 and arrays["unified_words"].dtype == np.uint32
    else:
        assert "unified_words" not in arrays and len(arrays["dense_weights"]) == kept * bi


@pytest.mark.parametrize("mix, speed_kernel", [((0.25, 0.30, 0.45), "fc_as_dense_mve"),
                                               ((0.05, 0.05, 0.90), "fc_row_blocks_mve")])
def test_one_vector_fully_connected_1x8_takes_no_m4_dsp_kernel_and_row_blocks_only_where_faster(mix, speed_kernel):
    """The MNIST CNN's last layer (10 x 432, 1 x 8 blocks): the row-block kernel predicts fewer instructions
    than the M4 DSP block kernels, so neither balanced nor speed takes those on the M55; speed takes the row
    blocks only where they predict fewer instructions than the dense kernel (10% of the blocks kept, not 55%)."""
    from benchmarks.kernels.kernel_bench import blocks_case

    graph = blocks_case("fc", np.random.default_rng(5), 10, 432, 1, 8, mix).graph
    plans = {mode: make_plan(graph, M55, mode, cpu="cortex-m55").layers[0] for mode in ("balanced", "speed")}
    assert not any(layer.variant.endswith("_dsp") for layer in plans.values()), plans
    assert plans["speed"].variant == speed_kernel


@pytest.mark.parametrize("rows, cols, bo, bi", [(11, 64, 4, 8), (10, 432, 4, 16), (12, 64, 2, 8)])
def test_row_block_cost_reads_bo_x_bi_blocks_as_the_same_rows_of_1_x_bi(rows, cols, bo, bi):
    """The row-block kernel packs bo x bi blocks exactly as their 1 x bi rows, edge rows (rows % bo) included,
    so its predicted instructions are those of the 1 x bi structure too."""
    from benchmarks.kernels.kernel_bench import blocks_case
    from toolchain.plan import layers

    case = blocks_case("fc", np.random.default_rng(rows), rows, cols, bo, bi, (0.2, 0.2, 0.6))
    matrix, blocks = case.blocks
    rows_kinds = np.repeat(blocks.kinds, bo, axis=0)[:rows]
    as_rows = BlockStructure.from_matrix(matrix, rows_kinds, 1, bi)
    weight = case.graph.tensors[case.graph.ops[0].inputs[1]]
    graphs = (case.graph, case.graph.with_tensor(weight.replace(blocks=as_rows)))
    packed = [mve.pack_row_blocks(matrix, b, signs=True) for b in (blocks, as_rows)]
    assert all(np.array_equal(packed[0][k], packed[1][k]) for k in packed[0])
    for signs in (False, True):
        cost = mve.row_blocks_cost(signs)
        facts = [layers.build(g, g.ops[0], "speed").facts for g in graphs]
        assert cost(facts[0]) == cost(facts[1]), (signs, facts)
