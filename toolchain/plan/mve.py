"""Helium (MVE) kernels for the Cortex-M55 (codegen_templates/kernels/mve/): weight packing and cost model.

Layouts (each kernel header documents the same):
  mve-rows4   dense CONV_2D / FULLY_CONNECTED: rows padded to a multiple of 4, reduction padded to a multiple
              of 16 with zeros; per group of 4 rows, per 16 reduction elements, 16 bytes of each of the 4 rows.
  mve-dw16    dense DEPTHWISE_CONV_2D (multiplier 1, at most 16 taps): per channel, its taps padded to 16.

The cost model counts retired instructions under QEMU -icount (not cycles), per layer.
"""

from __future__ import annotations

import numpy as np

VECTOR_BYTES = 16  # one Q register of int8 lanes
ROW_GROUP = 4  # weight rows per activation load


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def pack_rows4(matrix: np.ndarray, blocks=None) -> dict[str, np.ndarray]:
    """Layout mve-rows4 of an int8 [rows, cols] matrix (every block kind stored as its int8 weights)."""
    matrix = np.asarray(matrix, np.int8)
    rows, cols = matrix.shape
    padded = np.zeros((_round_up(rows, ROW_GROUP), _round_up(cols, VECTOR_BYTES)), np.int8)
    padded[:rows, :cols] = matrix
    groups, steps = padded.shape[0] // ROW_GROUP, padded.shape[1] // VECTOR_BYTES
    tiles = padded.reshape(groups, ROW_GROUP, steps, VECTOR_BYTES).transpose(0, 2, 1, 3)
    return {"weights": tiles.reshape(-1)}


def pack_depthwise16(matrix: np.ndarray, blocks=None) -> dict[str, np.ndarray]:
    """Layout mve-dw16 of a depthwise matrix [channels, taps]."""
    matrix = np.asarray(matrix, np.int8)
    channels, taps = matrix.shape
    padded = np.zeros((channels, VECTOR_BYTES), np.int8)
    padded[:, :taps] = matrix
    return {"weights": padded.reshape(-1)}


# ---------------------------------------------------------------------------------------------------------
# Geometry shared with the C headers (the same conditions as their macros)

def reads_in_place(params: dict) -> bool:
    """munify_mve_matrix.h MVE_IN_PLACE: interior patches are read from the input, not gathered."""
    return params["pointwise"] or (params["dil_w"] == 1 and params["kw"] * params["cin"] % VECTOR_BYTES == 0)


def matrix_scratch(params: dict) -> int:
    return 0 if params["pointwise"] else params["k"]


def depthwise_plane(params: dict) -> tuple[int, int]:
    """Rows and columns of one channel's zero-padded input plane (munify_mve_depthwise.h)."""
    rows = max(params["pad_top"] + params["in_h"],
               (params["out_h"] - 1) * params["stride_h"] + (params["kh"] - 1) * params["dil_h"] + 1)
    cols = max(params["pad_left"] + params["in_w"],
               (params["out_w"] - 1) * params["stride_w"] + (params["kw"] - 1) * params["dil_w"] + 1)
    return rows, cols


def depthwise_scratch(params: dict) -> int:
    """The zero-padded planes, then a uint16 window offset per output pixel (padded to 4 pixels)."""
    rows, cols = depthwise_plane(params)
    pixels = params["out_h"] * params["out_w"]
    return _round_up(params["cin"] * rows * cols, 4) + 2 * _round_up(pixels, 4)


def depthwise_fits(params: dict) -> bool:
    """One gather of 8-bit offsets reads a channel's window: at most 16 taps, spread over at most 256 bytes."""
    if params["batches"] != 1 or params["depth_multiplier"] != 1 or params["taps"] > VECTOR_BYTES:
        return False
    rows, cols = depthwise_plane(params)
    if rows * cols > 0xFFFF:
        return False
    span = (params["kh"] - 1) * params["dil_h"] * cols + (params["kw"] - 1) * params["dil_w"]
    return span < 256


def single_image(params: dict) -> bool:
    return params["batches"] == 1


# ---------------------------------------------------------------------------------------------------------
# Cost model: retired instructions (QEMU -icount), per layer

LAYER_CALL = 40.0
STEP = 9.5  # per 16 reduction elements of 4 rows: 1 + 4 loads, 4 VMLADAVA, loop
GROUP = 28.0  # per 4 rows of one pixel: accumulators, bias, requantization, store
GATHER_TAP = 9.0  # per kernel tap of a gathered patch
DW_OUTPUT = 6.0  # per depthwise output: a gather and a VMLADAVA, its share of the requantization
DW_INPUT = 1.0  # per input byte copied into the padded planes
ADD_ELEMENT = 6.5  # 4 lanes a step: two rescaled inputs, their sum requantized


def matrix_cost(f) -> float:
    """`f` is a LayerFacts; gathers are charged as if every patch were gathered when cols % 16 != 0."""
    groups = -(-f.rows // ROW_GROUP)
    steps = -(-f.cols // VECTOR_BYTES)
    gather = 0.0 if f.cols % VECTOR_BYTES == 0 else f.cols / 4 * GATHER_TAP / 4
    return LAYER_CALL + f.positions * (groups * (steps * STEP + GROUP) + gather)


def depthwise_cost(f) -> float:
    return LAYER_CALL + f.positions * f.rows * DW_OUTPUT + f.positions * f.rows * DW_INPUT


def elementwise_cost(per_element: float):
    return lambda f: LAYER_CALL + f.positions * per_element
