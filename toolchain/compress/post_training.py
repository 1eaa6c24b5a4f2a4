"""Post-training unification/pruning of an int8 IR graph (no data, no retraining).

For imported models whose training pipeline is not at hand: each weight is dequantized with its per-channel
scales, projected onto the block set at the given ratios (the same selection and projection as ADMM's Z-step),
and requantized with the same scales, so every multiplier, shift and bias stays as it was. Accuracy is then a
question for the user's data; `munify bench` reports top-1 agreement with the dense model as a proxy.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import MunifyError
from ..ir import WEIGHTED_OPS, BlockKind, BlockStructure, Graph, matrix_to_weight, weight_matrix
from ..ir.blocks import SUPPORTED_BI, SUPPORTED_BO
from .project import project_fixed, select_kinds


DEFAULT_OP_TYPES = ("CONV_2D", "FULLY_CONNECTED")


def compress_graph(graph: Graph, bo: int, bi: int, prune: float, unify: float, skip_first: bool = True,
                   skip_last: bool = True, op_types: tuple[str, ...] = DEFAULT_OP_TYPES) -> Graph:
    """A copy of `graph` whose weights are unified/pruned at the given ratios of their full blocks.

    The first and last weighted layers and depthwise convs (9 taps: little to gain, much to lose) are left
    dense by default: without retraining they are where accuracy goes first.
    """
    if bo not in SUPPORTED_BO or bi not in SUPPORTED_BI[1:]:
        raise MunifyError(f"block shape {bo}x{bi} is not supported (bo in {SUPPORTED_BO}, bi in {SUPPORTED_BI[1:]})")
    if not (0 <= prune <= 1 and 0 <= unify <= 1 and prune + unify <= 1):
        raise MunifyError(f"ratios prune={prune} unify={unify} must be in [0, 1] with a sum <= 1")
    weighted = [op for op in graph.ops if op.type in WEIGHTED_OPS]
    chosen = weighted[1 if skip_first else 0: len(weighted) - 1 if skip_last else len(weighted)]
    for op in chosen:
        if op.type in op_types:
            graph = graph.with_tensor(_compress_weight(graph, op, bo, bi, prune, unify))
    graph = graph.replace(metadata={**graph.metadata, "post_training": {
        "block_shape": [bo, bi], "prune": prune, "unify": unify, "skip_first": skip_first,
        "skip_last": skip_last, "op_types": list(op_types)}})
    graph.validate()
    return graph


def _compress_weight(graph: Graph, op, bo: int, bi: int, prune: float, unify: float):
    weight = graph.weight_of(op)
    matrix = weight_matrix(op.type, weight.data).astype(np.float64)
    scales = _row_scales(op.type, weight)
    real = torch.from_numpy(matrix * scales[:, None])
    kinds = select_kinds(real, bo, bi, prune, unify)
    projected = project_fixed(real, kinds, bo, bi).numpy()
    q = np.clip(np.sign(projected) * np.floor(np.abs(projected) / scales[:, None] + 0.5), -127, 127).astype(np.int8)
    kinds = _zero_unified_blocks_pruned(q, kinds, bo, bi)
    blocks = BlockStructure.from_matrix(q, kinds, bo, bi)
    return weight.replace(data=matrix_to_weight(op.type, q, weight.shape), blocks=blocks)


def _row_scales(op_type: str, weight) -> np.ndarray:
    """Per-row (output channel) scale of the weight matrix view."""
    rows = weight_matrix(op_type, weight.data).shape[0]
    scale = weight.quant.scale.astype(np.float64)
    return np.broadcast_to(scale, (rows,)).copy() if len(scale) == 1 else scale


def _zero_unified_blocks_pruned(q: np.ndarray, kinds: np.ndarray, bo: int, bi: int) -> np.ndarray:
    """A unified block whose magnitudes all rounded to 0 is pruned in effect: count it so."""
    kinds = kinds.copy()
    for r, c in np.argwhere(kinds == BlockKind.UNIFIED):
        if not np.any(q[r * bo:(r + 1) * bo, c * bi:(c + 1) * bi]):
            kinds[r, c] = BlockKind.PRUNED
    return kinds
