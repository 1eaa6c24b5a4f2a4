"""The fact toolchain.plan.fusion rests on: TFLite's requantization is non-decreasing in the accumulator, so the
requantized maximum of a pool window's accumulators is the maximum of their requantized values."""

import numpy as np
import pytest

from toolchain.ir import arith

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _accumulators(rng: np.random.Generator) -> np.ndarray:
    """Random int32 accumulators with the edges: the extremes, zero, and both sides of 2 * acc overflowing int32
    (where the DSP kernels leave SMMULR for the 64-bit high multiply)."""
    edges = [INT32_MIN, INT32_MIN + 1, -(1 << 30) - 1, -(1 << 30), -(1 << 30) + 1, -1, 0, 1,
             (1 << 30) - 1, 1 << 30, (1 << 30) + 1, INT32_MAX - 1, INT32_MAX]
    spread = rng.integers(INT32_MIN, INT32_MAX, 4000, endpoint=True)
    small = rng.integers(-5000, 5000, 2000)
    return np.unique(np.concatenate([edges, spread, small]).astype(np.int64))


def _requantize(acc, multiplier, shift, rounding, offset=-7, act=(-128, 127)) -> np.ndarray:
    scaled = arith.multiply_by_quantized_multiplier(acc, multiplier, shift, rounding) + offset
    return np.clip(scaled, *act)


@pytest.mark.parametrize("rounding", arith.ROUNDINGS)
@pytest.mark.parametrize("shift", range(-31, 1))
def test_requantization_never_decreases_with_the_accumulator(rounding, shift):
    rng = np.random.default_rng(100 + shift)
    acc = _accumulators(rng)  # sorted
    for multiplier in [1 << 30, (1 << 31) - 1, *rng.integers(1 << 30, 1 << 31, 6)]:
        for act in ((-128, 127), (-20, 127), (0, 6)):
            out = _requantize(acc, int(multiplier), shift, rounding, act=act)
            assert np.all(np.diff(out) >= 0), (multiplier, act)
    # so the requantized maximum of four accumulators is the maximum of the four requantized
    windows = rng.choice(acc, (3000, 4))
    m = int(rng.integers(1 << 30, 1 << 31))
    np.testing.assert_array_equal(_requantize(windows.max(axis=1), m, shift, rounding),
                                  _requantize(windows, m, shift, rounding).max(axis=1))


def test_a_wrapping_left_shift_is_not_monotonic():
    """Why the plan fuses only right shifts: with a left shift the int32 product wraps."""
    acc = np.array([(1 << 29) - 1, 1 << 29], np.int64)  # << 2 wraps the second
    out = arith.multiply_by_quantized_multiplier(acc, (1 << 31) - 1, 2, "double")
    assert out[1] < out[0]
