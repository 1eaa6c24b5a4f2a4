"""Per-layer kernel parameters: every number a kernel template uses, derived once from the IR.

All quantization numbers (offsets, multipliers, shifts, activation ranges, softmax scaling) come from
`toolchain.ir.arith`, the module the reference executor uses, so C and the reference cannot drift.
Each builder returns a `LayerSpec`: template params, const tables that do not depend on the kernel variant,
and the facts the cost models rank variants by.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import MunifyError
from ..ir import arith, op_def
from ..ir.blocks import BlockKind, BlockStructure
from ..ir.graph import Graph, Op, weight_matrix
from .kernels.generic.packing import END_OF_ROW_BLOCK
from .variant import LayerFacts

MAX_RANK = 4


@dataclass
class LayerSpec:
    params: dict
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    facts: LayerFacts | None = None
    matrix: np.ndarray | None = None  # weight matrix [rows, cols] of the matrix ops
    blocks: BlockStructure | None = None
    raw_bias: np.ndarray | None = None  # bias before the input-offset term is folded in
    macs: int = 0
    name: str = ""


def build(graph: Graph, op: Op, optimize: str = "balanced") -> LayerSpec:
    """`optimize` "size" keeps matrix kernels to one output pixel at a time (half the code)."""
    planning = OP_PLANNING.get(op.type)
    if planning is None:
        raise MunifyError(f"op '{op.name}': the code generator has no kernel for {op.type}")
    spec = planning.build(graph, op, optimize) if op_def(op.type).weighted else planning.build(graph, op)
    return dataclasses.replace(spec, facts=dataclasses.replace(spec.facts, speed_build=optimize == "speed"))


def _shape4(shape) -> tuple[int, int, int, int]:
    if len(shape) > MAX_RANK:
        raise MunifyError(f"tensor of rank {len(shape)} is not supported (at most {MAX_RANK}); reshape the model")
    return (1,) * (MAX_RANK - len(shape)) + tuple(int(d) for d in shape)


def _requant(multipliers: np.ndarray, shifts: np.ndarray, per_channel: bool) -> tuple[dict, dict]:
    params = {"per_channel": per_channel, "mult": int(multipliers[0]), "shift": int(shifts[0])}
    arrays = {"mult": multipliers.astype(np.int32), "shift": shifts.astype(np.int32)} if per_channel else {}
    return params, arrays


INT32_LIMIT = 1 << 31


def requant_folds_offset(matrix: np.ndarray, bias: np.ndarray, input_zp: int, shifts: np.ndarray) -> bool:
    """Whether no accumulator of the layer needs the requantization's overflow path and the output offset can
    join the rounding nudge: 2 * acc fits int32, and x + nudge + (offset << right) does for x the high half of
    2 * acc * multiplier (|x| <= |acc| + 1) and any |offset| <= 128, every channel shifting right. Then
    ((x + nudge - (x < 0)) >> right) + offset == (x + nudge + (offset << right) - (x < 0)) >> right. Bound per
    row, input offset folded into the bias or not: |acc| <= |bias| + (|input zero point| + 128) * sum |w|."""
    if not matrix.size or np.any(shifts >= 0):
        return False
    weight_sums = np.abs(matrix.astype(np.int64)).sum(axis=1)
    bound = int((np.abs(bias) + (abs(input_zp) + 128) * weight_sums).max())
    right = int(-shifts.min())
    return 2 * bound < INT32_LIMIT and bound + 1 + (1 << (right - 1)) + (128 << right) < INT32_LIMIT


def _bias(graph: Graph, op: Op, rows: int) -> np.ndarray:
    name = op.inputs[2] if len(op.inputs) > 2 else ""
    if not name:
        return np.zeros(rows, np.int64)
    bias = graph.tensor(name)
    if bias.data is None or bias.dtype != "int32":
        raise MunifyError(f"op '{op.name}': bias '{name}' must be a constant int32 tensor")
    return bias.data.reshape(-1).astype(np.int64)


def _block_facts(op_type: str, positions: int, blocks: BlockStructure | None, rows: int, cols: int,
                 paired: bool) -> LayerFacts:
    if blocks is None or blocks.is_dense:
        return LayerFacts(op_type, positions, rows, cols, dense_weights=rows * cols, paired=paired,
                          full_blocks=0, listed_blocks=0)
    kinds = blocks.weight_kinds()
    unified_rows = np.repeat(blocks.kinds == BlockKind.UNIFIED, blocks.bo, axis=0)[:rows]
    full = (rows // blocks.bo) * (cols // blocks.bi)
    pruned = int(np.sum(blocks.kinds == BlockKind.PRUNED))
    unified_cols = len(unified_columns(blocks))
    return LayerFacts(op_type, positions, rows, cols, paired=paired,
                      dense_weights=int(np.sum(kinds == BlockKind.DENSE)),
                      unified_weights=int(np.sum(kinds == BlockKind.UNIFIED)),
                      unified_rows=int(np.sum(unified_rows)), listed_blocks=full - pruned, full_blocks=full,
                      unified_cols=unified_cols, bi=blocks.bi,
                      kinds=frozenset(BlockKind(k) for k in np.unique(blocks.kinds)))


def unified_columns(blocks: BlockStructure | None) -> np.ndarray:
    """Full column blocks that hold a unified block in some full row block (the LUT kernel's tables)."""
    if blocks is None:
        return np.zeros(0, np.uint16)
    full = blocks.kinds[:blocks.rows // blocks.bo, :blocks.cols // blocks.bi]
    return np.flatnonzero(np.any(full == BlockKind.UNIFIED, axis=0)).astype(np.uint16)


def _lut_params(bi: int, full_col_blocks: int, columns: int) -> dict:
    """Sign-pattern tables: per group of up to 4 activations, entry m = the sum of the group with the
    activations of the set bits of m negated. Built by entry[m] = entry[m - top bit] - 2 * x[top bit]."""
    group_bits = min(bi, 4)
    groups, entries = bi // group_bits, 1 << group_bits
    column_entries = full_col_blocks * groups * entries
    steps = [[(g * entries + m, g * entries + m - (1 << (m.bit_length() - 1)), m.bit_length() - 1)
              for m in range(1, entries)] for g in range(groups)]
    return {"lut_groups": groups, "lut_entries": entries, "lut_mask": entries - 1, "lut_block": groups * entries,
            "lut_column": column_entries, "lut_offset": -(-columns * column_entries * 2 // 4) * 4,
            "lut_steps": steps, "lut_group_shift": [g * group_bits for g in range(groups)],
            "lut_group_at": [g * entries for g in range(groups)],
            "lut_x_at": [[g * group_bits + j for j in range(group_bits)] for g in range(groups)], "lut": False}


def _block_params(blocks: BlockStructure | None, rows: int, cols: int) -> dict:
    """Geometry of the block grid and the offsets the unrolled micro-block code indexes with."""
    bo, bi = (blocks.bo, blocks.bi) if blocks is not None else (1, 1)
    sign_bytes = -(-bi // 8)
    tail_cols = cols % bi
    bits_row, wide_row = 1 + sign_bytes, 1 + bi
    return {
        "bo": bo, "bi": bi, "full_row_blocks": rows // bo, "full_col_blocks": cols // bi, "tail_rows": rows % bo,
        "tail_cols": tail_cols, "col_blocks": -(-cols // bi), "sign_bytes": sign_bytes,
        "tail_row_start": rows - rows % bo, "tail_col_start": cols - tail_cols,
        "kind_skip": -(-cols // bi) - cols // bi, "end_of_row_block": END_OF_ROW_BLOCK,
        "block_bytes": bo * bi, "dense_at": [[r * bi + j for j in range(bi)] for r in range(bo)],
        "tail_block_bytes": bo * tail_cols, "tail_at": [[r * tail_cols + j for j in range(tail_cols)] for r in range(bo)],
        "bits_block_bytes": bo * bits_row, "bits_mag_at": [r * bits_row for r in range(bo)],
        "bits_sign_at": [[r * bits_row + 1 + k for k in range(sign_bytes)] for r in range(bo)],
        "sign_lift": [31 - j for j in range(bi)],  # bit j to the sign bit: an arithmetic shift spreads it
        "wide_block_bytes": bo * wide_row, "wide_mag_at": [r * wide_row for r in range(bo)],
        "wide_mask_at": [[r * wide_row + 1 + j for j in range(bi)] for r in range(bo)],
        "k_quads": cols // 4, "k_rem": list(range(cols % 4)), "k_pairs": cols // 2, "k_odd": cols % 2,
        "row_pairs": rows // 2, "rows_odd": rows % 2,
        "tail_row_pairs": (rows % bo) // 2, "tail_rows_odd": (rows % bo) % 2,
    }


def _window(x_shape, y_shape) -> dict:
    n, in_h, in_w, cin = x_shape
    _, out_h, out_w, cout = y_shape
    return {"batches": n, "in_h": in_h, "in_w": in_w, "cin": cin, "out_h": out_h, "out_w": out_w, "cout": cout,
            "in_row": in_w * cin, "in_image": in_h * in_w * cin, "out_image": out_h * out_w * cout}


def _fc_geometry(graph: Graph, op: Op, rows: int, cols: int):
    """FULLY_CONNECTED as a 1x1 convolution over `batches` pixels of `cols` channels."""
    q = arith.fc_params(graph, op)
    if q.weights_offset != 0:
        raise MunifyError(f"op '{op.name}': weights with a zero point ({-q.weights_offset}) are not "
                          f"supported; quantize weights symmetrically")
    x = graph.tensor(op.inputs[0])
    if x.size % cols:
        raise MunifyError(f"op '{op.name}': input of {x.size} values is not a multiple of {cols}")
    batches = x.size // cols
    params = {"batches": 1, "in_h": 1, "in_w": batches, "cin": cols, "out_h": 1, "out_w": batches,
              "cout": rows, "kh": 1, "kw": 1, "stride_h": 1, "stride_w": 1, "dil_h": 1, "dil_w": 1,
              "pad_top": 0, "pad_left": 0, "depth_multiplier": 1, "in_image": batches * cols,
              "out_image": batches * rows}
    return q, params, q.per_channel, batches


def _conv_geometry(graph: Graph, op: Op):
    q = arith.conv_params(graph, op)
    w = graph.weight_of(op)
    params = _window(_shape4(graph.tensor(op.inputs[0]).shape), _shape4(graph.tensor(op.outputs[0]).shape))
    params.update({"kh": w.shape[1], "kw": w.shape[2], "stride_h": q.stride[0], "stride_w": q.stride[1],
                   "dil_h": q.dilation[0], "dil_w": q.dilation[1], "pad_top": q.pad_top, "pad_left": q.pad_left,
                   "depth_multiplier": q.depth_multiplier})
    per_channel = len(np.unique(q.multipliers)) > 1 or len(np.unique(q.shifts)) > 1
    return q, params, per_channel, params["batches"] * params["out_h"] * params["out_w"]


def patch_copies(g: dict) -> float:
    """The memcpy / memset runs of an im2col patch per output pixel, averaged over the pixels: one per kernel
    row that lies inside the input or wholly in the padding, else one per tap (munify_dsp_conv_patch)."""
    def inside(size: int, out: int, stride: int, pad: int, kernel: int, dil: int) -> np.ndarray:
        starts = np.arange(out) * stride - pad  # [out]
        taps = starts[:, None] + np.arange(kernel)[None, :] * dil  # [out, kernel]
        return (taps >= 0) & (taps < size)
    rows_in = inside(g["in_h"], g["out_h"], g["stride_h"], g["pad_top"], g["kh"], g["dil_h"])  # [out_h, kh]
    cols_in = inside(g["in_w"], g["out_w"], g["stride_w"], g["pad_left"], g["kw"], g["dil_w"])  # [out_w, kw]
    whole = cols_in.all(axis=1) & (g["dil_w"] == 1)  # [out_w]: the kernel row is one copy
    per_row = np.where(whole, 1, g["kw"])[None, None, :]  # [1, 1, out_w]
    copies = np.where(rows_in[:, :, None], per_row, 1)  # a kernel row in the padding: one memset
    return float(copies.sum() / (g["out_h"] * g["out_w"]))


def inside_rows(g: dict) -> float:
    """Kernel rows per output pixel, averaged over the pixels, of the pixels whose patch lies wholly inside the
    input with dilation 1 (the DSP conv pixel quads read those rows straight from the input)."""
    if g["dil_h"] != 1 or g["dil_w"] != 1:
        return 0.0
    def inside(size: int, out: int, stride: int, pad: int, kernel: int) -> np.ndarray:
        starts = np.arange(out) * stride - pad
        return (starts >= 0) & (starts + kernel <= size)
    rows = inside(g["in_h"], g["out_h"], g["stride_h"], g["pad_top"], g["kh"]).sum()
    cols = inside(g["in_w"], g["out_w"], g["stride_w"], g["pad_left"], g["kw"]).sum()
    return float(rows * cols * g["kh"] / (g["out_h"] * g["out_w"]))


def _walk_params(op_type: str, params: dict, rows: int, cols: int, positions: int, pair: bool) -> dict:
    """Pointer steps of the kernel loops and the scratch they need."""
    cin, taps = params["cin"], params["kh"] * params["kw"]
    depthwise = op_type == "DEPTHWISE_CONV_2D"
    pointwise = not depthwise and taps == 1 and params["pad_top"] == 0 and params["pad_left"] == 0
    paired = pair and not depthwise and positions >= 2  # two output pixels share every weight load
    columns = 2 if paired else 1
    im2col_bytes = 0 if pointwise or depthwise else columns * cols
    return {
        "taps": taps, "k": cols, "out_rows": rows, "patch_row": params["kw"] * cin,
        "in_step_x": params["stride_w"] * cin, "in_step_y": params["stride_h"] * params["in_w"] * cin,
        "dil_step_x": params["dil_w"] * cin, "dil_step_y": params["dil_h"] * params["in_w"] * cin,
        "in_row": params["in_w"] * cin, "pointwise": pointwise, "paired": paired, "columns": columns,
        "pair_out": 2 * rows, "im2col_bytes": im2col_bytes, "scratch_bytes": im2col_bytes,
        "max_ix0": params["in_w"] - params["kw"],  # a patch row starting at or before this is inside
        "unroll_taps": taps <= 16,
    }


def _matrix_op(graph: Graph, op: Op, optimize: str) -> LayerSpec:
    w = graph.weight_of(op)
    if w is None or w.data is None:
        raise MunifyError(f"op '{op.name}': weights must be constant")
    matrix = weight_matrix(op.type, w.data).astype(np.int8)
    rows, cols = matrix.shape
    if op.type == "FULLY_CONNECTED":
        q, params, per_channel, positions = _fc_geometry(graph, op, rows, cols)
    else:
        q, params, per_channel, positions = _conv_geometry(graph, op)
    params.update(_walk_params(op.type, params, rows, cols, positions, pair=optimize != "size"))
    params.update({"input_zp": -q.input_offset, "output_offset": q.output_offset, "act_min": q.act_min,
                   "act_max": q.act_max, "weights_min": int(matrix.min()) if matrix.size else 0,
                   "pool_fused": False})
    bi = w.blocks.bi if w.blocks is not None else 1
    params.update(_lut_params(bi, cols // bi, params["columns"]))
    params.update(_block_params(w.blocks, rows, cols))
    requant_params, arrays = _requant(q.multipliers, q.shifts, per_channel)
    params.update(requant_params)
    raw_bias = _bias(graph, op, rows)
    params["requant_folds_offset"] = requant_folds_offset(matrix, raw_bias, params["input_zp"], np.asarray(q.shifts))
    if op.type == "DEPTHWISE_CONV_2D":
        arrays["zp_row"] = np.full(params["cin"], -q.input_offset, np.int8)
        params["tail_row_start_pairs"] = rows - rows % 2
        params["last_row_channel"] = (rows - 1) // params["depth_multiplier"]
    facts = _block_facts(op.type, positions, w.blocks, rows, cols, params["paired"])
    facts = dataclasses.replace(facts, folded_requant=params["requant_folds_offset"] and params["act_max"] == 127)
    if op.type == "CONV_2D" and not params["pointwise"]:
        facts = dataclasses.replace(facts, patch_copies=patch_copies(params), inside_rows=inside_rows(params),
                                    patch_row=params["patch_row"])
    return LayerSpec(params, arrays, facts, matrix, w.blocks, raw_bias, macs=positions * rows * cols, name=op.name)


def folded_bias(spec: LayerSpec, fold: bool) -> np.ndarray:
    """The int32 bias a kernel starts from: with `fold`, plus input_offset * the row sum of the weights."""
    bias = spec.raw_bias.copy()
    if fold:
        bias += -spec.params["input_zp"] * spec.matrix.astype(np.int64).sum(axis=1)
    if np.any(bias < arith.INT32_MIN) or np.any(bias > arith.INT32_MAX):
        raise MunifyError(f"op '{spec.name}': the bias with the input offset folded in overflows int32; "
                          "re-quantize the layer (its bias or weights are out of range)")
    return bias.astype(np.int32)


def _pool(graph: Graph, op: Op) -> LayerSpec:
    """AVERAGE_POOL_2D / MAX_POOL_2D: batches in_h in_w cin out_h out_w cout in_row in_image out_image kh kw
    stride_h stride_w pad_top pad_left act_min act_max in_step_x."""
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    q = arith.pool_params(graph, op)
    params = _window(_shape4(x.shape), _shape4(y.shape))
    params.update({"kh": q.filter[0], "kw": q.filter[1], "stride_h": q.stride[0], "stride_w": q.stride[1],
                   "pad_top": q.pad_top, "pad_left": q.pad_left, "act_min": q.act_min, "act_max": q.act_max,
                   "in_step_x": q.stride[1] * params["cin"], "scratch_bytes": 0})
    return LayerSpec(params, facts=LayerFacts(op.type, y.size * q.filter[0] * q.filter[1]))


def _broadcast_strides(shape4, out4) -> list[int]:
    """Element strides of an input over the output's 4-D index; 0 where the input is broadcast."""
    strides, step = [0] * MAX_RANK, 1
    for axis in reversed(range(MAX_RANK)):
        if shape4[axis] not in (1, out4[axis]):
            raise MunifyError(f"shape {shape4} does not broadcast to {out4}")
        strides[axis] = step if shape4[axis] == out4[axis] and out4[axis] > 1 else 0
        step *= shape4[axis]
    return strides


def _elementwise(graph: Graph, op: Op) -> LayerSpec:
    """ADD / MUL: the fields of arith.AddParams / MulParams, size, broadcast (bool), out_shape (4-D),
    in1_strides / in2_strides (element steps per output axis, 0 where broadcast), in1_back / in2_back (the
    pointer step at the end of each outer loop level). Constant operands become arrays const_in1 / const_in2."""
    a, b = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1])
    y = graph.tensor(op.outputs[0])
    q = op_def(op.type).params(graph, op)
    out4 = _shape4(y.shape)
    sa, sb = _broadcast_strides(_shape4(a.shape), out4), _broadcast_strides(_shape4(b.shape), out4)
    params = {name: getattr(q, name) for name in q.__dataclass_fields__}
    params.update({"size": y.size, "out_shape": out4, "broadcast": tuple(a.shape) != tuple(b.shape),
                   "in1_strides": sa, "in2_strides": sb, "scratch_bytes": 0})
    # Pointer steps at the end of each loop level: what the inner loops advanced is taken back.
    for key, strides in (("in1_back", sa), ("in2_back", sb)):
        params[key] = [strides[axis] - strides[axis + 1] * out4[axis + 1] for axis in range(MAX_RANK - 1)]
    constant_inputs = [t.name for t in (a, b) if t.is_constant]
    arrays = {f"const_in{i + 1}": t.data.reshape(-1).astype(np.int8) for i, t in enumerate((a, b)) if t.is_constant}
    params["constant_inputs"] = constant_inputs
    return LayerSpec(params, arrays, LayerFacts(op.type, y.size))


def _reshape(graph: Graph, op: Op) -> LayerSpec:
    """RESHAPE that cannot share its input's storage: size (bytes to copy)."""
    y = graph.tensor(op.outputs[0])
    return LayerSpec({"size": y.nbytes, "scratch_bytes": 0}, facts=LayerFacts(op.type, y.size))


def _softmax(graph: Graph, op: Op) -> LayerSpec:
    """SOFTMAX: rows, depth (last axis), accumulation_bits, output_shift_base; array exp_table."""
    x = graph.tensor(op.inputs[0])
    q = arith.softmax_params(graph, op)
    depth = int(x.shape[-1])
    # exp of every possible difference to the row maximum (0 .. -255); 0 below diff_min, where TFLM skips
    # the tap: a zero contributes nothing to the sum and yields the minimum output, exactly like a skipped tap.
    diffs = -np.arange(256, dtype=np.int64)
    scaled = arith.multiply_by_quantized_multiplier_greater_than_one(diffs, q.input_multiplier, q.input_left_shift)
    exps = arith.exp_on_negative_values(scaled, arith.SOFTMAX_SCALED_DIFF_INTEGER_BITS)
    exps = np.where(diffs >= q.diff_min, exps, 0).astype(np.int32)
    params = {"rows": x.size // depth, "depth": depth, "accumulation_bits": arith.SOFTMAX_ACCUMULATION_INTEGER_BITS,
              "output_shift_base": 31 - 8, "scratch_bytes": 0}
    return LayerSpec(params, {"exp_table": exps}, LayerFacts(op.type, x.size))


def _pad(graph: Graph, op: Op) -> LayerSpec:
    """PAD: pad_value, out_size, in_shape (4-D), out_strides, start (offset of the first input element in the
    output), row_bytes (innermost input row), out_steps (output pointer step at the end of each loop level)."""
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    q = arith.pad_params(graph, op)
    in4, out4 = _shape4(x.shape), _shape4(y.shape)
    pads = ((0, 0),) * (MAX_RANK - len(q.paddings)) + tuple(q.paddings)
    out_strides = [int(np.prod(out4[axis + 1:], dtype=np.int64)) for axis in range(MAX_RANK)]
    start = sum(before * stride for (before, _), stride in zip(pads, out_strides))
    params = {"pad_value": q.pad_value, "out_size": y.size, "in_shape": in4, "out_strides": out_strides,
              "start": start, "row_bytes": in4[3], "scratch_bytes": 0,
              "out_steps": [out_strides[axis] - in4[axis + 1] * out_strides[axis + 1] for axis in range(MAX_RANK - 1)]}
    return LayerSpec(params, facts=LayerFacts(op.type, y.size))


def _window_extents(p: dict) -> tuple[list[int], int]:
    return [p["batches"] * p["in_image"]], p["batches"] * p["out_image"]


def _conv_extents(p: dict) -> tuple[list[int], int]:
    """A conv fused with its pool (toolchain.plan.fusion) writes the pool's output."""
    reads, writes = _window_extents(p)
    return reads, p["batches"] * p["pool_out_image"] if p["pool_fused"] else writes


def _elementwise_extents(p: dict) -> tuple[list[int], int]:
    return [_strided_extent(p["out_shape"], p[f"in{i}_strides"]) for i in (1, 2)], p["size"]


def _strided_extent(shape, strides) -> int:
    return sum((d - 1) * s for d, s in zip(shape, strides)) + 1


def _softmax_extents(p: dict) -> tuple[list[int], int]:
    return [p["rows"] * p["depth"]], p["rows"] * p["depth"]


def _pad_extents(p: dict) -> tuple[list[int], int]:
    return [math.prod(p["in_shape"])], p["out_size"]


def _copy_extents(p: dict) -> tuple[list[int], int]:
    return [p["size"]], p["size"]


@dataclass(frozen=True)
class OpPlanning:
    """The plan side of an op (`toolchain.ir.ops.OPS` has the rest): its template params builder, and the bytes
    its kernels read from each data input and write to the output, from those params (`arena.check_bounds`)."""

    build: Callable[..., LayerSpec]
    extents: Callable[[dict], tuple[list[int], int]]


OP_PLANNING: dict[str, OpPlanning] = {
    "CONV_2D": OpPlanning(_matrix_op, _conv_extents),
    "DEPTHWISE_CONV_2D": OpPlanning(_matrix_op, _window_extents),
    "FULLY_CONNECTED": OpPlanning(_matrix_op, _window_extents),
    "AVERAGE_POOL_2D": OpPlanning(_pool, _window_extents),
    "MAX_POOL_2D": OpPlanning(_pool, _window_extents),
    "ADD": OpPlanning(_elementwise, _elementwise_extents),
    "MUL": OpPlanning(_elementwise, _elementwise_extents),
    "RESHAPE": OpPlanning(_reshape, _copy_extents),
    "SOFTMAX": OpPlanning(_softmax, _softmax_extents),
    "PAD": OpPlanning(_pad, _pad_extents),
}
