"""Seeded random int8 inputs that keep a model's outputs unsaturated (shared by `munify verify` and `run`).

Values are Gaussian around each input's zero point (real value 0), rounded and clipped to int8. Wide noise
drives classifiers into one-hot softmax outputs (one class at 127, all others at -128), which hides
arithmetic differences in the tail classes; with sigma = 4 quantization steps the MLPerf Tiny KWS and
ResNet-8 softmax outputs kept at least two live classes in every one of 500 draws tried.
"""

from __future__ import annotations

import numpy as np

from .errors import MunifyError
from .ir import Graph

DEFAULT_SIGMA = 4.0


def draw_inputs(graph: Graph, n: int, seed: int, sigma: float = DEFAULT_SIGMA) -> list[list[np.ndarray]]:
    """`n` inference inputs; each is a list with one int8 array per graph input, in `graph.inputs` order."""
    if n < 1:
        raise MunifyError(f"the number of inputs must be at least 1 (got {n})")
    if not sigma > 0:
        raise MunifyError(f"the input spread sigma must be positive (got {sigma})")
    tensors = [graph.tensor(name) for name in graph.inputs]
    for t in tensors:
        if t.dtype != "int8" or t.quant is None:
            raise MunifyError(f"graph input '{t.name}' is {t.dtype}; random inputs need a quantized int8 input")
    rng = np.random.default_rng(seed)
    return [[_draw(rng, int(t.quant.zero_point[0]), t.shape, sigma) for t in tensors] for _ in range(n)]


def _draw(rng: np.random.Generator, zero_point: int, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    values = np.rint(rng.normal(zero_point, sigma, size=shape))
    return np.clip(values, -128, 127).astype(np.int8)
