"""toolchain.ir.reference on hand-built graphs: hand-computed values, and the vectorized kernels against
literal transcriptions of TFLM's reference loops on small random cases (strides, dilation, SAME/VALID,
depth multiplier, broadcasting, fused activations)."""

import zlib

import numpy as np
import pytest

from toolchain.errors import MunifyError
from toolchain.ir import BlockKind, BlockStructure, Graph, Op, Quant, Tensor, arith, reference, reference_ops, weight_matrix


def _q(scale, zp, axis=None):
    return Quant(np.atleast_1d(np.asarray(scale, np.float32)), np.atleast_1d(zp), axis)


def _act(name, shape, scale=0.05, zp=0):
    return Tensor(name, tuple(shape), "int8", _q(scale, zp))


def _graph(ops, tensors, inputs, outputs=None):
    g = Graph("t", {t.name: t for t in tensors}, tuple(ops), tuple(inputs), tuple(outputs or [ops[-1].outputs[0]]))
    g.validate()
    return g


def _rand(rng, shape, lo=-128, hi=127):
    return rng.integers(lo, hi, size=shape, endpoint=True).astype(np.int8)


def _window_op(rng, op_type, x_shape, out_hw, window, stride, dilation, padding, activation, multiplier=1):
    """One CONV_2D / DEPTHWISE_CONV_2D graph with random per-channel weights and bias."""
    cin = x_shape[3]
    cout = cin * multiplier if op_type == "DEPTHWISE_CONV_2D" else 3
    w_shape = (1, *window, cout) if op_type == "DEPTHWISE_CONV_2D" else (cout, *window, cin)
    axis = 3 if op_type == "DEPTHWISE_CONV_2D" else 0
    w = Tensor("w", w_shape, "int8", _q(rng.uniform(0.002, 0.02, cout), np.zeros(cout, int), axis),
               _rand(rng, w_shape, -127))
    b = Tensor("b", (cout,), "int32", _q(np.full(cout, 1e-4), np.zeros(cout, int), 0),
               rng.integers(-3000, 3000, cout).astype(np.int32))
    taps = window[0] * window[1] * (1 if op_type == "DEPTHWISE_CONV_2D" else cin)
    x_scale, y_scale = 0.06, 0.06 * 0.01 * 74 * 73 * np.sqrt(taps) / 40  # outputs ~40 steps from zero point
    if activation == "RELU6":  # real outputs of about +-2 so that the clamp at 6.0 is 120 steps away
        x_scale, y_scale = x_scale * 2 / (40 * y_scale), 6.0 / 120
    x = _act("x", x_shape, x_scale, int(rng.integers(-20, 20)))
    y = _act("y", (x_shape[0], *out_hw, cout), y_scale, int(rng.integers(-10, 10)))
    attrs = {"stride": stride, "padding": padding, "dilation": dilation, "activation": activation}
    if op_type == "DEPTHWISE_CONV_2D":
        attrs["depth_multiplier"] = multiplier
    return _graph([Op("op", op_type, ("x", "w", "b"), ("y",), attrs)], [x, w, b, y], ["x"])


def _naive_conv(graph, x):
    """Literal transcription of reference_integer_ops::ConvPerChannel / DepthwiseConvPerChannel."""
    op = graph.ops[0]
    p = arith.conv_params(graph, op)
    w, bias = graph.tensor("w").data.astype(int), graph.tensor("b").data.astype(int)
    y_shape = graph.tensor("y").shape
    out = np.zeros(y_shape, np.int8)
    depthwise = op.type == "DEPTHWISE_CONV_2D"
    kh, kw = w.shape[1:3]
    for oy in range(y_shape[1]):
        for ox in range(y_shape[2]):
            for oc in range(y_shape[3]):
                acc = 0
                for fy in range(kh):
                    for fx in range(kw):
                        iy = oy * p.stride[0] - p.pad_top + p.dilation[0] * fy
                        ix = ox * p.stride[1] - p.pad_left + p.dilation[1] * fx
                        if not (0 <= iy < x.shape[1] and 0 <= ix < x.shape[2]):
                            continue
                        if depthwise:
                            acc += w[0, fy, fx, oc] * (int(x[0, iy, ix, oc // p.depth_multiplier]) + p.input_offset)
                        else:
                            acc += int(np.dot(w[oc, fy, fx].astype(int), x[0, iy, ix].astype(int) + p.input_offset))
                acc += bias[oc]
                acc = int(arith.multiply_by_quantized_multiplier(acc, p.multipliers[oc], p.shifts[oc]))
                out[0, oy, ox, oc] = min(max(acc + p.output_offset, p.act_min), p.act_max)
    return out


@pytest.mark.parametrize("op_type, x_shape, out_hw, window, stride, dilation, padding, activation, m", [
    ("CONV_2D", (1, 7, 6, 4), (7, 6), (3, 3), (1, 1), (1, 1), "SAME", "NONE", 1),
    ("CONV_2D", (1, 8, 7, 3), (4, 4), (3, 2), (2, 2), (1, 1), "SAME", "RELU", 1),
    ("CONV_2D", (1, 9, 9, 2), (7, 4), (2, 3), (1, 2), (2, 1), "VALID", "RELU6", 1),
    ("CONV_2D", (1, 6, 6, 5), (6, 6), (1, 1), (1, 1), (1, 1), "VALID", "NONE", 1),
    ("DEPTHWISE_CONV_2D", (1, 7, 6, 4), (7, 6), (3, 3), (1, 1), (1, 1), "SAME", "RELU", 1),
    ("DEPTHWISE_CONV_2D", (1, 9, 8, 3), (5, 4), (3, 3), (2, 2), (1, 1), "SAME", "NONE", 2),
    ("DEPTHWISE_CONV_2D", (1, 9, 9, 2), (5, 5), (3, 3), (1, 1), (2, 2), "VALID", "RELU6", 3),
])
def test_window_ops_match_literal_tflm_loops(op_type, x_shape, out_hw, window, stride, dilation, padding,
                                             activation, m):
    rng = np.random.default_rng(zlib.crc32(repr((op_type, x_shape, m)).encode()))
    graph = _window_op(rng, op_type, x_shape, out_hw, window, stride, dilation, padding, activation, m)
    for _ in range(3):
        x = _rand(rng, x_shape)
        got = reference.run(graph, [x])[0]
        np.testing.assert_array_equal(got, _naive_conv(graph, x))
        assert len(np.unique(got)) > 8  # the case exercises the range, not only the clamp


def test_conv_hand_computed_zero_point_padding():
    # 1x3x3x1 input, 3x3 all-ones filter, SAME: the centre sees all 9 values, a corner 4; padded taps add
    # nothing (the input zero point 2 is subtracted from real taps only). Scales give a multiplier of 1.
    x = _act("x", (1, 3, 3, 1), 0.5, 2)
    w = Tensor("w", (1, 3, 3, 1), "int8", _q(0.5, 0, 0), np.ones((1, 3, 3, 1), np.int8))
    y = _act("y", (1, 3, 3, 1), 0.25, -1)
    g = _graph([Op("c", "CONV_2D", ("x", "w", ""), ("y",), {"padding": "SAME"})], [x, w, y], ["x"])
    data = np.arange(3, 12, dtype=np.int8).reshape(1, 3, 3, 1)  # minus zero point: 1..9
    out = reference.run(g, [data])[0][0, :, :, 0]
    assert out[1, 1] == 45 - 1  # 1 + ... + 9, output zero point -1
    assert out[0, 0] == (1 + 2 + 4 + 5) - 1
    assert out[2, 2] == (5 + 6 + 8 + 9) - 1


def test_fully_connected_flattens_and_matches_formula():
    rng = np.random.default_rng(5)
    x = _act("x", (1, 2, 2, 6), 0.1, 7)  # flattened through the weight's second dim: 24 inputs
    w = Tensor("w", (5, 24), "int8", _q(0.01, 0), _rand(rng, (5, 24), -127))
    b = Tensor("b", (5,), "int32", _q(0.001, 0), rng.integers(-500, 500, 5).astype(np.int32))
    y = _act("y", (1, 5), 0.05, -3)
    g = _graph([Op("fc", "FULLY_CONNECTED", ("x", "w", "b"), ("y",), {"activation": "RELU"})], [x, w, b, y], ["x"])
    data = _rand(rng, x.shape)
    p = arith.fc_params(g, g.ops[0])
    acc = w.data.astype(int) @ (data.reshape(-1).astype(int) + p.input_offset) + b.data
    expected = np.clip(arith.multiply_by_quantized_multiplier(acc, p.multipliers, p.shifts) + p.output_offset,
                       p.act_min, p.act_max)
    np.testing.assert_array_equal(reference.run(g, [data])[0], expected.reshape(1, 5))
    assert p.act_min == -3


def _pool_graph(op_type, x_shape, out_hw, window, stride, padding, zp=3):
    x = _act("x", x_shape, 0.1, zp)
    y = _act("y", (1, *out_hw, x_shape[3]), 0.1, zp)
    attrs = {"filter": window, "stride": stride, "padding": padding}
    return _graph([Op("p", op_type, ("x",), ("y",), attrs)], [x, y], ["x"])


def test_average_pool_rounds_half_away_and_counts_only_valid_taps():
    g = _pool_graph("AVERAGE_POOL_2D", (1, 2, 2, 2), (1, 1), (2, 2), (2, 2), "VALID")
    data = np.array([1, -1, 2, -2, 2, -2, 2, -2], np.int8).reshape(1, 2, 2, 2)  # sums 7 and -7 over 4
    assert reference.run(g, [data])[0].ravel().tolist() == [2, -2]  # 1.75 -> 2, -1.75 -> -2
    data = np.array([1, -1, 1, -1, 0, 0, 0, 0], np.int8).reshape(1, 2, 2, 2)  # 0.5 and -0.5
    assert reference.run(g, [data])[0].ravel().tolist() == [1, -1]
    # SAME 3x3 on 2x2: every output sees the 4 real pixels only (count 4, not 9).
    g = _pool_graph("AVERAGE_POOL_2D", (1, 2, 2, 1), (2, 2), (3, 3), (1, 1), "SAME")
    data = np.array([10, 20, 30, 41], np.int8).reshape(1, 2, 2, 1)
    assert reference.run(g, [data])[0].ravel().tolist() == [25] * 4  # 101 / 4 = 25.25


def test_max_pool_ignores_padding():
    g = _pool_graph("MAX_POOL_2D", (1, 3, 3, 1), (2, 2), (2, 2), (2, 2), "SAME")
    data = np.full((1, 3, 3, 1), -100, np.int8)
    data[0, 2, 2, 0] = -90
    assert reference.run(g, [data])[0].ravel().tolist() == [-100, -100, -100, -90]


def _naive_pool(graph, x):
    p = arith.pool_params(graph, graph.ops[0])
    y_shape = graph.tensor("y").shape
    out = np.zeros(y_shape, np.int8)
    for oy in range(y_shape[1]):
        for ox in range(y_shape[2]):
            for c in range(y_shape[3]):
                oy0, ox0 = oy * p.stride[0] - p.pad_top, ox * p.stride[1] - p.pad_left
                vals = [int(x[0, iy, ix, c]) for iy in range(max(oy0, 0), min(oy0 + p.filter[0], x.shape[1]))
                        for ix in range(max(ox0, 0), min(ox0 + p.filter[1], x.shape[2]))]
                if graph.ops[0].type == "MAX_POOL_2D":
                    v = max(vals)
                else:
                    s, n = sum(vals), len(vals)
                    v = int((s + n // 2) / n) if s > 0 else int((s - n // 2) / n)
                out[0, oy, ox, c] = min(max(v, p.act_min), p.act_max)
    return out


@pytest.mark.parametrize("op_type", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("x_shape, out_hw, window, stride, padding", [
    ((1, 7, 7, 3), (4, 4), (3, 3), (2, 2), "SAME"),
    ((1, 8, 5, 2), (3, 2), (3, 2), (2, 2), "VALID"),
    ((1, 5, 5, 4), (1, 1), (5, 5), (5, 5), "VALID"),
])
def test_pools_match_literal_tflm_loops(op_type, x_shape, out_hw, window, stride, padding):
    rng = np.random.default_rng(11)
    g = _pool_graph(op_type, x_shape, out_hw, window, stride, padding)
    x = _rand(rng, x_shape)
    np.testing.assert_array_equal(reference.run(g, [x])[0], _naive_pool(g, x))


def test_add_broadcasts_and_matches_tflm_formula():
    rng = np.random.default_rng(7)
    a = _act("a", (1, 3, 4, 5), 0.07, -4)
    c = Tensor("c", (1, 1, 1, 5), "int8", _q(0.11, 9), _rand(rng, (1, 1, 1, 5)))
    y = _act("y", (1, 3, 4, 5), 0.15, 2)
    g = _graph([Op("add", "ADD", ("a", "c"), ("y",), {"activation": "RELU"})], [a, c, y], ["a"])
    data = _rand(rng, a.shape)
    p = arith.add_params(g, g.ops[0])
    out = reference.run(g, [data])[0]
    for idx in [(0, 0, 0, 0), (0, 2, 3, 4), (0, 1, 2, 3)]:
        va = int(arith.multiply_by_quantized_multiplier((int(data[idx]) + p.input1_offset) << 20,
                                                       p.input1_multiplier, p.input1_shift))
        vb = int(arith.multiply_by_quantized_multiplier((int(c.data[0, 0, 0, idx[3]]) + p.input2_offset) << 20,
                                                       p.input2_multiplier, p.input2_shift))
        raw = int(arith.multiply_by_quantized_multiplier(va + vb, p.output_multiplier, p.output_shift))
        assert out[idx] == min(max(raw + p.output_offset, p.act_min), p.act_max)
    # Real-valued sanity: the integer sum is within one step of the float sum.
    real = 0.07 * (data.astype(float) + 4) + 0.11 * (c.data.astype(float) - 9)
    assert np.all(np.abs(np.maximum(real / 0.15 + 2, 2).clip(-128, 127) - out) <= 1)


def test_mul_matches_real_product_within_one_step():
    rng = np.random.default_rng(8)
    a, b, y = _act("a", (1, 4, 6), 0.05, 3), _act("b", (1, 4, 6), 0.04, -5), _act("y", (1, 4, 6), 0.02, 1)
    g = _graph([Op("m", "MUL", ("a", "b"), ("y",))], [a, b, y], ["a", "b"])
    da, db = _rand(rng, a.shape, -60, 60), _rand(rng, b.shape, -60, 60)
    out = reference.run(g, [da, db])[0]
    real = 0.05 * (da.astype(float) - 3) * 0.04 * (db.astype(float) + 5) / 0.02 + 1
    assert np.all(np.abs(real.clip(-128, 127) - out) <= 0.5 + 1e-9)


def _softmax_graph(depth, in_scale=0.1):
    x, y = _act("x", (1, depth), in_scale, 0), _act("y", (1, depth), 1 / 256, -128)
    return _graph([Op("s", "SOFTMAX", ("x",), ("y",), {"beta": 1.0})], [x, y], ["x"])


def test_softmax_hand_computed():
    g = _softmax_graph(4)
    assert reference.run(g, [np.full((1, 4), 17, np.int8)])[0].tolist() == [[-64] * 4]  # 0.25 * 256 - 128
    assert reference.run(g, [np.array([[120, -120, -128, 0]], np.int8)])[0].tolist() == [[127, -128, -128, -128]]
    rng = np.random.default_rng(9)
    x = _rand(rng, (1, 10), -40, 40)
    out = reference.run(_softmax_graph(10), [x])[0].astype(float)
    e = np.exp(0.1 * (x - x.max()))
    assert np.all(np.abs((out + 128) / 256 - e / e.sum()) <= 1 / 256)


def test_pad_reshape_and_run_all():
    x = _act("x", (1, 2, 2, 1), 0.1, -7)
    pads = Tensor("pads", (4, 2), "int32", None, np.array([[0, 0], [1, 0], [0, 2], [0, 0]], np.int32))
    y = _act("y", (1, 3, 4, 1), 0.1, -7)
    z = _act("z", (1, 12), 0.1, -7)
    g = _graph([Op("pad", "PAD", ("x", "pads"), ("y",)), Op("r", "RESHAPE", ("y",), ("z",))], [x, pads, y, z],
               ["x"])
    values = reference.run_all(g, [np.array([1, 2, 3, 4], np.int8).reshape(1, 2, 2, 1)])
    assert values["y"][0, :, :, 0].tolist() == [[-7, -7, -7, -7], [1, 2, -7, -7], [3, 4, -7, -7]]
    assert values["z"].shape == (1, 12) and set(values) == {"x", "y", "z"}


def test_block_structured_weights_give_the_same_result_as_dense():
    rng = np.random.default_rng(10)
    g = _window_op(rng, "CONV_2D", (1, 6, 6, 8), (6, 6), (3, 3), (1, 1), (1, 1), "SAME", "NONE")
    w = g.tensor("w")
    matrix = weight_matrix("CONV_2D", w.data).copy()  # [3, 72], blocks of 1x8 along the reduction
    kinds = np.zeros((3, 9), np.uint8)
    kinds[0, 1] = BlockKind.PRUNED
    kinds[1, 2] = BlockKind.UNIFIED
    matrix[0, 8:16] = 0
    matrix[1, 16:24] = np.where(matrix[1, 16:24] < 0, -37, 37)
    data = matrix.reshape(w.shape).astype(np.int8)
    dense = g.with_tensor(w.replace(data=data))
    structured = g.with_tensor(w.replace(data=data, blocks=BlockStructure.from_matrix(matrix, kinds, 1, 8)))
    structured.validate()
    x = _rand(rng, (1, 6, 6, 8))
    np.testing.assert_array_equal(reference.run(structured, [x])[0], reference.run(dense, [x])[0])
    assert not np.array_equal(reference.run(dense, [x])[0], reference.run(g, [x])[0])


def test_unsupported_dtypes_and_bad_inputs_name_the_problem():
    x = Tensor("x", (1, 4), "int16", _q(0.1, 0))
    y = Tensor("y", (1, 4), "int16", _q(1 / 256, -128))
    with pytest.raises(MunifyError, match="op 's'.*int16"):  # validation refuses it before the reference runs
        _graph([Op("s", "SOFTMAX", ("x",), ("y",))], [x, y], ["x"])
    g8 = _softmax_graph(4)
    with pytest.raises(MunifyError, match="input 'x' must be int8"):
        reference.run(g8, [np.zeros((1, 4), np.float32)])
    with pytest.raises(MunifyError, match="takes 1 input"):
        reference.run(g8, [])


def test_single_rounding_changes_only_the_listed_op_types():
    rng = np.random.default_rng(12)
    g = _window_op(rng, "CONV_2D", (1, 8, 8, 4), (8, 8), (3, 3), (1, 1), (1, 1), "SAME", "NONE")
    x = _rand(rng, (1, 8, 8, 4))
    double = reference.run(g, [x])[0]
    assert np.array_equal(reference.run(g, [x], single_rounding=frozenset({"FULLY_CONNECTED"}))[0], double)
    single = reference.run(g, [x], single_rounding=frozenset({"CONV_2D"}))[0]
    assert np.max(np.abs(single.astype(int) - double)) <= 1


def test_kernels_are_batch_generic(imported_model, monkeypatch):
    """quantize evaluates whole batches at once: a batch gives exactly the per-image results, also when the
    im2col matrix is cut into chunks."""
    graph = imported_model("kws")
    rng = np.random.default_rng(13)
    single_shape = graph.tensor(graph.inputs[0]).shape
    images = [rng.normal(83, 6, single_shape).clip(-128, 127).astype(np.int8) for _ in range(3)]
    batched = graph.replace(tensors={n: t if t.is_constant else t.replace(shape=(3,) + t.shape[1:])
                                     for n, t in graph.tensors.items()})
    monkeypatch.setattr(reference_ops, "_IM2COL_BUDGET", 1)  # one image per chunk
    (out,) = reference.run(batched, [np.concatenate(images)])
    for i, image in enumerate(images):
        np.testing.assert_array_equal(out[i], reference.run(graph, [image])[0][0])
