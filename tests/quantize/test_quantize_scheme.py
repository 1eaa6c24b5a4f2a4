"""The int8 scheme: activation parameters, per-channel weights that keep every block exact, int32 biases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from toolchain.ir import BlockKind, BlockStructure
from toolchain.ir.blocks import SUPPORTED_BI, SUPPORTED_BO, full_block_mask
from toolchain.quantize import ActQuant, quantize_matrix, weight_scales
from toolchain.quantize.scheme import quantize_bias, unified_blocks_zeroed


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-1.0, 1.0), (-0.3, 7.9), (0.2, 5.0), (-4.0, -0.5),
                                       (-1e-3, 250.0)])
def test_activation_quant_covers_range_and_represents_zero(low, high):
    q = ActQuant.from_range(low, high)
    assert -128 <= q.zero_point <= 127
    assert q.scale == pytest.approx((max(high, 0) - min(low, 0)) / 255, rel=1e-6)
    assert np.float32(q.scale) == q.scale  # stored as float32 in the IR
    # real 0 is exactly the zero point; both range ends are within half a step of the grid ends
    assert q.scale * (-128 - q.zero_point) <= min(low, 0) + q.scale / 2
    assert q.scale * (127 - q.zero_point) >= max(high, 0) - q.scale / 2


def test_activation_quant_of_relu_output_starts_at_zero():
    q = ActQuant.from_range(0.0, 6.0)
    assert q.zero_point == -128
    assert q.bounds("RELU") == (-128, 127)
    low, high = q.bounds("RELU6")
    assert low == -128 and high == 127  # 6.0 maps onto the top code
    wide = ActQuant.from_range(-2.0, 10.0)
    low, high = wide.bounds("RELU6")
    assert low == wide.zero_point
    assert abs(wide.scale * (high - wide.zero_point) - 6.0) <= wide.scale * 0.501  # 6 / scale = 127.5 here


def test_activation_quant_of_constant_zero_tensor_is_valid():
    q = ActQuant.from_range(0.0, 0.0)
    assert q.scale > 0 and q.zero_point == -128


def _structured_matrix(rng, rows, cols, bo, bi):
    """Float weights with per-row unified magnitudes (as after BN folding), pruned zeros and a kind map."""
    matrix = rng.normal(size=(rows, cols)).astype(np.float32)
    gr, gc = -(-rows // bo), -(-cols // bi)
    kinds = rng.integers(0, 3, size=(gr, gc)).astype(np.uint8)
    kinds[~full_block_mask(rows, cols, bo, bi)] = BlockKind.DENSE
    for r, c in itertools.product(range(gr), range(gc)):
        tile = matrix[r * bo:(r + 1) * bo, c * bi:(c + 1) * bi]
        if kinds[r, c] == BlockKind.PRUNED:
            tile[...] = 0
        elif kinds[r, c] == BlockKind.UNIFIED:
            magnitude = np.float32(abs(rng.normal()))
            tile[...] = np.where(rng.random(tile.shape) < 0.5, -1, 1) * magnitude
    row_factors = rng.uniform(-2, 2, size=(rows, 1)).astype(np.float32)  # a folded BN scales each row
    return matrix * row_factors, kinds


@pytest.mark.parametrize("bo, bi", list(itertools.product(SUPPORTED_BO, SUPPORTED_BI)))
def test_per_channel_quantization_keeps_every_block_exact(bo, bi):
    rng = np.random.default_rng(bo * 100 + bi)
    rows, cols = 4 * bo + 1, 5 * bi + 3  # edge blocks on both sides
    matrix, kinds = _structured_matrix(rng, rows, cols, bo, bi)
    w = torch.from_numpy(matrix)
    scales = weight_scales(w)
    q = quantize_matrix(w, scales, kinds, bo, bi)
    codes = q.numpy().astype(np.int8)

    assert np.array_equal(q.numpy(), codes.astype(np.float32))
    assert np.abs(codes).max() <= 127
    assert np.array_equal(np.abs(codes).max(axis=1), np.where(np.abs(matrix).max(axis=1) > 0, 127, 0))
    blocks = BlockStructure.from_matrix(codes, kinds, bo, bi)
    blocks.check(codes, "w")  # unified rows: one magnitude and the float weights' signs; pruned: zeros
    weight_kinds = blocks.weight_kinds()
    assert np.all(codes[weight_kinds == BlockKind.PRUNED] == 0)
    signed = (weight_kinds == BlockKind.UNIFIED) & (codes != 0)  # a magnitude may round to 0
    assert np.all((codes[signed] < 0) == (matrix[signed] < 0))
    dense = weight_kinds == BlockKind.DENSE
    expected = np.sign(matrix) * np.floor(np.abs(matrix.astype(np.float64) / scales.numpy()[:, None]) + 0.5)
    assert np.array_equal(codes[dense], expected[dense])


def test_quantization_projects_a_slightly_broken_structure():
    rng = np.random.default_rng(7)
    matrix, kinds = _structured_matrix(rng, 8, 32, 2, 8)
    noisy = matrix + rng.normal(scale=1e-3, size=matrix.shape).astype(np.float32)
    w = torch.from_numpy(noisy)
    codes = quantize_matrix(w, weight_scales(w), kinds, 2, 8).numpy().astype(np.int8)
    BlockStructure.from_matrix(codes, kinds, 2, 8).check(codes, "w")


def test_unified_rows_that_round_to_zero_are_reported():
    matrix = np.zeros((2, 8), np.float32)
    matrix[:, :4] = [[1.0, -1.0, 1.0, 1.0], [2.0, 2.0, -2.0, 2.0]]  # dense blocks set the row scales
    matrix[:, 4:] = [[0.003, -0.003, 0.003, 0.003], [0.5, 0.5, -0.5, 0.5]]
    kinds = np.array([[BlockKind.DENSE, BlockKind.UNIFIED]], np.uint8)
    w = torch.from_numpy(matrix)
    q = quantize_matrix(w, weight_scales(w), kinds, 2, 4)
    assert not unified_blocks_zeroed(q, kinds, 2, 4).any()  # row 1 keeps magnitude 32
    matrix[1, 4:] = [0.001, 0.001, -0.001, 0.001]
    w = torch.from_numpy(matrix)
    q = quantize_matrix(w, weight_scales(w), kinds, 2, 4)
    assert unified_blocks_zeroed(q, kinds, 2, 4).tolist() == [[False, True]]


def test_all_zero_row_gets_a_usable_scale():
    w = torch.tensor([[0.0, 0.0], [0.5, -0.25]])
    scales = weight_scales(w)
    assert torch.all(scales > 0) and scales[0] == scales[1]


def test_bias_is_int32_at_input_times_weight_scale():
    scales = torch.tensor([0.01, 0.02], dtype=torch.float32)
    codes = quantize_bias(torch.tensor([0.3, -0.5]), 0.05, scales)
    assert codes.tolist() == [600.0, -500.0]
    huge = quantize_bias(torch.tensor([1e9, -1e9]), 1e-3, scales)
    assert huge.tolist() == [2**31 - 1, -(2**31 - 1)]
