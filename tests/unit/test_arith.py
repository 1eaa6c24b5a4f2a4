"""toolchain.ir.arith against exact integer / rational formulas and hand-computed TFLM parameters."""

import math
from fractions import Fraction

import numpy as np
import pytest

from toolchain.errors import IRError
from toolchain.ir import Graph, Op, Quant, Tensor, arith

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _exact_quantize_multiplier(real: float) -> tuple[int, int]:
    """Independent QuantizeMultiplier: normalise into [2^30, 2^31) exactly, round half away from zero."""
    if real == 0:
        return 0, 0
    value = Fraction(abs(real))
    shift = 0
    while value * 2 ** (31 - shift) >= 2 ** 31:
        shift += 1
    while value * 2 ** (31 - shift) < 2 ** 30:
        shift -= 1
    scaled = value * 2 ** (31 - shift)
    m = math.floor(scaled + Fraction(1, 2))
    if m == 2 ** 31:
        m, shift = 2 ** 30, shift + 1
    if shift < -31:
        return 0, 0
    return (m if real > 0 else -m), shift


@pytest.mark.parametrize("real, expected", [
    (0.0, (0, 0)),
    (1.0, (1 << 30, 1)),
    (0.5, (1 << 30, 0)),
    (0.75, (3 << 29, 0)),
    (-0.75, (-(3 << 29), 0)),
    (1.0 - 2.0 ** -40, (1 << 30, 1)),  # rounds up to 2^31: renormalised
    ((2 ** 30 + 0.5) / 2 ** 31, ((1 << 30) + 1, 0)),  # a tie: away from zero, not to even
    (2.0 ** -32, (1 << 30, -31)),  # smallest shift kept
    (2.0 ** -33, (0, 0)),  # below 2^-32: flushed to zero
    (3.0e9, (1500000000, 32)),
])
def test_quantize_multiplier_edge_cases(real, expected):
    assert arith.quantize_multiplier(real) == expected
    assert _exact_quantize_multiplier(real) == expected


def test_quantize_multiplier_matches_exact_formula_on_random_scales():
    rng = np.random.default_rng(0)
    reals = np.concatenate([10.0 ** rng.uniform(-9, 3, 400), rng.uniform(0, 1, 100)])
    multipliers, shifts = arith.quantize_multipliers(reals)
    for real, m, s in zip(reals, multipliers, shifts):
        assert (int(m), int(s)) == _exact_quantize_multiplier(float(real))
        assert abs(int(m) * 2.0 ** (int(s) - 31) - real) <= 2.0 ** (int(s) - 32)


def test_srdhm_matches_round_half_up_of_exact_product_and_saturates():
    rng = np.random.default_rng(1)
    a = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, 2000, endpoint=True), [INT32_MIN, -1, 0, 1, -3]])
    b = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, 2000, endpoint=True), [INT32_MAX, 1 << 30, 7, 1 << 30,
                                                                                  1 << 30]])
    got = arith.saturating_rounding_doubling_high_mul(a, b)
    for x, y, g in zip(a.tolist(), b.tolist(), got.tolist()):
        assert g == (x * y + (1 << 30)) >> 31
    assert arith.saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX
    assert arith.saturating_rounding_doubling_high_mul(-3, 1 << 30) == -1  # -1.5 rounds up to -1


def test_rounding_divide_by_pot_rounds_ties_away_from_zero():
    assert arith.rounding_divide_by_pot(np.array([5, -5, 4, -4, 6, -6, -7]), 1).tolist() == [3, -3, 2, -2, 3, -3, -4]
    rng = np.random.default_rng(2)
    x = rng.integers(INT32_MIN, INT32_MAX, 3000, endpoint=True)
    e = rng.integers(0, 32, 3000)
    got = arith.rounding_divide_by_pot(x, e)
    for xi, ei, g in zip(x.tolist(), e.tolist(), got.tolist()):
        q = Fraction(xi, 2 ** ei)
        expected = math.floor(abs(q) + Fraction(1, 2)) * (1 if q >= 0 else -1)
        assert g == expected


def test_multiply_by_quantized_multiplier_double_and_single_rounding():
    # 100 * 0.5 = 50; 100 * 0.25 = 25; -3 * 0.5 = -1.5 -> -1 (high multiply rounds half up);
    # -5 * 0.25 = -1.25 -> -1; 7 * 0.5 * 2 (left shift 1) = 7.
    assert arith.multiply_by_quantized_multiplier(100, 1 << 30, 0) == 50
    assert arith.multiply_by_quantized_multiplier(100, 1 << 30, -1) == 25
    assert arith.multiply_by_quantized_multiplier(-3, 1 << 30, 0) == -1
    assert arith.multiply_by_quantized_multiplier(-5, 1 << 30, -1) == -1
    assert arith.multiply_by_quantized_multiplier(7, 1 << 30, 1) == 7
    # Double rounding rounds the high multiply, then the right shift; single rounding rounds once, half up.
    assert arith.multiply_by_quantized_multiplier(5, 3 << 29, -2) == 1  # 5 * 0.75 = 3.75 -> 4, / 4 -> 1
    assert arith.multiply_by_quantized_multiplier(3, 1 << 30, -1, "single") == 1  # 0.75 -> 1
    assert arith.multiply_by_quantized_multiplier(-6, 1 << 30, -2, "single") == -1  # -0.75 -> -1
    assert arith.multiply_by_quantized_multiplier(-2, 1 << 30, -1, "single") == 0  # -0.5 -> 0 (half up)
    assert arith.multiply_by_quantized_multiplier(-2, 1 << 30, -1) == -1  # double: -1, then -0.5 -> -1
    rng = np.random.default_rng(3)
    x = rng.integers(-(1 << 20), 1 << 20, 5000)
    reals = 10.0 ** rng.uniform(-6, 0.5, 5000)
    m, s = arith.quantize_multipliers(reals)
    for rounding in arith.ROUNDINGS:
        got = arith.multiply_by_quantized_multiplier(x, m, s, rounding)
        assert np.all(np.abs(got - x * reals) <= 1.0 + 1e-6 * np.abs(x * reals))


def test_exp_and_reciprocal_against_float():
    a = -np.arange(0, 32 << 26, 1 << 20, dtype=np.int64)  # Q5.26 in [-32, 0]
    got = arith.exp_on_negative_values(a, 5) / 2.0 ** 31
    assert np.max(np.abs(got - np.exp(a / 2.0 ** 26))) < 5e-7
    assert arith.exp_on_negative_values(0, 5) == INT32_MAX
    x = np.arange(0, 1 << 31, 1 << 23, dtype=np.int64)  # Q0.31 in [0, 1)
    inv = arith.one_over_one_plus_x_for_x_in_0_1(x) / 2.0 ** 31
    assert np.max(np.abs(inv - 1.0 / (1.0 + x / 2.0 ** 31))) < 1e-8
    scale, bits = arith.reciprocal(np.array([3 << 18, 1 << 19, 5 << 19]), 12)  # 1.5, 1, 5 in Q12.19
    assert np.allclose(scale / 2.0 ** 31 * 2.0 ** -bits, [1 / 1.5, 1.0, 0.2], atol=1e-8)


def test_count_leading_zeros():
    assert arith.count_leading_zeros_u32(np.array([0, 1, 2, 3, 1 << 30, INT32_MAX, -1, INT32_MIN])).tolist() == \
        [32, 31, 30, 30, 1, 1, 0, 0]


def _t(name, scale, zp, shape=(1, 4, 4, 2), dtype="int8", data=None, axis=None):
    return Tensor(name, shape, dtype, Quant(np.atleast_1d(scale), np.atleast_1d(zp), axis), data)


def test_activation_range_hand_computed():
    out = _t("y", 0.1, -10)
    assert arith.activation_range("NONE", out) == (-128, 127)
    assert arith.activation_range("RELU", out) == (-10, 127)
    assert arith.activation_range("RELU6", out) == (-10, 50)
    assert arith.activation_range("RELU_N1_TO_1", out) == (-20, 0)
    assert arith.activation_range("RELU6", _t("y", 0.01, -128)) == (-128, 127)  # 6.0 saturates at 127
    with pytest.raises(IRError, match="TANH"):
        arith.activation_range("TANH", out)


def _graph(op, *tensors):
    return Graph("g", {t.name: t for t in tensors}, (op,), (tensors[0].name,), (op.outputs[0],))


def test_add_params_hand_computed():
    a, b, y = _t("a", 0.5, 3), _t("b", 0.25, -2), _t("y", 1.0, 5)
    op = Op("add", "ADD", ("a", "b"), ("y",), {"activation": "RELU"})
    p = arith.add_params(_graph(op, a, b, y), op)
    assert (p.input1_offset, p.input2_offset, p.output_offset, p.left_shift) == (-3, 2, 5, 20)
    assert (p.input1_multiplier, p.input1_shift) == (1 << 30, 0)  # 0.5 / (2 * 0.5)
    assert (p.input2_multiplier, p.input2_shift) == (1 << 30, -1)  # 0.25 / 1.0
    assert (p.output_multiplier, p.output_shift) == (1 << 30, -19)  # 1.0 / (2^20 * 1.0)
    assert (p.act_min, p.act_max) == (5, 127)


def test_softmax_params_hand_computed():
    x, y = _t("x", 1 / 16, 0, (1, 10)), _t("y", 1 / 256, -128, (1, 10))
    op = Op("sm", "SOFTMAX", ("x",), ("y",), {"beta": 1.0})
    p = arith.softmax_params(_graph(op, x, y), op)
    # 1/16 * 2^26 = 2^22 = 0.5 * 2^23 -> multiplier 2^30, left shift 23; radius floor(31 * 2^26 / 2^23) = 248
    assert (p.input_multiplier, p.input_left_shift, p.diff_min) == (1 << 30, 23, -248)
    bad = _t("y", 1 / 256, 0, (1, 10))
    with pytest.raises(IRError, match="zero point -128"):
        arith.softmax_params(_graph(op, x, bad), op)


def test_conv_params_per_tensor_broadcast_and_same_padding():
    x, y = _t("x", 0.5, -1, (1, 5, 5, 2)), _t("y", 0.25, 2, (1, 3, 3, 3))
    w = _t("w", 0.125, 0, (3, 3, 3, 2), data=np.ones((3, 3, 3, 2), np.int8))
    op = Op("c", "CONV_2D", ("x", "w", ""), ("y",), {"stride": (2, 2), "padding": "SAME"})
    p = arith.conv_params(_graph(op, x, w, y), op)
    assert p.multipliers.tolist() == [1 << 30] * 3 and p.shifts.tolist() == [-1] * 3  # 0.5*0.125/0.25
    assert (p.input_offset, p.output_offset, p.pad_top, p.pad_left) == (1, 2, 1, 1)
    wrong = _t("y", 0.25, 2, (1, 2, 2, 3))
    with pytest.raises(IRError, match="output height"):
        arith.conv_params(_graph(op, x, w, wrong), op)


def test_fc_per_tensor_multiplier_uses_the_double_scale_product():
    xs, ws, ys = np.float32(0.02479089), np.float32(0.01955668), np.float32(0.36449847)  # AD01's last layer
    x, y = _t("x", xs, 0, (1, 4)), _t("y", ys, 0, (1, 3))
    w = _t("w", ws, 0, (3, 4), data=np.ones((3, 4), np.int8))
    op = Op("fc", "FULLY_CONNECTED", ("x", "w", ""), ("y",))
    p = arith.fc_params(_graph(op, x, w, y), op)
    expected = arith.quantize_multiplier(float(xs) * float(ws) / float(ys))
    assert p.multipliers.tolist() == [expected[0]] * 3 and p.shifts.tolist() == [expected[1]] * 3
    assert not p.per_channel
    assert expected != arith.quantize_multiplier(float(np.float32(xs * ws)) / float(ys))  # the case matters
