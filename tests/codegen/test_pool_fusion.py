"""CONV_2D + 2x2 / stride 2 MAX_POOL_2D fused (toolchain.plan.fusion): where the plan fuses and where it must not,
the arena it saves, and every fusing DSP kernel bit-exact on mps2-an386 (QEMU) against the reference."""

import dataclasses

import numpy as np
import pytest

from toolchain.boards import load_board
from toolchain.ir import Graph, Op, Tensor
from toolchain.ir import arith
from toolchain.plan import fusion, layers, make_plan
from toolchain.plan.fusion import POOL_FUSED
from toolchain.plan.kernels import ALL_VARIANTS

from benchmarks.kernels import kernel_bench as kb
from pool_fusion_support import unshifted_conv_case
from random_graphs import mnist_cnn_chain

M4 = load_board("mps2-an386")


def _plan(graph, optimize="speed", features=M4.features, **kwargs):
    return make_plan(graph, features, optimize, cpu=M4.cpu, **kwargs)


def _conv_pool(window, cout=6, pad="VALID", pool_activation="NONE", seed=0, **conv):
    rng = np.random.default_rng(seed)
    case = kb.conv_case("cp", rng, window, 1, cout, kernel="conv1ch_dense_dsp", **conv)
    return kb.with_max_pool(case, pad, pool_activation).graph


@pytest.mark.parametrize("optimize", ["speed", "balanced"])
def test_the_first_conv_of_the_mnist_cnn_computes_its_pool_in_a_smaller_arena(optimize):
    graph = mnist_cnn_chain(1, activation="RELU")
    fused, unfused = _plan(graph, optimize), _plan(graph, optimize, fuse_pools=False)
    conv, pool = fused.layers[0], fused.layers[1]
    assert conv.variant == "conv1ch_dense_dsp" and conv.params["pool_fused"]
    assert pool.variant == POOL_FUSED and pool.alias and pool.inputs == () and pool.cost == 0
    assert conv.output == pool.output and conv.output.tensor == graph.ops[1].outputs[0]
    assert graph.ops[0].outputs[0] not in fused.buffers  # the conv's own 28 x 28 x 16 output has no storage
    assert unfused.layers[1].variant == "maxpool_dsp" and not unfused.layers[0].params["pool_fused"]
    assert fused.arena_size < unfused.arena_size
    assert conv.cost < unfused.layers[0].cost + unfused.layers[1].cost


@pytest.mark.parametrize("window, pad, fuses", [
    (kb.Window(8, 6, 3, 3), "VALID", True),
    (kb.Window(7, 7, 3, 3), "VALID", True),  # 7 x 7 -> 3 x 3: row and column 6 are never computed
    (kb.Window(8, 6, 3, 3), "SAME", True),  # SAME on even sizes is VALID
    (kb.Window(7, 7, 3, 3), "SAME", False),  # 7 x 7 -> 4 x 4: the last windows are cut by the padding
    (kb.Window(7, 8, 3, 3), "SAME", False),
])
def test_only_whole_windows_fuse(window, pad, fuses):
    plan = _plan(_conv_pool(window, pad=pad))
    assert plan.layers[0].params["pool_fused"] == fuses
    assert (plan.layers[1].variant == POOL_FUSED) == fuses


def test_a_pool_with_a_forced_kernel_keeps_its_layer():
    graph = mnist_cnn_chain(1, activation="RELU")
    pool = graph.ops[1].name
    plan = _plan(graph, force={pool: "maxpool_dsp"})
    assert plan.layers[1].variant == "maxpool_dsp" and not plan.layers[0].params["pool_fused"]
    assert _plan(graph).layers[1].variant == POOL_FUSED


def _replace_op(graph: Graph, index: int, **attrs) -> Graph:
    ops = list(graph.ops)
    ops[index] = dataclasses.replace(ops[index], attrs={**ops[index].attrs, **attrs})
    return dataclasses.replace(graph, ops=tuple(ops))


def test_other_pools_and_targets_do_not_fuse():
    graph = _conv_pool(kb.Window(8, 8, 3, 3))
    assert _plan(graph).layers[0].params["pool_fused"]
    overlapping = _replace_op(graph, 1, stride=(1, 1))
    overlapping = overlapping.with_tensor(dataclasses.replace(overlapping.tensor("pooled"), shape=(1, 7, 7, 6)))
    assert not _plan(overlapping).layers[0].params["pool_fused"]
    generic = _plan(graph, features=frozenset())
    assert generic.layers[1].variant != POOL_FUSED and not generic.layers[0].params["pool_fused"]


def test_a_conv_output_read_twice_keeps_its_pool():
    graph = _conv_pool(kb.Window(8, 8, 3, 3))
    tensors = {**graph.tensors, "twice": Tensor("twice", (1, 4, 4, 6), "int8", graph.tensor("pooled").quant),
               "sum": Tensor("sum", (1, 4, 4, 6), "int8", graph.tensor("pooled").quant)}
    pool2 = Op("pool2", "MAX_POOL_2D", ("y",), ("twice",), graph.ops[1].attrs)
    add = Op("add", "ADD", ("pooled", "twice"), ("sum",), {"activation": "NONE"})
    graph = Graph(graph.name, tensors, graph.ops + (pool2, add), graph.inputs, ("sum",))
    graph.validate()
    plan = _plan(graph)
    assert not plan.layers[0].params["pool_fused"] and POOL_FUSED not in {layer.variant for layer in plan.layers}


def test_a_conv_output_that_is_a_model_output_keeps_its_pool():
    graph = _conv_pool(kb.Window(8, 8, 3, 3))
    specs, variants = _specs_and_variants(graph)
    assert fusion.pool_fusions(graph, specs, variants) == {0: 1}
    both = dataclasses.replace(graph, outputs=("y",) + graph.outputs)  # make_plan takes one output: asked directly
    assert fusion.pool_fusions(both, specs, variants) == {}


def test_a_conv_requantizing_with_a_left_shift_keeps_its_pool():
    graph = _conv_pool(kb.Window(8, 8, 3, 3))
    small = dataclasses.replace(graph.tensor("y").quant, scale=graph.tensor("y").quant.scale / 1e5)
    for name in ("y", "pooled"):
        graph = graph.with_tensor(dataclasses.replace(graph.tensor(name), quant=small))
    assert np.any(arith.conv_params(graph, graph.ops[0]).shifts > 0)
    assert not _plan(graph).layers[0].params["pool_fused"]


def _specs_and_variants(graph: Graph):
    """The specs and variants the plan fuses from (pool_fusions' inputs), read back from an unfused plan."""
    plan = _plan(graph, fuse_pools=False)
    variants = {v.name: v for v in ALL_VARIANTS}
    specs = [layers.LayerSpec(layer.params, facts=None) for layer in plan.layers]
    return specs, [variants.get(layer.variant) for layer in plan.layers]


def test_the_fused_layer_clamps_to_both_activation_ranges():
    graph = _conv_pool(kb.Window(8, 8, 3, 3), activation="RELU_N1_TO_1", pool_activation="RELU")
    conv, pool = (layer.params for layer in _plan(graph, fuse_pools=False).layers)
    fused = _plan(graph).layers[0].params
    assert fused["pool_fused"] and pool["act_min"] > conv["act_min"]
    assert (fused["act_min"], fused["act_max"]) == (pool["act_min"], conv["act_max"])


# ---- on the target: every fused kernel against the reference --------------------------------------------

def _unshifted(name: str, rng, window, cin: int, cout: int, kernel: str) -> kb.Case:
    """Shift 0 (munify_dsp_prepare_requant's simple 0: the kernels' C requantization), the pool after it."""
    return kb.with_max_pool(unshifted_conv_case(name, rng, window, cin, cout, kernel))


def _cases():
    rng = np.random.default_rng(21)
    c1 = "conv1ch_dense_dsp"
    cases = [
        kb.with_max_pool(kb.conv_case("f1_mnist", rng, kb.Window(28, 28, 3, 3), 1, 16, kernel=c1, activation="NONE")),
        kb.with_max_pool(kb.conv_case("f1_relu", rng, kb.Window(12, 12, 3, 3), 1, 16, kernel=c1, activation="RELU")),
        kb.with_max_pool(kb.conv_case("f1_odd", rng, kb.Window(7, 7, 3, 3), 1, 5, kernel=c1)),
        kb.with_max_pool(kb.conv_case("f1_valid_s2", rng, kb.Window(13, 12, 3, 3, stride=2, pad="VALID"), 1, 7,
                                      kernel=c1)),
        kb.with_max_pool(kb.conv_case("f1_2x3", rng, kb.Window(9, 7, 2, 3), 1, 5, kernel=c1)),
        kb.with_max_pool(kb.conv_case("f1_huge_bias", rng, kb.Window(6, 6, 3, 3), 1, 8, huge_bias=True, kernel=c1)),
        kb.with_max_pool(kb.conv_case("f1_scalar", rng, kb.Window(6, 5, 3, 3), 1, 6, kernel=c1, scalar=True)),
        kb.with_max_pool(kb.conv_case("f1_pool_relu", rng, kb.Window(9, 8, 3, 3), 1, 7, kernel=c1, activation="NONE"),
                         activation="RELU"),
        kb.with_max_pool(kb.conv_case("f1_relu6", rng, kb.Window(10, 10, 3, 3), 1, 9, kernel=c1,
                                      activation="RELU_N1_TO_1")),
        # the pixel quads: a quad is the window (dense quads, mask bytes, sign bits, tables; 1 x 4 / 1 x 8 / 1 x 16)
        kb.with_max_pool(kb.conv_case("fq_dense_odd", rng, kb.Window(7, 7, 3, 3), 8, 12, kernel="conv_dense_quads_dsp",
                                      activation="NONE")),
        kb.with_max_pool(kb.conv_case("fq_dense_pointwise", rng, kb.Window(6, 8, 1, 1, pad="VALID"), 16, 12,
                                      kernel="conv_dense_quads_dsp")),
        kb.with_max_pool(kb.blocks_case("fq_wide_1x8", rng, 16, 72, 1, 8, window=kb.Window(9, 8, 3, 3), cin=8,
                                        activation="NONE")),
        kb.with_max_pool(kb.blocks_case("fq_wide_1x16_relu", rng, 12, 108, 1, 16, window=kb.Window(9, 6, 3, 3), cin=12,
                                        activation="RELU")),
        kb.with_max_pool(kb.blocks_case("fq_bits_1x4", rng, 12, 36, 1, 4, sign_bits=True, window=kb.Window(7, 5, 3, 3),
                                        cin=4)),
        kb.with_max_pool(kb.blocks_case("fq_bits_1x8_stride2", rng, 10, 72, 1, 8, sign_bits=True,
                                        window=kb.Window(10, 9, 3, 3, stride=2), cin=8)),
        kb.with_max_pool(kb.blocks_case("fq_table_1x4", rng, 24, 144, 1, 4, table=True, window=kb.Window(7, 7, 3, 3),
                                        cin=16, activation="NONE")),
        kb.with_max_pool(kb.blocks_case("fq_table_1x8", rng, 24, 144, 1, 8, table=True, window=kb.Window(6, 6, 3, 3),
                                        cin=16)),
        kb.with_max_pool(kb.blocks_case("fq_huge_bias", rng, 12, 72, 1, 8, window=kb.Window(4, 6, 3, 3), cin=8,
                                        huge_bias=True)),
        # balanced dense: a window is two pixel pairs
        kb.with_max_pool(kb.conv_case("fd_mnist8", rng, kb.Window(7, 7, 3, 3), 32, 48, activation="NONE")),
        kb.with_max_pool(kb.conv_case("fd_odd_rows_relu", rng, kb.Window(9, 7, 3, 3), 5, 9, activation="RELU")),
        kb.with_max_pool(kb.conv_case("fd_huge_bias", rng, kb.Window(4, 6, 3, 3), 8, 12, huge_bias=True)),
        kb.with_max_pool(kb.conv_case("fd_pointwise", rng, kb.Window(6, 8, 1, 1, pad="VALID"), 16, 11)),
        _unshifted("f1_unshifted", rng, kb.Window(8, 8, 3, 3), 1, 6, "conv1ch_dense_dsp"),
        _unshifted("fq_unshifted", rng, kb.Window(6, 6, 3, 3), 8, 10, "conv_dense_quads_dsp"),
        _unshifted("fd_unshifted", rng, kb.Window(6, 6, 3, 3), 8, 10, "conv_dense_dsp"),
        kb.with_max_pool(kb.blocks_case("fq_scalar", rng, 10, 54, 1, 8, window=kb.Window(5, 6, 3, 3), cin=6,
                                        scalar=True)),
    ]
    return cases


@pytest.fixture(scope="module")
def fused_cases():
    cases = _cases()
    def folded(case):
        return case.layer.params["requant_folds_offset"] and case.layer.params["act_max"] == 127

    assert {case.layer.params["act_min"] > -128 for case in cases if folded(case) and not case.scalar} == {False, True}
    assert any(not folded(case) for case in cases), "no case takes the requantization loop: pick another seed"
    quads = [case for case in cases if case.name.startswith("fq_") and not case.scalar]
    assert {case.layer.params["act_min"] > -128 for case in quads if folded(case)} == {False, True}
    assert any(not case.layer.params["requant_folds_offset"] for case in quads)
    unshifted = [case for case in cases if case.name.endswith("_unshifted")]
    assert all(case.layer.params["shift"] == 0 and not case.layer.params["per_channel"] or
               not np.any(case.layer.arrays["shift"].values) for case in unshifted)
    pairs = [case for case in cases if case.name.startswith("fd_") and case not in unshifted]
    assert {case.layer.params["act_min"] > -128 for case in pairs if folded(case)} == {False, True}
    assert any(not folded(case) for case in pairs) and {c.layer.variant for c in pairs} == {"conv_dense_dsp"}
    return cases, {r.name: r for r in kb.measure(cases)}


@pytest.mark.qemu
def test_fused_kernels_match_the_reference_pool_bit_for_bit(fused_cases):
    cases, results = fused_cases
    assert [case.name for case in cases if not case.layer.params["pool_fused"]] == []
    wrong = {name: r.wrong for name, r in results.items() if r.wrong}
    assert not wrong, wrong


@pytest.mark.qemu
def test_dilated_convs_fuse_bit_for_bit():
    """Dilation 2: conv1ch's taps pixel by pixel (its 4 x 4 block path is 3x3 / stride 1 / dilation 1 only), the
    pixel quads' and the pixel pairs' im2col patches."""
    rng = np.random.default_rng(23)
    dilated = kb.Window(11, 10, 3, 3, dilation=2)
    cases = [kb.with_max_pool(kb.conv_case("dil_1ch", rng, dilated, 1, 6, kernel="conv1ch_dense_dsp")),
             kb.with_max_pool(kb.conv_case("dil_quads", rng, dilated, 8, 12, kernel="conv_dense_quads_dsp")),
             kb.with_max_pool(kb.conv_case("dil_pairs", rng, dilated, 5, 9)),
             kb.with_max_pool(kb.blocks_case("dil_wide_1x8", rng, 12, 72, 1, 8, window=dilated, cin=8)),
             kb.with_max_pool(kb.blocks_case("dil_bits_1x4", rng, 10, 36, 1, 4, sign_bits=True,
                                             window=kb.Window(9, 9, 3, 3, dilation=2, pad="VALID"), cin=4))]
    assert [case.layer.params["dil_h"] for case in cases if case.layer.params["pool_fused"]] == [2] * len(cases)
    results = kb.measure(cases)
    assert {r.name: r.wrong for r in results} == {case.name: 0 for case in cases}


# ---- the Helium and NEON kernels (on the target: tests/target/test_simd_pool_fusion.py) ----------------------

SIMD_FUSING = {"mps3-an547": {"conv_dense_mve", "conv_as_dense_mve", "conv_unpack_mve"},
               "aarch64-linux": {"conv_dense_neon", "conv_as_dense_neon", "conv_blocks_neon",
                                 "conv_blocks_tables_neon"},
               "aarch64-linux-dotprod": {"conv_dense_sdot", "conv_as_dense_sdot", "conv_blocks_sdot",
                                         "conv_blocks_tables_sdot"}}


def test_only_the_simd_kernels_with_a_fused_path_fuse():
    from toolchain.plan.kernels import ALL_VARIANTS

    simd = {v.name for v in ALL_VARIANTS if v.fuses_pool and v.features & {"mve", "neon"}}
    assert simd == set().union(*SIMD_FUSING.values())
    assert {v.op_type for v in ALL_VARIANTS if v.fuses_pool} == {"CONV_2D"}


@pytest.mark.parametrize("board_name", sorted(SIMD_FUSING))
@pytest.mark.parametrize("optimize", ["speed", "balanced"])
def test_the_mnist_cnn_fuses_its_pools_on_the_simd_boards_in_a_smaller_arena(board_name, optimize):
    board = load_board(board_name)
    graph = mnist_cnn_chain(1, (1, 8), activation="RELU")
    fused = make_plan(graph, board.features, optimize, cpu=board.cpu)
    unfused = make_plan(graph, board.features, optimize, cpu=board.cpu, fuse_pools=False)
    convs = [layer for layer in fused.layers if layer.op_type == "CONV_2D"]
    assert all(layer.params["pool_fused"] and layer.variant in SIMD_FUSING[board_name] for layer in convs)
    assert [layer.variant for layer in fused.layers].count(POOL_FUSED) == 3
    assert fused.arena_size < unfused.arena_size
    for conv, pool in zip(fused.layers, fused.layers[1:]):
        if conv.op_type == "CONV_2D":
            assert pool.variant == POOL_FUSED and pool.cost == 0 and pool.output == conv.output


@pytest.mark.parametrize("board_name, kernel, entry", [
    ("mps3-an547", "conv_as_dense_mve", "#define MVE_POOL_FUSED 1"),
    ("mps3-an547", "conv_unpack_mve", "#define MVE_POOL_FUSED 1"),
    ("aarch64-linux", "conv_as_dense_neon", "munify_neon_conv_dense_pool_s8(&params, input, output, scratch, 0, 4, 3)"),
    # bo, bi, sdot, sign tables, the pool's 4 x 3
    ("aarch64-linux", "conv_blocks_tables_neon", "munify_neon_blocks_pool_s8(&params, input, output, scratch, "
                                                 "1, 8, 0, 1, 4, 3)"),
    ("aarch64-linux-dotprod", "conv_blocks_sdot", "munify_neon_blocks_pool_s8(&params, input, output, scratch, "
                                                  "1, 8, 1, 0, 4, 3)"),
])
def test_a_fused_simd_layer_runs_the_pool_path_with_the_scratch_it_needs(board_name, kernel, entry):
    from toolchain.codegen import render

    board = load_board(board_name)
    rng = np.random.default_rng(5)
    graph = kb.with_max_pool(kb.blocks_case("b", rng, 8, 72, 1, 8, window=kb.Window(8, 7, 3, 3), cin=8,
                                            activation="NONE")).graph
    w = graph.tensor(graph.ops[0].inputs[1])
    graph = graph.with_tensor(dataclasses.replace(w, data=np.maximum(w.data, -127).astype(np.int8)))
    force = {graph.ops[0].name: kernel}
    fused = make_plan(graph, board.features, "speed", force=force, cpu=board.cpu)
    unfused = make_plan(graph, board.features, "speed", force=force, cpu=board.cpu, fuse_pools=False)
    layer = fused.layers[0]
    assert layer.params["pool_fused"] and (layer.params["pool_out_h"], layer.params["pool_out_w"]) == (4, 3)
    source = render(fused)[layer.source]
    assert entry in source
    extra = layer.scratch.size - unfused.layers[0].scratch.size  # a window's four pixels' accumulators / patches
    accumulators, patches = 3 * 4 * 8, 2 * 80  # 3 more pixels' int32 x 8 rows; 2 more patches of 80 bytes
    assert extra == {"conv_as_dense_mve": accumulators, "conv_unpack_mve": accumulators,
                     "conv_as_dense_neon": patches}.get(kernel, 0)
