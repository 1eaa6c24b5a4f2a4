"""CONV_2D + MAX_POOL_2D fused into one layer: the conv computes only the pixels a 2x2 / stride 2 pool reads,
takes the maximum of each window's four int32 accumulators per channel and requantizes once.

Why it is exact: TFLite's requantization of an accumulator, MultiplyByQuantizedMultiplier with a positive
multiplier (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT: both round to nearest, ties away from
zero, so both are non-decreasing; the only saturation, INT32_MIN * INT32_MIN, needs a negative multiplier), then
the output offset and the activation clamp, is a non-decreasing function R of the accumulator as long as no
left shift wraps (every channel here shifts right or not at all). So max(R(a), R(b), R(c), R(d)) =
R(max(a, b, c, d)), and the pool's own clamp, in the same quantization (TFLite requires the pool's input and
output quantized alike; arith.pool_params refuses others), narrows the conv's range to their intersection. tests/unit/test_requant_monotonic.py checks
the monotonicity against toolchain.ir.arith for every shift.

The pool layer stays in the plan (per-layer counts, `munify run --layers`) as a layer that runs no code,
`POOL_FUSED`; the conv layer writes the pool's output buffer and the conv's full-size output has no storage.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..ir import arith
from ..ir.graph import Graph
from . import layers
from .variant import KernelVariant

POOL_FUSED = "pool_fused"  # the variant name of a MAX_POOL_2D that its conv computes
POOL_WINDOW = 2  # the fused pool's filter and stride


def pool_fusions(graph: Graph, specs: list[layers.LayerSpec],
                 variants: list[KernelVariant | None]) -> dict[int, int]:
    """conv op index -> the index of the MAX_POOL_2D it absorbs, for every CONV_2D whose chosen variant fuses
    and whose output only that pool reads (not a model output: the conv's full-size output is never written)."""
    readers: dict[str, list[int]] = {}
    for index, op in enumerate(graph.ops):
        for name in op.inputs:
            readers.setdefault(name, []).append(index)
    fusions = {}
    for index, (op, variant) in enumerate(zip(graph.ops, variants)):
        if op.type != "CONV_2D" or variant is None or not variant.fuses_pool:
            continue
        out = op.outputs[0]
        reads = readers.get(out, [])
        if out in graph.outputs or len(reads) != 1 or graph.ops[reads[0]].type != "MAX_POOL_2D":
            continue
        if _fusable(graph, index, specs[index].params, specs[reads[0]].params):
            fusions[index] = reads[0]
    return fusions


def _fusable(graph: Graph, conv_index: int, conv: dict, pool: dict) -> bool:
    """A 2x2 / stride 2 pool without padding over whole windows (VALID; SAME only where it is VALID), one image,
    overlapping activation ranges and a requantization that never shifts left (a left shift can wrap)."""
    whole_windows = (pool["out_h"] == conv["out_h"] // POOL_WINDOW and pool["out_w"] == conv["out_w"] // POOL_WINDOW)
    window = (pool["kh"], pool["kw"], pool["stride_h"], pool["stride_w"]) == (POOL_WINDOW,) * 4
    shifts = arith.conv_params(graph, graph.ops[conv_index]).shifts
    return (window and whole_windows and pool["pad_top"] == 0 and pool["pad_left"] == 0 and conv["batches"] == 1
            and max(conv["act_min"], pool["act_min"]) <= min(conv["act_max"], pool["act_max"])
            and bool(np.all(np.asarray(shifts) <= 0)))


def fuse(conv: layers.LayerSpec, pool: layers.LayerSpec) -> layers.LayerSpec:
    """The conv's spec computing the pool: window counts, the intersected activation range, the pooled facts."""
    p, q = conv.params, pool.params
    params = dict(p)
    params.update({"pool_fused": True, "pool_out_h": q["out_h"], "pool_out_w": q["out_w"],
                   "pool_out_image": q["out_image"], "act_min": max(p["act_min"], q["act_min"]),
                   "act_max": min(p["act_max"], q["act_max"])})
    windows = q["out_h"] * q["out_w"] * p["batches"]
    facts = dataclasses.replace(conv.facts, positions=POOL_WINDOW * POOL_WINDOW * windows, pool_windows=windows,
                                inside_windows=inside_windows(params),
                                folded_requant=params["requant_folds_offset"] and params["act_max"] == 127)
    return dataclasses.replace(conv, params=params, facts=facts)


def inside_windows(p: dict) -> int:
    """Pool windows whose four conv pixels read only inputs inside the image (no padding tap)."""
    def inside(windows: int, stride: int, pad: int, kernel: int, dilation: int, size: int) -> np.ndarray:
        first = np.arange(windows) * POOL_WINDOW * stride - pad  # the window's first pixel's first tap
        last = first + (POOL_WINDOW - 1) * stride + (kernel - 1) * dilation
        return (first >= 0) & (last < size)
    rows = inside(p["pool_out_h"], p["stride_h"], p["pad_top"], p["kh"], p["dil_h"], p["in_h"])
    cols = inside(p["pool_out_w"], p["stride_w"], p["pad_left"], p["kw"], p["dil_w"], p["in_w"])
    return int(rows.sum() * cols.sum())
