"""The Cortex-M DSP kernels: packed layouts, bit-exact outputs and instruction counts on mps2-an386 (QEMU),
and their place in the plan. A missing arm-none-eabi-gcc or qemu-system-arm is an error, not a skip."""


import numpy as np
import pytest

from toolchain.ir import save
from toolchain.plan import make_plan
from toolchain.plan.kernels.dsp import kernels as dsp

from benchmarks.kernels import kernel_bench as kb
from random_graphs import random_chain


def test_fc4_layout_interleaves_four_rows_per_four_inputs():
    m = np.arange(6 * 5).reshape(6, 5).astype(np.int8)
    packed = dsp.pack_fc_dense(m)
    padded = np.zeros((6, 8), np.int8)
    padded[:, :5] = m
    first_group = np.concatenate([padded[r, 0:4] for r in range(4)] + [padded[r, 4:8] for r in range(4)])
    assert packed[:32].tolist() == first_group.tolist()
    assert packed[32:].tolist() == padded[4:].reshape(-1).tolist()  # the 2 tail rows, row-major


def test_conv2_layout_pairs_rows_and_pads_an_odd_row():
    m = np.arange(3 * 6).reshape(3, 6).astype(np.int8)
    packed = dsp.pack_conv_dense(m)
    assert len(packed) == 4 * 8
    assert packed[:8].tolist() == m[0, :4].tolist() + m[1, :4].tolist()
    assert packed[8:16].tolist() == [4, 5, 0, 0, 10, 11, 0, 0]
    assert packed[16:].tolist() == [12, 13, 14, 15, 0, 0, 0, 0, 16, 17, 0, 0, 0, 0, 0, 0]


def test_depthwise_layout_pairs_taps_per_channel_in_sxtb16_order():
    m = np.arange(8 * 3).reshape(8, 3).astype(np.int8)  # 8 channels, 3 taps (padded to 4)
    packed = dsp.pack_depthwise(m)
    assert packed.dtype == np.int8 and len(packed) == 8 * 4
    first_pair = [m[0, 0], m[2, 0], m[0, 1], m[2, 1], m[1, 0], m[3, 0], m[1, 1], m[3, 1]]
    assert packed[:8].tolist() == first_pair
    assert packed[8:16].tolist() == [m[0, 2], m[2, 2], 0, 0, m[1, 2], m[3, 2], 0, 0]
    assert packed[16:20].tolist() == [m[4, 0], m[6, 0], m[4, 1], m[6, 1]]


@pytest.fixture(scope="module")
def measured():
    rng = np.random.default_rng(7)
    cases = [
        kb.fc_case("fc128x512", rng, 128, 512),
        kb.fc_case("fc_tail", rng, 7, 21, batches=3),
        kb.fc_case("fc_huge_accumulators", rng, 16, 32, huge_bias=True),
        kb.conv_case("conv_huge_accumulators", rng, kb.Window(3, 3, 1, 1, pad="VALID"), 8, 12, huge_bias=True),
        kb.conv_case("pointwise", rng, kb.Window(5, 5, 1, 1, pad="VALID"), 64, 64),
        kb.conv_case("pointwise_odd", rng, kb.Window(3, 5, 1, 1, pad="VALID"), 20, 7),
        kb.conv_case("conv3x3", rng, kb.Window(8, 7, 3, 3), 8, 16),
        kb.conv_case("conv_odd", rng, kb.Window(9, 6, 3, 2, stride=2, dilation=2), 3, 5),
        kb.depthwise_case("dw3x3", rng, kb.Window(7, 5, 3, 3), 16),
        kb.depthwise_case("dw_stride", rng, kb.Window(9, 8, 3, 3, stride=2, pad="VALID", dilation=2), 8),
        kb.depthwise_case("dw_even_taps", rng, kb.Window(3, 3, 2, 2, dilation=2), 8),
        kb.fc_case("fc_dense_ref", rng, 64, 256),
        kb.blocks_case("bl_mixed_1x8_wide", rng, 64, 256, 1, 8),
        kb.blocks_case("bl_mixed_1x8_bits", rng, 64, 256, 1, 8, sign_bits=True),
        kb.blocks_case("bl_1x4_wide", rng, 9, 44, 1, 4, mix=(0.3, 0.4, 0.3)),
        kb.blocks_case("bl_1x4_bits", rng, 9, 44, 1, 4, mix=(0.3, 0.4, 0.3), sign_bits=True),
        kb.blocks_case("bl_1x16_wide", rng, 10, 70, 1, 16, mix=(0.3, 0.4, 0.3)),
        kb.blocks_case("bl_1x16_bits", rng, 10, 70, 1, 16, mix=(0.3, 0.4, 0.3), sign_bits=True),
        kb.blocks_case("bl_4x8_wide", rng, 14, 40, 4, 8, mix=(0.3, 0.4, 0.3)),
        kb.blocks_case("bl_2x8_wide", rng, 15, 44, 2, 8, mix=(0.3, 0.4, 0.3)),
        kb.blocks_case("bl_2x8_bits", rng, 16, 40, 2, 8, mix=(0.3, 0.4, 0.3), sign_bits=True),
        kb.blocks_case("bl_2x4_wide", rng, 10, 28, 2, 4, mix=(0.3, 0.4, 0.3)),
        kb.blocks_case("bl_conv_2x8", rng, 13, 54, 2, 8, window=kb.Window(5, 3, 3, 3), cin=6),
        kb.blocks_case("bl_2x4_bits", rng, 14, 40, 2, 4, mix=(0.3, 0.4, 0.3), sign_bits=True),
        kb.blocks_case("bl_conv_1x8", rng, 12, 72, 1, 8, window=kb.Window(5, 4, 3, 3), cin=8),
        kb.blocks_case("bl_conv_odd_pixels_tail_cols", rng, 10, 54, 1, 8, sign_bits=True,
                       window=kb.Window(5, 3, 3, 3, stride=1), cin=6),
        kb.blocks_case("bl_conv_1x4_bits", rng, 8, 36, 1, 4, sign_bits=True, window=kb.Window(4, 4, 3, 3, stride=2),
                       cin=4),
        kb.conv_case("conv3x3_32_ref", rng, kb.Window(8, 8, 3, 3), 32, 32),
        kb.blocks_case("bl_conv3x3_mixed_1x8", rng, 32, 288, 1, 8, window=kb.Window(8, 8, 3, 3), cin=32),
        kb.blocks_case("bl_pointwise_2x16", rng, 16, 32, 2, 16, window=kb.Window(4, 3, 1, 1, pad="VALID"), cin=32),
        # sign records more than 127 block columns apart: filler records of magnitude 0
        kb.blocks_case("bl_conv_1x8_bits_fillers", rng, 6, 1152, 1, 8, mix=(0.05, 0.02, 0.93), sign_bits=True,
                       window=kb.Window(3, 3, 3, 3), cin=128),
        kb.blocks_case("bl_conv_1x4_bits_fillers", rng, 7, 576, 1, 4, mix=(0.05, 0.02, 0.93), sign_bits=True,
                       window=kb.Window(3, 2, 3, 3), cin=64),
        # 1 x 16 conv blocks run as two 1 x 8 blocks, four pixels at a time; a partial last 16-block of 12
        kb.blocks_case("bl_conv_1x16_wide", rng, 11, 108, 1, 16, mix=(0.3, 0.4, 0.3), window=kb.Window(5, 3, 3, 3),
                       cin=12),
        kb.blocks_case("bl_conv_1x16_bits", rng, 9, 108, 1, 16, mix=(0.3, 0.4, 0.3), sign_bits=True,
                       window=kb.Window(4, 4, 3, 3, stride=2), cin=12),
        # FC pair records: a partial last group of 8 inputs, 1 x 4 halves, 1 x 16 over two groups
        kb.blocks_case("bl_1x4_pairs", rng, 9, 44, 1, 4, mix=(0.3, 0.4, 0.3), pairs=True),
        kb.blocks_case("bl_1x8_pairs", rng, 12, 70, 1, 8, mix=(0.3, 0.4, 0.3), pairs=True),
        kb.blocks_case("bl_1x16_pairs", rng, 10, 76, 1, 16, mix=(0.3, 0.4, 0.3), pairs=True),
        kb.blocks_case("bl_dense_pairs", rng, 10, 40, 1, 8, mix=(1.0, 0.0, 0.0), pairs=True),
        kb.blocks_case("bl_unified_1x4_pairs", rng, 64, 256, 1, 4, mix=(0.0, 1.0, 0.0), pairs=True),
        kb.blocks_case("bl_unified_1x8_pairs", rng, 64, 256, 1, 8, mix=(0.0, 1.0, 0.0), pairs=True),
        # one input channel (conv1ch): 3x3 inside and at the borders, stride 2, 2x3 and dilated windows, plain C
        kb.conv_case("c1_mnist_dense", rng, kb.Window(12, 12, 3, 3), 1, 16),
        kb.conv_case("c1_mnist", rng, kb.Window(12, 12, 3, 3), 1, 16, kernel="conv1ch_dense_dsp"),
        kb.conv_case("c1_valid_s2", rng, kb.Window(9, 8, 3, 3, stride=2, pad="VALID"), 1, 7,
                     kernel="conv1ch_dense_dsp"),
        kb.conv_case("c1_2x3", rng, kb.Window(6, 7, 2, 3), 1, 5, kernel="conv1ch_dense_dsp"),
        kb.conv_case("c1_dilated", rng, kb.Window(9, 9, 3, 3, dilation=2), 1, 3, kernel="conv1ch_dense_dsp"),
        kb.conv_case("c1_scalar", rng, kb.Window(6, 5, 3, 3), 1, 6, kernel="conv1ch_dense_dsp", scalar=True),
        # MAX_POOL_2D 4 channels a word: 2x2 / 2, a SAME 3x3 window cut at the borders, ReLU bounds
        kb.maxpool_case("mp_generic", rng, kb.Window(28, 28, 2, 2, stride=2, pad="VALID"), 16,
                        kernel="maxpool_generic"),
        kb.maxpool_case("mp_2x2", rng, kb.Window(28, 28, 2, 2, stride=2, pad="VALID"), 16),
        kb.maxpool_case("mp_same_3x3", rng, kb.Window(7, 6, 3, 3, stride=2), 8),
        kb.maxpool_case("mp_relu6", rng, kb.Window(6, 6, 3, 3), 12, activation="RELU6"),
        # the conv pixel quads' four-pixel requantization: 2 * acc overflowing int32
        kb.blocks_case("bl_conv_quad_huge_bias", rng, 12, 72, 1, 8, window=kb.Window(4, 4, 3, 3), cin=8,
                       huge_bias=True),
        # the offset folded into the nudges (requant_folds_offset), with and without a ReLU clamp
        kb.blocks_case("bl_conv_quad_folded", rng, 16, 144, 1, 8, window=kb.Window(6, 6, 3, 3), cin=16,
                       activation="NONE"),
        kb.blocks_case("bl_conv_quad_folded_relu", rng, 16, 144, 1, 8, window=kb.Window(6, 6, 3, 3), cin=16,
                       activation="RELU"),
        # interior pixels' kernel rows read straight from the input, without unified blocks (widening only)
        kb.blocks_case("bl_conv_direct_no_unified", rng, 16, 144, 1, 8, mix=(0.5, 0.0, 0.5),
                       window=kb.Window(6, 6, 3, 3), cin=16),
        # one input channel, its requantization fused into the channel loop (requant_folds_offset) or not
        kb.conv_case("c1_huge_bias", rng, kb.Window(6, 6, 3, 3), 1, 8, huge_bias=True, kernel="conv1ch_dense_dsp"),
        # dense weights as 1 x 8 blocks on the pixel quads: interior rows read directly, a reduction that is not
        # a whole number of blocks (3 channels), pointwise with an odd last quad, and 2 * acc overflowing
        kb.conv_case("dq_mnist8", rng, kb.Window(7, 7, 3, 3), 32, 48, kernel="conv_dense_quads_dsp"),
        kb.conv_case("dq_rgb", rng, kb.Window(9, 9, 3, 3, stride=2), 3, 8, kernel="conv_dense_quads_dsp"),
        kb.conv_case("dq_pointwise", rng, kb.Window(5, 3, 1, 1, pad="VALID"), 16, 12, kernel="conv_dense_quads_dsp"),
        kb.conv_case("dq_huge_bias", rng, kb.Window(4, 4, 3, 3), 8, 12, huge_bias=True,
                     kernel="conv_dense_quads_dsp"),
        # mask-byte records, a last quad with one pixel (7 x 7, 5 x 5 pixels): its rows for that pixel alone
        kb.blocks_case("bl_conv_single_1x8", rng, 24, 72, 1, 8, window=kb.Window(7, 7, 3, 3), cin=8,
                       activation="NONE"),
        kb.blocks_case("bl_conv_single_1x4_relu", rng, 12, 36, 1, 4, window=kb.Window(5, 5, 3, 3), cin=4,
                       activation="RELU"),
        kb.blocks_case("bl_conv_single_1x16", rng, 8, 144, 1, 16, window=kb.Window(5, 5, 3, 3), cin=16),
        kb.blocks_case("bl_conv_single_bits_1x8", rng, 24, 72, 1, 8, window=kb.Window(7, 7, 3, 3), cin=8,
                       sign_bits=True, activation="NONE"),
        kb.blocks_case("bl_conv_single_bits_1x4", rng, 12, 36, 1, 4, window=kb.Window(5, 5, 3, 3), cin=4,
                       sign_bits=True),
        # the dense conv's two pixels requantized from one entry (folded), with and without a ReLU clamp
        kb.conv_case("conv_folded", rng, kb.Window(7, 7, 3, 3), 16, 9, activation="NONE"),
        kb.conv_case("conv_folded_relu", rng, kb.Window(6, 5, 3, 3), 8, 6, activation="RELU"),
    ]
    folded = {case.name: case.layer.params.get("requant_folds_offset") for case in cases}
    assert folded["bl_conv_quad_folded"] and folded["bl_conv_quad_folded_relu"], folded
    assert not folded["bl_conv_quad_huge_bias"]
    relu = next(case for case in cases if case.name == "bl_conv_quad_folded_relu")
    one_channel = [case.layer.params for case in cases if case.name.startswith("c1_") and case.name != "c1_scalar"]
    fused_bounds = {p["act_min"] > -128 for p in one_channel if p["requant_folds_offset"] and p["act_max"] == 127}
    assert fused_bounds == {False, True}, "the fused conv1ch loops: pick another seed"
    assert not folded["c1_huge_bias"]
    assert folded["conv_folded"] and folded["conv_folded_relu"] and not folded["conv_huge_accumulators"]
    conv_relu = next(case for case in cases if case.name == "conv_folded_relu").layer.params
    assert conv_relu["act_min"] > -128 and conv_relu["act_max"] == 127, "pick another seed"
    assert relu.layer.params["act_min"] > -128 and relu.layer.params["output_offset"] != 0, "pick another seed"
    for case in cases:
        if case.name.endswith("_fillers"):
            records = np.concatenate([case.layer.arrays[role].values for role in ("unified_records", "row_stream")])
            assert dsp.MAX_SIGN_RECORD_STEP << 8 in records, f"{case.name}: no filler record, pick another seed"
    return {r.name: r for r in kb.measure(cases)}


def test_kernels_match_the_reference_bit_for_bit(measured):
    wrong = {name: r.wrong for name, r in measured.items() if r.wrong}
    assert not wrong, f"outputs differ from the numpy reference: {wrong}"


def test_dense_fc_stays_near_the_smlad_bar(measured):
    # 38 instructions per 32 MACs in the inner loop; requantization and widening add ~0.1
    assert measured["fc128x512"].per_mac < 1.4, measured["fc128x512"]


def test_dense_pointwise_conv_is_well_below_the_tflm_cost(measured):
    # TFLM + CMSIS-NN spends 2.2-2.9 instructions per MAC; the 2x2 SMLAD core 0.94, requantization ~20 per output
    assert measured["pointwise"].per_mac < 1.7, measured["pointwise"]


def test_mixed_blocks_beat_the_dense_kernel(measured):
    # 50% pruned, 30% unified (sign-mask), 20% dense 1 x 8 blocks of the same 64 x 256 layer
    dense = measured["fc_dense_ref"].instructions
    assert measured["bl_mixed_1x8_wide"].instructions < 0.8 * dense, (measured["bl_mixed_1x8_wide"], dense)
    assert measured["bl_mixed_1x8_bits"].instructions < 0.9 * dense, (measured["bl_mixed_1x8_bits"], dense)


@pytest.mark.parametrize("bi", [4, 8])
def test_unified_fc_pair_records_beat_the_dense_kernel(measured, bi):
    """All blocks unified, 64 x 256: one pair table per column, then one LDR + SMLAD per 8 inputs of a row."""
    dense = measured["fc_dense_ref"].instructions
    pairs = measured[f"bl_unified_1x{bi}_pairs"]
    assert pairs.instructions < 0.7 * dense, (pairs, dense)


def test_one_channel_conv_beats_the_im2col_kernel(measured):
    """The taps of a pixel stay in registers for every output channel: five SMLAD a channel."""
    dense = measured["c1_mnist_dense"].instructions
    assert measured["c1_mnist"].instructions < 0.8 * dense, (measured["c1_mnist"], dense)


def test_dsp_maxpool_beats_the_generic_kernel(measured):
    """Four channels per SSUB8 + SEL against one compare per channel."""
    generic = measured["mp_generic"].instructions
    assert measured["mp_2x2"].instructions < 0.4 * generic, (measured["mp_2x2"], generic)


def test_mixed_blocks_beat_the_dense_conv(measured):
    dense = measured["conv3x3_32_ref"].instructions
    assert measured["bl_conv3x3_mixed_1x8"].instructions < 0.75 * dense, (measured["bl_conv3x3_mixed_1x8"], dense)


def test_plan_uses_dsp_kernels_only_on_dsp_boards():
    graph = random_chain(3, blocked=False)
    with_dsp = {layer.variant for layer in make_plan(graph, frozenset({"dsp"})).layers}
    without = {layer.variant for layer in make_plan(graph, frozenset()).layers}
    assert any(v.endswith("_dsp") for v in with_dsp)
    assert not any(v.endswith("_dsp") for v in without)


@pytest.mark.qemu
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_dense_model_on_dsp_kernels_is_bit_exact_on_m4(tmp_path, seed):
    from toolchain.boards import load_board
    from toolchain.run import run_model

    graph = random_chain(seed, blocked=False)
    path = tmp_path / "chain.mun"
    save(graph, path)
    report = run_model(path, load_board("mps2-an386"), tmp_path / "build", 2, 0, True, "balanced")
    assert report.bit_exact, report.mismatches[:3]
    assert any(layer.kernel.endswith("_dsp") for layer in report.layers)


@pytest.fixture
def dsp_matrix_kernels_only(monkeypatch):
    """The registry without the generic CONV_2D / FULLY_CONNECTED kernels and without running block-structured
    weights densely, so every blocked matrix layer takes a DSP block kernel."""
    from toolchain.plan import registry

    everything = registry.all_variants
    matrix_ops = ("CONV_2D", "FULLY_CONNECTED")

    def kept(v) -> bool:
        return v.op_type not in matrix_ops or ("dsp" in v.features and "_as_dense_" not in v.name)

    monkeypatch.setattr(registry, "all_variants", lambda: tuple(v for v in everything() if kept(v)))


@pytest.mark.qemu
@pytest.mark.parametrize("seed, optimize", [(1, "speed"), (3, "balanced")])  # 1 x bi and bo x bi blocks, bi 4-16
def test_block_structured_model_on_dsp_kernels_is_bit_exact_on_m4(tmp_path, dsp_matrix_kernels_only, seed,
                                                                 optimize):
    from toolchain.boards import load_board
    from toolchain.run import run_model

    graph = random_chain(seed, blocked=True)
    plan = make_plan(graph, frozenset({"dsp"}), optimize)
    matrix_layers = [layer.variant for layer in plan.layers if layer.op_type in ("CONV_2D", "FULLY_CONNECTED")]
    assert all(v.endswith("_dsp") for v in matrix_layers), matrix_layers
    assert any("_blocks_" in v for v in matrix_layers), matrix_layers
    path = tmp_path / "chain.mun"
    save(graph, path)
    report = run_model(path, load_board("mps2-an386"), tmp_path / "build", 2, 0, True, optimize)
    assert report.bit_exact, report.mismatches[:3]
