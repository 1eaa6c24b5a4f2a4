"""requant_folds_offset: the plan's proof that a layer's requantization needs no overflow path and can take the
output offset into the rounding nudge (the DSP conv pixel quads' short output loop)."""

import numpy as np

from toolchain.plan.layers import requant_folds_offset


def _layer(rng, rows=16, cols=72, bias=5000):
    return rng.integers(-127, 128, (rows, cols)), rng.integers(-bias, bias, rows)


def test_an_ordinary_layer_folds():
    matrix, bias = _layer(np.random.default_rng(0))
    assert requant_folds_offset(matrix, bias, 5, np.full(16, -9))


def test_a_bias_near_two_to_the_thirty_does_not():
    matrix, bias = _layer(np.random.default_rng(1))
    bias[3] = 1 << 30
    assert not requant_folds_offset(matrix, bias, 5, np.full(16, -9))


def test_the_bound_counts_the_input_zero_point_and_every_weight():
    # |acc| <= |bias| + (|zp| + 128) * sum |w|: 2 * that must stay below 2^31
    matrix = np.full((1, 1000), 127)
    room = (1 << 30) - 1 - (128 + 100) * 127 * 1000
    assert requant_folds_offset(matrix, np.array([room]), 100, np.array([-9]))
    assert not requant_folds_offset(matrix, np.array([room + 1]), 100, np.array([-9]))
    assert not requant_folds_offset(matrix, np.array([room]), -101, np.array([-9]))


def test_a_long_right_shift_leaves_no_room_for_the_offset():
    matrix, bias = _layer(np.random.default_rng(2))
    assert requant_folds_offset(matrix, bias, 0, np.full(16, -23))  # 128 << 23 = 2^30, plus the accumulators
    assert not requant_folds_offset(matrix, bias, 0, np.full(16, -24))  # 128 << 24 = 2^31


def test_a_channel_without_a_right_shift_does_not_fold():
    matrix, bias = _layer(np.random.default_rng(3))
    for shift in (0, 2):
        shifts = np.full(16, -9)
        shifts[5] = shift
        assert not requant_folds_offset(matrix, bias, 0, shifts)


def test_an_empty_matrix_does_not_fold():
    assert not requant_folds_offset(np.zeros((0, 4)), np.zeros(0), 0, np.zeros(0))
