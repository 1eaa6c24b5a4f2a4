"""Write the corpus of invalid .mun files and its manifest (the error each file must raise).

    python tests/unit/invalid_mun/make_corpus.py          # (re)write corpus/*.mun and manifest.json
    python tests/unit/invalid_mun/make_corpus.py --check  # exit 1 if the committed files differ from these

Each case edits a valid .mun (graph.json or one of its arrays) the way a hostile or careless user would:
the graphs of issue 11 (KWS / AD01 with edited shapes), the tracebacks and silent coercions of issue 14 item 3,
bounded JSON and zip entries (item 6), huge and zero dimensions (item 8), and one case per rule of
toolchain/ir/shapes.py and per attribute check of toolchain/ir/graph.py. tests/unit/test_mun_corpus.py holds
21 further cases built in the test itself (file damage, block structures); none is repeated here.
Output is deterministic: fixed zip timestamps, sorted members, JSON with sorted keys.
"""

from __future__ import annotations

import io
import json
import re
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from toolchain.errors import IRError  # noqa: E402
from toolchain.importers import import_tflite  # noqa: E402
from toolchain.ir import Graph, Op, Quant, Tensor, load, save  # noqa: E402

CORPUS_DIR = HERE / "corpus"
MANIFEST = HERE / "manifest.json"
MODELS = ROOT / "examples" / "models" / "mlperf-tiny"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
Entries = dict[str, bytes]


def tiny_graph() -> Graph:
    """Every op type once: PAD, CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D, ADD, MUL, AVERAGE_POOL_2D, RESHAPE,
    FULLY_CONNECTED, SOFTMAX on a 1x8x8x3 input."""
    rng = np.random.default_rng(11)
    tensors: dict[str, Tensor] = {}

    def act(name, shape, scale=0.05, zp=-3):
        tensors[name] = Tensor(name, shape, "int8", Quant(np.array([scale]), np.array([zp])))

    def const(name, data, quant=None):
        tensors[name] = Tensor(name, data.shape, str(data.dtype), quant, data)

    def weights(name, shape, axis):
        scales = np.linspace(0.01, 0.02, shape[axis]) if axis is not None else np.array([0.01])
        const(name, rng.integers(-127, 128, shape).astype(np.int8), Quant(scales, np.zeros(len(scales)), axis))

    act("x", (1, 8, 8, 3))
    const("pad.paddings", np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
    act("padded", (1, 10, 10, 3))
    weights("conv.w", (8, 3, 3, 3), 0)
    const("conv.b", rng.integers(-100, 100, 8).astype(np.int32))
    act("conv.out", (1, 4, 4, 8), 0.1, -128)
    weights("dw.w", (1, 3, 3, 16), 3)
    const("dw.b", rng.integers(-100, 100, 16).astype(np.int32))
    act("dw.out", (1, 4, 4, 16), 0.1, -128)
    act("pool.out", (1, 2, 2, 16), 0.1, -128)
    const("add.c", rng.integers(-50, 50, 16).astype(np.int8), Quant(np.array([0.1]), np.array([0])))
    act("add.out", (1, 2, 2, 16), 0.2, -10)
    const("mul.c", rng.integers(1, 50, (1, 1, 1, 16)).astype(np.int8), Quant(np.array([0.02]), np.array([0])))
    act("mul.out", (1, 2, 2, 16), 0.2, 0)
    act("avg.out", (1, 1, 1, 16), 0.2, 0)
    act("flat", (1, 16), 0.2, 0)
    weights("fc.w", (10, 16), None)
    const("fc.b", rng.integers(-100, 100, 10).astype(np.int32))
    act("logits", (1, 10), 0.1, 0)
    act("probs", (1, 10), 1 / 256, -128)
    ops = (
        Op("pad", "PAD", ("x", "pad.paddings"), ("padded",)),
        Op("conv", "CONV_2D", ("padded", "conv.w", "conv.b"), ("conv.out",), {"stride": (2, 2), "activation": "RELU"}),
        Op("dw", "DEPTHWISE_CONV_2D", ("conv.out", "dw.w", "dw.b"), ("dw.out",),
           {"padding": "SAME", "depth_multiplier": 2}),
        Op("maxpool", "MAX_POOL_2D", ("dw.out",), ("pool.out",), {"filter": (2, 2), "stride": (2, 2)}),
        Op("add", "ADD", ("pool.out", "add.c"), ("add.out",)),
        Op("mul", "MUL", ("add.out", "mul.c"), ("mul.out",)),
        Op("avgpool", "AVERAGE_POOL_2D", ("mul.out",), ("avg.out",), {"filter": (2, 2)}),
        Op("flatten", "RESHAPE", ("avg.out",), ("flat",)),
        Op("fc", "FULLY_CONNECTED", ("flat", "fc.w", "fc.b"), ("logits",)),
        Op("softmax", "SOFTMAX", ("logits",), ("probs",)),
    )
    return Graph("tiny", tensors, ops, ("x",), ("probs",), {"source": "tests/unit/invalid_mun/make_corpus.py"})


# ---------------------------------------------------------------------------------------------------------
# Mutations of the entries of a .mun (member name -> bytes)

def _doc(entries: Entries) -> dict:
    return json.loads(entries["graph.json"])


def edit(change: Callable[[dict], None]) -> Callable[[Entries], None]:
    def apply(entries: Entries) -> None:
        doc = _doc(entries)
        change(doc)
        entries["graph.json"] = json.dumps(doc, sort_keys=True).encode()
    return apply


def tensor(doc: dict, name: str) -> dict:
    return next(t for t in doc["tensors"] if t["name"] == name)


def op(doc: dict, name: str) -> dict:
    return next(o for o in doc["ops"] if o["name"] == name)


def set_tensor(name: str, **fields) -> Callable[[Entries], None]:
    return edit(lambda doc: tensor(doc, name).update(fields))


def set_dim(name: str, axis: int, value) -> Callable[[Entries], None]:
    return edit(lambda doc: tensor(doc, name)["shape"].__setitem__(axis, value))


def set_attr(op_name: str, key: str, value) -> Callable[[Entries], None]:
    return edit(lambda doc: op(doc, op_name)["attrs"].__setitem__(key, value))


def set_op(op_name: str, **fields) -> Callable[[Entries], None]:
    return edit(lambda doc: op(doc, op_name).update(fields))


def set_quant(name: str, **fields) -> Callable[[Entries], None]:
    return edit(lambda doc: tensor(doc, name)["quant"].update(fields))


def set_doc(**fields) -> Callable[[Entries], None]:
    return edit(lambda doc: doc.update(fields))


def replace_graph_json(raw: bytes) -> Callable[[Entries], None]:
    return lambda entries: entries.update({"graph.json": raw})


def replace_array(name: str, data: np.ndarray, shape=None) -> Callable[[Entries], None]:
    """Swap a tensor's .npy for `data` and its shape for `shape` (default: the new data's)."""
    def apply(entries: Entries) -> None:
        doc = _doc(entries)
        entry = tensor(doc, name)
        entry["shape"] = list(data.shape if shape is None else shape)
        entries[entry["data"]] = _npy(data)
        entries["graph.json"] = json.dumps(doc, sort_keys=True).encode()
    return apply


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def both(*mutations: Callable[[Entries], None]) -> Callable[[Entries], None]:
    def apply(entries: Entries) -> None:
        for mutation in mutations:
            mutation(entries)
    return apply


def _drop_data(name: str):
    def change(doc):
        tensor(doc, name).pop("data")
    return edit(change)


def _second_writer(doc):
    op(doc, "mul")["outputs"] = ["add.out"]


def _duplicate_tensor(doc):
    doc["tensors"].append(dict(tensor(doc, "flat")))


def _write_input(doc):
    op(doc, "pad")["outputs"] = ["x"]


def _unproduced_output(doc):
    doc["tensors"].append({"name": "orphan", "shape": [1, 10], "dtype": "int8",
                           "quant": {"scale": [0.1], "zero_point": [0], "axis": None}})
    doc["outputs"] = ["orphan"]


def _pad_output_constant(doc):
    entry = tensor(doc, "padded")
    entry["data"] = tensor(doc, "conv.w")["data"]  # an int8 array of another shape: the shape rule comes later
    entry["shape"] = [8, 3, 3, 3]


def _kws_conv_output(channels: int):
    def change(doc):
        tensor(doc, op(doc, "conv_2d_0")["outputs"][0])["shape"][3] = channels
    return edit(change)


@dataclass(frozen=True)
class Case:
    name: str
    base: str  # "tiny", "kws" or "ad01"
    mutate: Callable[[Entries], None]
    error: str  # regex the IRError message must match
    source: str  # where the case comes from


KWS_CONV = r"op 'conv_2d_0' \(CONV_2D\)"
CASES = [
    # issue 11: shape edits that used to plan, build and produce firmware
    Case("issue11_kws_conv_output_32_channels", "kws", _kws_conv_output(32),
         KWS_CONV + r": output '.*' has shape \[1, 25, 5, 32\], expected \[1, 25, 5, 64\]", "issue 11"),
    Case("issue11_kws_input_3_channels", "kws", set_dim("input_1", 3, 3),
         KWS_CONV + r": filter .* expects 1 input channels, input 'input_1' \[1, 49, 10, 3\] has 3", "issue 11"),
    Case("issue11_kws_batch_2", "kws", set_dim("input_1", 0, 2),
         KWS_CONV + r": output '.*' has shape \[1, 25, 5, 64\], expected \[2, 25, 5, 64\]", "issue 11"),
    Case("issue11_ad01_output_rank_1", "ad01", set_tensor("Identity", shape=[640]),
         r"op 'fully_connected_9' \(FULLY_CONNECTED\): output 'Identity' has shape \[640\], expected \[1, 640\]",
         "issue 11"),
    Case("issue11_json_200000_deep", "tiny", replace_graph_json(b"[" * 200_000 + b"]" * 200_000),
         r"graph.json nests 200000 levels deep, more than 32", "issue 11"),
    # issue 14 item 3: tracebacks and silent coercions
    Case("stride_zero", "tiny", set_attr("conv", "stride", [0, 0]),
         r"op 'conv' \(CONV_2D\): stride \[0, 0\] must be two integers \(height, width\) >= 1", "issue 14.3"),
    Case("stride_one_value", "tiny", set_attr("conv", "stride", [2]), r"op 'conv' \(CONV_2D\): stride \[2\] must be",
         "issue 14.3"),
    Case("stride_string", "tiny", set_attr("conv", "stride", "22"), r"op 'conv' \(CONV_2D\): stride '22' must be",
         "issue 14.3"),
    Case("depth_multiplier_zero", "tiny", set_attr("dw", "depth_multiplier", 0),
         r"op 'dw' \(DEPTHWISE_CONV_2D\): depth_multiplier 0 must be an integer >= 1", "issue 14.3"),
    Case("fc_without_inputs", "tiny", set_op("fc", inputs=[]),
         r"op 'fc' \(FULLY_CONNECTED\): has 0 inputs, expected 2 to 3", "issue 14.3"),
    Case("dimension_1e30", "tiny", set_dim("flat", 1, 1e30), r"each dimension of tensor 'flat' must be a JSON integer",
         "issue 14.3"),
    Case("dimension_huge_integer", "tiny", set_dim("flat", 1, 10 ** 30),
         r"tensor 'flat': shape \[1, 10{30}\] has a dimension outside 1\.\.268435456", "issue 14.3"),
    Case("dimension_float", "tiny", set_dim("flat", 1, 128.9), r"each dimension of tensor 'flat' must be a JSON integer, got 128.9",
         "issue 14.3"),
    Case("dimension_string", "tiny", set_dim("flat", 1, "128"), r"each dimension of tensor 'flat' must be a JSON integer, got \"128\"",
         "issue 14.3"),
    Case("dimension_bool", "tiny", set_dim("flat", 1, True), r"each dimension of tensor 'flat' must be a JSON integer, got true",
         "issue 14.3"),
    Case("duplicate_op_names", "tiny", set_op("mul", name="add"), r"op name 'add' is used by two ops", "issue 14.3"),
    Case("two_ops_write_one_tensor", "tiny", edit(_second_writer),
         r"op 'mul': output 'add.out' is already written by op 'add'", "issue 14.3"),
    Case("zero_point_1000", "tiny", set_quant("conv.out", zero_point=[1000]),
         r"tensor 'conv.out': zero point 1000 is outside the int8 range -128\.\.127", "issue 14.3"),
    Case("dilation_zero", "tiny", set_attr("conv", "dilation", [0, 1]), r"op 'conv' \(CONV_2D\): dilation \[0, 1\] must be",
         "issue 14.3"),
    # issue 14 items 6 and 8: bounded entries, huge and zero dimensions
    Case("graph_json_inflates_to_24_mib", "tiny",
         replace_graph_json(b'{"format": "munify-ir", "pad": "' + b" " * (24 << 20) + b'"}'),
         r"entry graph.json inflates to 25165858 bytes, more than the 16777216", "issue 14.6"),
    Case("array_inflates_to_80_mib", "tiny", replace_array("fc.w", np.zeros((80 << 20,), np.int8), shape=[10, 16]),
         r"entry arrays/.*\.npy inflates to 8388\d{4} bytes, more than the 67108864", "issue 14.6"),
    Case("dimension_zero", "tiny", set_dim("flat", 1, 0), r"tensor 'flat': shape \[1, 0\] has a dimension outside", "issue 14.8"),
    Case("dimension_negative", "tiny", set_dim("flat", 1, -16), r"tensor 'flat': shape \[1, -16\] has a dimension outside",
         "issue 14.8"),
    Case("elements_beyond_2_28", "tiny", set_tensor("flat", shape=[1, 65536, 65536]),
         r"tensor 'flat': shape \[1, 65536, 65536\] holds 4294967296 elements, more than 268435456", "issue 14.8"),
    Case("rank_7", "tiny", set_tensor("flat", shape=[1, 1, 1, 1, 1, 1, 16]),
         r"tensor 'flat': shape .* is not a list of at most 6 integers", "issue 14.8"),
    # attribute types and ranges (graph.py _ATTR_CHECKS)
    Case("stride_bools", "tiny", set_attr("conv", "stride", [True, True]), r"op 'conv' \(CONV_2D\): stride \[true, true\]|stride \[True, True\] must be",
         "attributes"),
    Case("stride_floats", "tiny", set_attr("conv", "stride", [2.0, 2.0]), r"op 'conv' \(CONV_2D\): stride \[2.0, 2.0\] must be",
         "attributes"),
    Case("stride_three_values", "tiny", set_attr("conv", "stride", [2, 2, 1]), r"stride \[2, 2, 1\] must be two integers",
         "attributes"),
    Case("pool_filter_zero", "tiny", set_attr("maxpool", "filter", [0, 2]),
         r"op 'maxpool' \(MAX_POOL_2D\): filter \[0, 2\] must be", "attributes"),
    Case("padding_unknown", "tiny", set_attr("dw", "padding", "FULL"),
         r"op 'dw' \(DEPTHWISE_CONV_2D\): padding 'FULL' is not one of SAME, VALID", "attributes"),
    Case("activation_unknown", "tiny", set_attr("conv", "activation", "TANH"),
         r"op 'conv' \(CONV_2D\): activation 'TANH' is not one of NONE, RELU, RELU6, RELU_N1_TO_1", "attributes"),
    Case("activation_not_a_string", "tiny", set_attr("conv", "activation", ["RELU"]),
         r"op 'conv' \(CONV_2D\): activation \['RELU'\] is not one of", "attributes"),
    Case("depth_multiplier_float", "tiny", set_attr("dw", "depth_multiplier", 2.0),
         r"depth_multiplier 2.0 must be an integer >= 1", "attributes"),
    Case("depth_multiplier_bool", "tiny", set_attr("dw", "depth_multiplier", True),
         r"depth_multiplier True must be an integer >= 1", "attributes"),
    Case("softmax_beta_zero", "tiny", set_attr("softmax", "beta", 0), r"op 'softmax' \(SOFTMAX\): beta 0 must be a finite positive",
         "attributes"),
    Case("softmax_beta_string", "tiny", set_attr("softmax", "beta", "1"), r"beta '1' must be a finite positive", "attributes"),
    # shape rules (the output_shape of each OpDef in toolchain/ir/ops.py), one per rule
    Case("conv_grouped", "tiny", replace_array("conv.w", np.zeros((8, 3, 3, 1), np.int8)),
         r"op 'conv' \(CONV_2D\): filter 'conv.w' \[8, 3, 3, 1\] expects 1 input channels, input 'padded' .* has 3",
         "shape rules"),
    Case("conv_bias_length", "tiny", replace_array("conv.b", np.zeros(7, np.int32)),
         r"op 'conv' \(CONV_2D\): bias 'conv.b' has shape \[7\], expected \[8\]", "shape rules"),
    Case("input_rank_3", "tiny", set_tensor("x", shape=[8, 8, 3]),
         r"op 'pad' \(PAD\): paddings 'pad.paddings' have shape \[4, 2\], expected \[3, 2\]", "shape rules"),
    Case("conv_window_larger_than_input", "tiny", set_tensor("x", shape=[1, 1, 1, 3]),
         r"op 'pad' \(PAD\): output 'padded' has shape \[1, 10, 10, 3\], expected \[1, 3, 3, 3\]", "shape rules"),
    Case("depthwise_multiplier_mismatch", "tiny", set_attr("dw", "depth_multiplier", 3),
         r"op 'dw' \(DEPTHWISE_CONV_2D\): filter 'dw.w' \[1, 3, 3, 16\] does not fit input 'conv.out' \[1, 4, 4, 8\] "
         r"with depth multiplier 3", "shape rules"),
    Case("depthwise_output_spatial", "tiny", set_attr("dw", "padding", "VALID"),
         r"op 'dw' \(DEPTHWISE_CONV_2D\): output 'dw.out' has shape \[1, 4, 4, 16\], expected \[1, 2, 2, 16\]",
         "shape rules"),
    Case("maxpool_output_channels", "tiny", set_tensor("pool.out", shape=[1, 2, 2, 8]),
         r"op 'maxpool' \(MAX_POOL_2D\): output 'pool.out' has shape \[1, 2, 2, 8\], expected \[1, 2, 2, 16\]",
         "shape rules"),
    Case("avgpool_window_too_large", "tiny", set_attr("avgpool", "filter", [3, 3]),
         r"op 'avgpool' \(AVERAGE_POOL_2D\): a 3x3 window .* does not fit input 'mul.out' \[1, 2, 2, 16\] with VALID",
         "shape rules"),
    Case("add_operands_do_not_broadcast", "tiny",
         replace_array("add.c", np.zeros(15, np.int8)),
         r"op 'add' \(ADD\): operands 'pool.out' \[1, 2, 2, 16\] and 'add.c' \[15\] do not broadcast", "shape rules"),
    Case("mul_output_not_the_broadcast", "tiny", set_tensor("mul.out", shape=[1, 2, 2, 1]),
         r"op 'mul' \(MUL\): output 'mul.out' has shape \[1, 2, 2, 1\], expected \[1, 2, 2, 16\]", "shape rules"),
    Case("reshape_element_count", "tiny", set_tensor("flat", shape=[1, 15]),
         r"op 'flatten' \(RESHAPE\): output 'flat' has shape \[1, 15\], expected any shape of 16 elements", "shape rules"),
    Case("fc_input_not_rows_of_depth", "tiny", replace_array("fc.w", np.zeros((10, 5), np.int8)),
         r"op 'fc' \(FULLY_CONNECTED\): input 'flat' \[1, 16\] of 16 values does not split into rows of 5", "shape rules"),
    Case("fc_weights_rank_3", "tiny", replace_array("fc.w", np.zeros((10, 4, 4), np.int8)),
         r"op 'fc' \(FULLY_CONNECTED\): weights 'fc.w' has shape \[10, 4, 4\], expected rank 2", "shape rules"),
    Case("fc_bias_length", "tiny", replace_array("fc.b", np.zeros(16, np.int32)),
         r"op 'fc' \(FULLY_CONNECTED\): bias 'fc.b' has shape \[16\], expected \[10\]", "shape rules"),
    Case("softmax_output_shape", "tiny", set_tensor("probs", shape=[10, 1]),
         r"op 'softmax' \(SOFTMAX\): output 'probs' has shape \[10, 1\], expected \[1, 10\]", "shape rules"),
    Case("pad_negative", "tiny", replace_array("pad.paddings", np.array([[0, 0], [1, 1], [-1, 3], [0, 0]], np.int32)),
         r"op 'pad' \(PAD\): paddings 'pad.paddings' .* are negative", "shape rules"),
    Case("pad_paddings_shape", "tiny", replace_array("pad.paddings", np.zeros((4, 3), np.int32)),
         r"op 'pad' \(PAD\): paddings 'pad.paddings' have shape \[4, 3\], expected \[4, 2\]", "shape rules"),
    # inputs, dtypes and quantization per op (shapes.py check_op)
    Case("weight_not_constant", "tiny", _drop_data("conv.w"),
         r"op 'conv' \(CONV_2D\): weight 'conv.w' must be a constant tensor", "op inputs"),
    Case("op_output_constant", "tiny", edit(_pad_output_constant),
         r"op 'pad' \(PAD\): output 'padded' must be a computed int8 tensor, it is a constant", "op inputs"),
    Case("activation_input_constant", "tiny", set_op("softmax", inputs=["add.c"]),
         r"op 'softmax' \(SOFTMAX\): activation 'add.c' is a constant; this input must be computed", "op inputs"),
    Case("bias_int8", "tiny", both(replace_array("conv.b", np.zeros(8, np.int8)), set_tensor("conv.b", dtype="int8")),
         r"op 'conv' \(CONV_2D\): bias 'conv.b' is int8, expected int32", "op inputs"),
    Case("paddings_int8", "tiny", both(replace_array("pad.paddings", np.zeros((4, 2), np.int8)),
                                       set_tensor("pad.paddings", dtype="int8")),
         r"op 'pad' \(PAD\): paddings 'pad.paddings' is int8, expected int32", "op inputs"),
    Case("output_int32", "tiny", set_tensor("logits", dtype="int32"),
         r"op 'fc' \(FULLY_CONNECTED\): output 'logits' must be a computed int8 tensor, it is a int32", "op inputs"),
    Case("weight_zero_point", "tiny", set_quant("fc.w", zero_point=[4]),
         r"op 'fc' \(FULLY_CONNECTED\): weight 'fc.w' has non-zero zero points", "quantization"),
    Case("weight_quantized_along_the_wrong_axis", "tiny",
         set_quant("conv.w", axis=3, scale=[0.01] * 3, zero_point=[0] * 3),
         r"op 'conv' \(CONV_2D\): weight 'conv.w' is quantized along axis 3; CONV_2D weights must be quantized "
         r"along their output-channel axis 0", "quantization"),
    Case("activation_per_channel", "tiny", set_quant("conv.out", axis=3, scale=[0.1] * 8, zero_point=[0] * 8),
         r"op 'conv' \(CONV_2D\): output 'conv.out' is quantized per channel; only weights may be", "quantization"),
    Case("activation_without_quant", "tiny", set_tensor("dw.out", quant=None),
         r"op 'dw' \(DEPTHWISE_CONV_2D\): output 'dw.out' has no quantization parameters", "quantization"),
    Case("quant_lengths_off_the_channel_axis", "tiny", set_quant("dw.w", scale=[0.01] * 8, zero_point=[0] * 8),
         r"tensor 'dw.w': per-axis quantization axis 3 with 8 scales does not fit shape \[1, 3, 3, 16\]", "quantization"),
    Case("quant_axis_string", "tiny", set_quant("conv.w", axis="0"), r"the quantization axis must be a JSON integer",
         "quantization"),
    Case("zero_point_float", "tiny", set_quant("conv.out", zero_point=[1.5]),
         r"each quantization zero point must be a JSON integer, got 1.5", "quantization"),
    Case("zero_point_below_int8", "tiny", set_quant("x", zero_point=[-129]),
         r"tensor 'x': zero point -129 is outside the int8 range", "quantization"),
    Case("scale_string", "tiny", set_quant("x", scale=["0.05"]), r"quantization scale \"0.05\" is not a number",
         "quantization"),
    # graph structure
    Case("tensor_name_twice", "tiny", edit(_duplicate_tensor), r"tensor name 'flat' is used by two tensors", "structure"),
    Case("op_writes_the_graph_input", "tiny", edit(_write_input),
         r"op 'pad': output 'x' is a graph input; inputs are not written", "structure"),
    Case("output_produced_by_no_op", "tiny", edit(_unproduced_output), r"graph output 'orphan' is produced by no op",
         "structure"),
    Case("graph_without_inputs", "tiny", set_doc(inputs=[]), r"graph 'tiny' has no inputs", "structure"),
    Case("graph_input_twice", "tiny", set_doc(inputs=["x", "x"]), r"graph 'tiny' lists a tensor twice among its inputs",
         "structure"),
    Case("op_with_two_outputs", "tiny", set_op("softmax", outputs=["probs", "probs2"]),
         r"op 'softmax' \(SOFTMAX\): has 2 outputs, expected 1", "structure"),
    Case("op_inputs_a_string", "tiny", set_op("softmax", inputs="logits"),
         r"'inputs' of op 'softmax' must be a JSON list, got \"logits\"", "structure"),
    Case("op_name_not_a_string", "tiny", set_op("softmax", name=7), r"'name' of an op must be a JSON string, got 7",
         "structure"),
    Case("op_without_inputs_key", "tiny", edit(lambda doc: op(doc, "softmax").pop("inputs")),
         r"op 'softmax' has no 'inputs'", "structure"),
    Case("graph_name_not_a_string", "tiny", set_doc(name=["tiny"]), r"'name' of the graph must be a JSON string",
         "structure"),
    Case("metadata_not_a_mapping", "tiny", set_doc(metadata=[1, 2]), r"the graph metadata must be a JSON object",
         "structure"),
    Case("tensors_not_a_list", "tiny", set_doc(tensors={"x": 1}), r"'tensors' of the graph must be a JSON list",
         "structure"),
    Case("schema_version_true", "tiny", set_doc(schema_version=True), r"IR schema version True is not supported",
         "structure"),
    Case("block_geometry_string", "tiny", edit(lambda doc: tensor(doc, "fc.w").update(
        blocks={"bo": "1", "bi": 8, "rows": 10, "cols": 16, "kinds": "k", "magnitudes": "m", "signs": "s"})),
         r"tensor 'fc.w': array k is missing|'bo' of the blocks of tensor 'fc.w' must be a JSON integer", "structure"),
]


# ---------------------------------------------------------------------------------------------------------

def base_entries(tmp: Path) -> dict[str, Entries]:
    graphs = {"tiny": tiny_graph(), "kws": import_tflite(MODELS / "kws_ref_model.tflite"),
              "ad01": import_tflite(MODELS / "ad01_int8.tflite")}
    bases = {}
    for name, graph in graphs.items():
        path = tmp / f"base-{name}.mun"
        save(graph, path)
        with zipfile.ZipFile(path) as zf:
            bases[name] = {member: zf.read(member) for member in zf.namelist()}
    return bases


def write_zip(entries: Entries) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, entries[name])
    return buf.getvalue()


def build_corpus() -> tuple[dict[str, bytes], dict]:
    """(file name -> .mun bytes, manifest). Raises if a case loads or fails with an error it does not expect."""
    files, manifest, failures = {}, {}, []
    with tempfile.TemporaryDirectory() as tmp:
        bases = base_entries(Path(tmp))
        for case in CASES:
            entries = dict(bases[case.base])
            case.mutate(entries)
            data = write_zip(entries)
            path = Path(tmp) / f"{case.name}.mun"
            path.write_bytes(data)
            try:
                load(path)
            except IRError as exc:
                if not re.search(case.error, str(exc)):
                    failures.append(f"{case.name}: '{exc}' does not match {case.error}")
            else:
                failures.append(f"{case.name}: the mutated file loads")
            files[f"{case.name}.mun"] = data
            manifest[case.name] = {"file": f"corpus/{case.name}.mun", "base": case.base, "error": case.error,
                                   "source": case.source}
    if failures:
        raise AssertionError("\n".join(failures))
    return files, manifest


def main(argv: list[str]) -> int:
    files, manifest = build_corpus()
    manifest_text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    if "--check" in argv:
        stale = [name for name, data in files.items()
                 if not (CORPUS_DIR / name).is_file() or (CORPUS_DIR / name).read_bytes() != data]
        if stale or not MANIFEST.is_file() or MANIFEST.read_text() != manifest_text:
            print(f"corpus out of date ({len(stale)} files); run {Path(__file__).name} to rewrite it")
            return 1
        return 0
    CORPUS_DIR.mkdir(exist_ok=True)
    for old in CORPUS_DIR.glob("*.mun"):
        if old.name not in files:
            old.unlink()
    for name, data in files.items():
        (CORPUS_DIR / name).write_bytes(data)
    MANIFEST.write_text(manifest_text)
    print(f"wrote {len(files)} invalid .mun files to {CORPUS_DIR} and {MANIFEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
