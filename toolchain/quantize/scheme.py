"""The TFLite int8 scheme: activation and weight quantization parameters, and structure-keeping weight rounding.

Activations: int8 asymmetric per tensor, range widened to include 0 and the zero point nudged onto the int8
grid (real 0 is then exactly representable, which zero padding and fused ReLU rely on).
Weights: int8 symmetric per output channel, scale = max|w_row| / 127, values in [-127, 127].
Biases: int32, scale = input_scale * weight_scale per channel, zero point 0.

Rounding is half away from zero everywhere, as TFLite's converter and kernels round. Per-channel symmetric
rounding is odd (round(-x) = -round(x)), so a unified block row (one magnitude, its own signs) stays exactly
one integer magnitude with the same signs, and a pruned block stays all zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..ir import BlockKind, Quant, Tensor, arith

QMIN, QMAX = -128, 127
WEIGHT_QMAX = 127
BIAS_QMAX = 2**31 - 1


def round_half_away(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


@dataclass(frozen=True)
class ActQuant:
    """Per-tensor int8 quantization of one activation: real = scale * (q - zero_point)."""

    scale: float  # a float32 value
    zero_point: int

    @classmethod
    def from_range(cls, low: float, high: float) -> "ActQuant":
        low, high = min(float(low), 0.0), max(float(high), 0.0)
        if high - low <= 0.0:  # a tensor that never left 0: any scale represents it exactly
            high = 1.0
        scale = np.float32((high - low) / (QMAX - QMIN))
        zero_point = int(np.clip(arith.round_half_away(QMIN - low / np.float64(scale)), QMIN, QMAX))
        return cls(float(scale), zero_point)

    def to_ir(self) -> Quant:
        return Quant(np.array([self.scale], np.float32), np.array([self.zero_point]))

    def bounds(self, activation: str) -> tuple[int, int]:
        """The int8 output range of a fused activation, exactly as the reference and the C code clamp."""
        return arith.activation_range(activation, Tensor("output", (1,), "int8", self.to_ir()))


def fake_quantize(x: torch.Tensor, quant: ActQuant, bounds: tuple[int, int]) -> torch.Tensor:
    """Round x onto the int8 grid of `quant`, clamped to `bounds`; straight-through gradient inside the range."""
    low = quant.scale * (bounds[0] - quant.zero_point)
    high = quant.scale * (bounds[1] - quant.zero_point)
    q = torch.clamp(round_half_away(x / quant.scale) + quant.zero_point, *bounds)
    clipped = torch.clamp(x, low, high)
    return clipped + (quant.scale * (q - quant.zero_point) - clipped).detach()


def to_int8(x: torch.Tensor, quant: ActQuant) -> torch.Tensor:
    """Integer codes of real values (the network input), computed in float64 like the integer-exact program."""
    codes = round_half_away(x.detach().to(torch.float64) / quant.scale) + quant.zero_point
    return torch.clamp(codes, QMIN, QMAX).to(torch.int8)


def weight_scales(matrix: torch.Tensor) -> torch.Tensor:
    """Per-row symmetric scales max|w_row| / 127 as float32; an all-zero row borrows the largest scale."""
    row_max = matrix.detach().abs().amax(dim=1).to(torch.float32)
    scales = row_max / WEIGHT_QMAX
    fallback = scales.max() if bool(torch.any(scales > 0)) else torch.tensor(1.0)
    return torch.where(scales > 0, scales, fallback)


def quantize_matrix(matrix: torch.Tensor, scales: torch.Tensor, kinds: np.ndarray | None, bo: int,
                    bi: int) -> torch.Tensor:
    """Integer codes (as float) of a weight matrix [out, reduction], exact to its block kinds.

    Dense weights round independently. A unified block row gets one magnitude, round(mean|w| / scale), with
    each weight's sign (+ for 0); a pruned block is 0. On a matrix that already has the structure, this is
    plain per-channel rounding; on one slightly off (float noise) it projects onto the structure.
    """
    w = matrix.detach().to(torch.float64) / scales.to(torch.float64)[:, None]
    q = round_half_away(w)
    if kinds is not None:
        weight_kinds = _weight_kinds(kinds, *matrix.shape, bo, bi)
        magnitudes = _block_row_mean(w.abs(), bi)
        unified = torch.where(w < 0, -1.0, 1.0).to(torch.float64) * round_half_away(magnitudes)
        q = torch.where(weight_kinds == BlockKind.UNIFIED, unified, q)
        q = torch.where(weight_kinds == BlockKind.PRUNED, torch.zeros_like(q), q)
    return torch.clamp(q, -WEIGHT_QMAX, WEIGHT_QMAX).to(torch.float32)


def _weight_kinds(kinds: np.ndarray, rows: int, cols: int, bo: int, bi: int) -> torch.Tensor:
    per_weight = np.repeat(np.repeat(np.asarray(kinds), bo, axis=0), bi, axis=1)[:rows, :cols]
    return torch.as_tensor(per_weight.astype(np.int64))


def _block_row_mean(values: torch.Tensor, bi: int) -> torch.Tensor:
    """Mean of each block row (bi consecutive columns), broadcast back over its weights.

    float64 sums of <= 16 float32-derived values are exact, so a row of equal magnitudes averages to exactly
    that magnitude. Edge columns form a short last tile; only dense blocks live there, so its mean is unused.
    """
    rows, cols = values.shape
    tiles = -(-cols // bi)
    padded = torch.zeros(rows, tiles * bi, dtype=values.dtype)
    padded[:, :cols] = values
    means = padded.reshape(rows, tiles, bi).sum(dim=2) / bi
    return means.repeat_interleave(bi, dim=1)[:, :cols]


def quantize_bias(bias: torch.Tensor, input_scale: float, scales: torch.Tensor) -> torch.Tensor:
    """int32 codes (as float64) of a bias with scale input_scale * weight_scale per channel."""
    bias_scales = bias_scale(input_scale, scales).to(torch.float64)
    q = round_half_away(bias.detach().to(torch.float64) / bias_scales)
    return torch.clamp(q, -BIAS_QMAX, BIAS_QMAX)


def bias_scale(input_scale: float, scales: torch.Tensor) -> torch.Tensor:
    """float32 bias scales, as the IR stores them."""
    return (torch.tensor(input_scale, dtype=torch.float64) * scales.to(torch.float64)).to(torch.float32)


def unified_blocks_zeroed(q: torch.Tensor, kinds: np.ndarray, bo: int, bi: int) -> np.ndarray:
    """Mask over the block grid: unified blocks whose every weight rounded to 0."""
    rows, cols = q.shape
    gr, gc = kinds.shape
    padded = np.zeros((gr * bo, gc * bi), np.int64)
    padded[:rows, :cols] = q.numpy().astype(np.int64)
    block_max = np.abs(padded).reshape(gr, bo, gc, bi).max(axis=(1, 3))
    return (np.asarray(kinds) == BlockKind.UNIFIED) & (block_max == 0)
