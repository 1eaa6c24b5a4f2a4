"""Cortex-M DSP kernels (codegen_templates/kernels/dsp/): packed weight layouts, cost model, registry entries.

Layouts (the C side documents the same in each kernel's header comment):
  dsp-fc4     dense FC: rows in groups of 4, for each group of 4 inputs the 4 rows' 4 bytes (one LDM);
              then the rows % 4 last rows one after the other; inputs padded to a multiple of 4 with zeros.
  dsp-conv2   dense matrix for im2col convolutions: rows in pairs (a zero row added to an odd count), for each
              group of 4 reduction elements the 2 rows' 4 bytes (one LDRD); reduction padded to a multiple of 4.
  dsp-dw      depthwise: int16 [taps][channels padded to 4], channels of each group of 4 in the SXTB16 order
              (c0, c2, c1, c3).
  dsp-blocks  1 x bi blocks (bi 4 or 8), see pack_fc_blocks.
"""

from __future__ import annotations

import numpy as np


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _pad_cols(matrix: np.ndarray, multiple: int) -> np.ndarray:
    rows, cols = matrix.shape
    out = np.zeros((rows, _round_up(cols, multiple)), np.int8)
    out[:, :cols] = matrix
    return out


def pack_fc_dense(matrix: np.ndarray) -> np.ndarray:
    """Layout dsp-fc4 of an int8 [rows, cols] matrix."""
    padded = _pad_cols(np.asarray(matrix, np.int8), 4)
    rows, cols = padded.shape
    full = rows // 4 * 4
    groups = padded[:full].reshape(rows // 4, 4, cols // 4, 4).transpose(0, 2, 1, 3)
    return np.concatenate([groups.reshape(-1), padded[full:].reshape(-1)])


def pack_conv_dense(matrix: np.ndarray) -> np.ndarray:
    """Layout dsp-conv2 of an int8 [rows, reduction] matrix."""
    padded = _pad_cols(np.asarray(matrix, np.int8), 4)
    if len(padded) % 2:
        padded = np.concatenate([padded, np.zeros((1, padded.shape[1]), np.int8)])
    rows, cols = padded.shape
    return padded.reshape(rows // 2, 2, cols // 4, 4).transpose(0, 2, 1, 3).reshape(-1)


SXTB16_ORDER = np.array([0, 2, 1, 3])


def pack_depthwise(matrix: np.ndarray) -> np.ndarray:
    """Layout dsp-dw of a depthwise matrix [channels, taps] (`weight_matrix` view)."""
    matrix = np.asarray(matrix, np.int16)
    channels, taps = matrix.shape
    padded = np.zeros((taps, _round_up(channels, 4)), np.int16)
    padded[:, :channels] = matrix.T
    return padded.reshape(taps, -1, 4)[:, :, SXTB16_ORDER].reshape(-1)
