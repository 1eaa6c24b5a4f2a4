"""The reference against TensorFlow Lite Micro (outputs) and LiteRT (every intermediate) on small synthetic
.tflite models that exercise what the MLPerf Tiny models do not: odd SAME padding, strides, dilation, depth
multiplier 3, average pooling at the borders, max pooling, ADD/MUL with broadcast constants, every fused
activation, PAD, per-channel FULLY_CONNECTED and SOFTMAX with beta != 1. Inputs span the whole int8 range.

The models are built with the flatbuffers spec builder of the importer's synthetic tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_import_synthetic import _q, build
from tflite.BuiltinOperator import BuiltinOperator as BO
from tflite.TensorType import TensorType as TT

from toolchain.importers import import_tflite
from toolchain.interpreters import LiteRTInterpreter, TflmInterpreter
from toolchain.ir import reference

SAME, VALID = 0, 1
NONE, RELU, RELU_N1_TO_1, RELU6 = 0, 1, 2, 3


def _weights(rng, shape, scales, dim):
    return dict(shape=list(shape), type=TT.INT8, quant=_q(scales, 0, dim),
                data=rng.integers(-127, 128, shape).astype(np.int8))


def _bias(rng, n, scales):
    return dict(shape=[n], type=TT.INT32, quant=_q(scales, 0, 0), data=rng.integers(-2000, 2000, n).astype(np.int32))


def _act(shape, scale, zero_point):
    return dict(shape=list(shape), type=TT.INT8, quant=_q(scale, zero_point))


def conv_spec() -> dict:
    """1x9x11x3 -> CONV 3x3 /2 SAME RELU -> CONV 3x3 dilation 2 SAME -> AVG 3x3 /2 SAME -> ADD const RELU6
    -> MUL const -> SOFTMAX beta 0.5."""
    rng = np.random.default_rng(21)
    w2_scales = np.linspace(0.002, 0.004, 8)
    t = {
        "x": _act((1, 9, 11, 3), 0.02, 5),
        "w1": _weights(rng, (8, 3, 3, 3), 0.005, 0), "b1": _bias(rng, 8, 0.02 * 0.005),
        "c1": _act((1, 5, 6, 8), 0.05, -128),
        "w2": _weights(rng, (8, 3, 3, 8), w2_scales, 0), "b2": _bias(rng, 8, 0.05 * w2_scales),
        "c2": _act((1, 5, 6, 8), 0.08, 0),
        "pool": _act((1, 3, 3, 8), 0.08, 0),
        "k": dict(shape=[1, 1, 1, 8], type=TT.INT8, quant=_q(0.05, 3),
                  data=rng.integers(0, 128, (1, 1, 1, 8)).astype(np.int8)),  # mostly positive sums
        "sum": _act((1, 3, 3, 8), 6.0 / 255, -128),
        "m": dict(shape=[1, 1, 1, 8], type=TT.INT8, quant=_q(0.01, 0),
                  data=rng.integers(-127, 128, (1, 1, 1, 8)).astype(np.int8)),
        "prod": _act((1, 3, 3, 8), 0.06, 0),
        "probs": _act((1, 3, 3, 8), 1.0 / 256, -128),
    }
    conv = "Conv2DOptions"
    ops = [
        dict(code=BO.CONV_2D, inputs=["x", "w1", "b1"], outputs=["c1"], options=(conv, dict(
            Padding=SAME, StrideW=2, StrideH=2, FusedActivationFunction=RELU, DilationWFactor=1, DilationHFactor=1))),
        dict(code=BO.CONV_2D, inputs=["c1", "w2", "b2"], outputs=["c2"], options=(conv, dict(
            Padding=SAME, StrideW=1, StrideH=1, FusedActivationFunction=NONE, DilationWFactor=2, DilationHFactor=2))),
        dict(code=BO.AVERAGE_POOL_2D, inputs=["c2"], outputs=["pool"], options=("Pool2DOptions", dict(
            Padding=SAME, StrideW=2, StrideH=2, FilterWidth=3, FilterHeight=3, FusedActivationFunction=NONE))),
        dict(code=BO.ADD, inputs=["pool", "k"], outputs=["sum"],
             options=("AddOptions", dict(FusedActivationFunction=RELU6))),
        dict(code=BO.MUL, inputs=["sum", "m"], outputs=["prod"],
             options=("MulOptions", dict(FusedActivationFunction=NONE))),
        dict(code=BO.SOFTMAX, inputs=["prod"], outputs=["probs"], options=("SoftmaxOptions", dict(Beta=0.5))),
    ]
    return {"tensors": t, "ops": ops, "inputs": ["x"], "outputs": ["probs"], "subgraphs": 1}


def depthwise_fc_spec() -> dict:
    """1x10x10x4 -> DW x3 3x3 /2 VALID RELU_N1_TO_1 -> DW 3x3 dilation 2 SAME -> MAX 3x3 /1 SAME -> PAD
    -> per-channel FC RELU."""
    rng = np.random.default_rng(22)
    dw2_scales = np.linspace(0.004, 0.006, 12)
    fc_scales = np.linspace(0.001, 0.003, 10)
    t = {
        "x": _act((1, 10, 10, 4), 0.03, -10),
        "dw1": _weights(rng, (1, 3, 3, 12), 0.001, 3), "db1": _bias(rng, 12, 0.03 * 0.001),
        "d1": _act((1, 4, 4, 12), 2.0 / 255, 0),
        "dw2": _weights(rng, (1, 3, 3, 12), dw2_scales, 3), "db2": _bias(rng, 12, 2.0 / 255 * dw2_scales),
        "d2": _act((1, 4, 4, 12), 0.01, 5),
        "mx": _act((1, 4, 4, 12), 0.01, 5),
        "pads": dict(shape=[4, 2], type=TT.INT32, data=np.array([[0, 0], [1, 2], [0, 1], [0, 0]], np.int32)),
        "padded": _act((1, 7, 5, 12), 0.01, 5),
        "fw": _weights(rng, (10, 420), fc_scales, 0), "fb": _bias(rng, 10, 0.01 * fc_scales),
        "y": _act((1, 10), 0.01, -2),
    }
    dw = "DepthwiseConv2DOptions"
    ops = [
        dict(code=BO.DEPTHWISE_CONV_2D, inputs=["x", "dw1", "db1"], outputs=["d1"], options=(dw, dict(
            Padding=VALID, StrideW=2, StrideH=2, DepthMultiplier=3, FusedActivationFunction=RELU_N1_TO_1,
            DilationWFactor=1, DilationHFactor=1))),
        dict(code=BO.DEPTHWISE_CONV_2D, inputs=["d1", "dw2", "db2"], outputs=["d2"], options=(dw, dict(
            Padding=SAME, StrideW=1, StrideH=1, DepthMultiplier=1, FusedActivationFunction=NONE,
            DilationWFactor=2, DilationHFactor=2))),
        dict(code=BO.MAX_POOL_2D, inputs=["d2"], outputs=["mx"], options=("Pool2DOptions", dict(
            Padding=SAME, StrideW=1, StrideH=1, FilterWidth=3, FilterHeight=3, FusedActivationFunction=NONE))),
        dict(code=BO.PAD, inputs=["mx", "pads"], outputs=["padded"], options=("PadOptions", {})),
        dict(code=BO.FULLY_CONNECTED, inputs=["padded", "fw", "fb"], outputs=["y"], options=(
            "FullyConnectedOptions", dict(FusedActivationFunction=RELU, KeepNumDims=False))),
    ]
    return {"tensors": t, "ops": ops, "inputs": ["x"], "outputs": ["y"], "subgraphs": 1}


@pytest.mark.parametrize("spec", [conv_spec, depthwise_fc_spec])
def test_synthetic_models_bit_exact_with_tflm_and_litert(spec, tmp_path):
    path = tmp_path / f"{spec.__name__}.tflite"
    path.write_bytes(build(spec()))
    graph = import_tflite(path)
    tflm, litert = TflmInterpreter(path), LiteRTInterpreter(path)
    rng = np.random.default_rng(0)
    x_shape = graph.tensor(graph.inputs[0]).shape
    seen: dict[str, set] = {op.outputs[0]: set() for op in graph.ops}
    for _ in range(8):
        x = [rng.integers(-128, 128, x_shape).astype(np.int8)]
        np.testing.assert_array_equal(reference.run(graph, x)[0].reshape(-1), tflm.run(x)[0].reshape(-1))
        expected = reference.run_all(graph, x, single_rounding=litert.single_rounding)
        actual = litert.run_all(x)
        for op in graph.ops:
            name = op.outputs[0]
            np.testing.assert_array_equal(expected[name].reshape(-1), actual[name].reshape(-1), err_msg=op.name)
            seen[name].update(np.unique(expected[name]).tolist())
    for name, values in seen.items():
        assert len(values) > 12, f"'{name}' takes only {sorted(values)}: the case does not exercise it"


def test_verify_skips_intermediates_litert_cannot_name(tmp_path):
    from toolchain.verify import verify_model

    spec = depthwise_fc_spec()
    spec["tensors"]["d2"]["name"] = "d1"  # two activations named "d1": the importer renames one
    path = tmp_path / "dup.tflite"
    path.write_bytes(build(spec))
    report = verify_model(path, "litert", n=2, seed=0)
    assert report.bit_exact, report.summary()
    compared = [d.name for d in report.intermediates if d.elements]
    assert len(compared) == len(report.intermediates) - 2 and "compared: 3 of 5" in report.summary()
