"""Per-op cost of an IR graph: MACs, parameters, stored weight bytes, block structure, peak activation memory.

MACs count the multiply-accumulates of a dense layer. `macs_remaining` counts the multiplies a compressed
weight still needs: one per dense weight plus one per unified block row (a unified row adds its sign-flipped
inputs, then multiplies once by the shared magnitude); pruned blocks cost nothing. For a dense weight the
two are equal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .ir import WEIGHTED_OPS, BlockKind, Graph, Op, Tensor, weight_matrix

FORMAT_NAME = "munify-summary"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class OpSummary:
    name: str
    type: str
    input_shapes: tuple[tuple[int, ...], ...]  # activation inputs only
    output_shape: tuple[int, ...]
    macs: int
    macs_remaining: int
    params: int  # weight + bias elements
    weight_bytes: int  # as stored: the packed size of a structured weight, else one byte per int8 weight
    bias_bytes: int
    blocks: str  # "dense" or e.g. "1x8: 20% D / 30% U / 50% P"

    @property
    def multiplies_remaining(self) -> int:
        return self.macs_remaining


@dataclass(frozen=True)
class GraphSummary:
    name: str
    ops: tuple[OpSummary, ...]
    macs: int
    macs_remaining: int
    params: int
    weight_bytes: int
    bias_bytes: int
    peak_activation_bytes: int

    @property
    def multiplies_remaining(self) -> int:
        return self.macs_remaining

    def to_json(self) -> dict:
        ops = [dict(asdict(op), input_shapes=[list(s) for s in op.input_shapes], output_shape=list(op.output_shape))
               for op in self.ops]
        totals = {key: getattr(self, key) for key in
                  ("macs", "macs_remaining", "params", "weight_bytes", "bias_bytes", "peak_activation_bytes")}
        return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "name": self.name, "ops": ops, "totals": totals}


def summarize(graph: Graph) -> GraphSummary:
    ops = tuple(summarize_op(graph, op) for op in graph.ops)
    weights, biases = _parameter_tensors(graph)
    return GraphSummary(
        name=graph.name,
        ops=ops,
        macs=sum(op.macs for op in ops),
        macs_remaining=sum(op.macs_remaining for op in ops),
        params=sum(t.size for t in weights + biases),
        weight_bytes=sum(stored_weight_bytes(t) for t in weights),
        bias_bytes=sum(t.nbytes for t in biases),
        peak_activation_bytes=peak_activation_bytes(graph),
    )


def summarize_op(graph: Graph, op: Op) -> OpSummary:
    tensors = graph.op_inputs(op)
    weight = graph.weight_of(op)
    bias = tensors[2] if weight is not None and len(tensors) > 2 else None
    output = graph.tensor(op.outputs[0])
    macs = remaining = 0
    if weight is not None:
        positions = _output_positions(op, output, weight)
        rows, cols = weight_matrix(op.type, weight.data).shape
        macs = positions * rows * cols
        remaining = positions * _multiplies_per_position(weight)
    return OpSummary(
        name=op.name,
        type=op.type,
        input_shapes=tuple(t.shape for t in tensors if t is not None and not t.is_constant),
        output_shape=output.shape,
        macs=macs,
        macs_remaining=remaining,
        params=sum(t.size for t in (weight, bias) if t is not None),
        weight_bytes=stored_weight_bytes(weight) if weight is not None else 0,
        bias_bytes=bias.nbytes if bias is not None else 0,
        blocks=block_summary(weight) if weight is not None else "",
    )


def stored_weight_bytes(weight: Tensor) -> int:
    return weight.blocks.stored_bytes() if weight.blocks is not None else weight.nbytes


def block_summary(weight: Tensor) -> str:
    if weight.blocks is None:
        return "dense"
    b = weight.blocks
    counts = b.counts()
    total = max(1, sum(counts.values()))
    share = {k: round(100 * v / total) for k, v in counts.items()}
    return f"{b.bo}x{b.bi}: {share['dense']}% D / {share['unified']}% U / {share['pruned']}% P"


def _output_positions(op: Op, output: Tensor, weight: Tensor) -> int:
    """How often the weight matrix is applied: output pixels (conv), rows of the batch (fully connected)."""
    if op.type == "FULLY_CONNECTED":
        return output.size // weight.shape[0]
    if op.type == "DEPTHWISE_CONV_2D":
        return output.size // output.shape[-1]  # the matrix already has one row per channel
    return output.size // weight.shape[0]


def _multiplies_per_position(weight: Tensor) -> int:
    b = weight.blocks
    if b is None:
        return weight.size
    kinds = b.weight_kinds()
    unified_rows = int(np.sum(np.repeat(b.kinds == BlockKind.UNIFIED, b.bo, axis=0)[: b.rows]))
    return int(np.sum(kinds == BlockKind.DENSE)) + unified_rows


def _parameter_tensors(graph: Graph) -> tuple[list[Tensor], list[Tensor]]:
    """Weights and biases of the weighted ops, each tensor once even when ops share it."""
    weights: dict[str, Tensor] = {}
    biases: dict[str, Tensor] = {}
    for op in graph.ops:
        if op.type not in WEIGHTED_OPS:
            continue
        weights[op.inputs[1]] = graph.tensor(op.inputs[1])
        if len(op.inputs) > 2 and op.inputs[2]:
            biases[op.inputs[2]] = graph.tensor(op.inputs[2])
    return list(weights.values()), list(biases.values())


def peak_activation_bytes(graph: Graph) -> int:
    """Max over the op order of the bytes of all live activations (no in-place reuse, no aliasing)."""
    activations = {name: t for name, t in graph.tensors.items() if not t.is_constant}
    last_use = {name: len(graph.ops) for name in graph.outputs}
    born = {name: 0 for name in graph.inputs}
    for i, op in enumerate(graph.ops):
        for name in op.inputs:
            if name in activations:
                last_use[name] = max(last_use.get(name, i), i)
        for name in op.outputs:
            born.setdefault(name, i)
            last_use.setdefault(name, i)
    peak = 0
    for i in range(len(graph.ops)):
        live = sum(activations[n].nbytes for n in born if n in activations and born[n] <= i <= last_use[n])
        peak = max(peak, live)
    return peak


def format_table(summary: GraphSummary) -> str:
    header = ("#", "op", "type", "input -> output", "MACs", "MACs left", "weight B", "bias B", "blocks")
    rows = [header]
    for i, op in enumerate(summary.ops):
        shapes = ", ".join(_shape(s) for s in op.input_shapes) + " -> " + _shape(op.output_shape)
        rows.append((str(i), op.name, op.type, shapes, _num(op.macs), _num(op.macs_remaining),
                     _num(op.weight_bytes), _num(op.bias_bytes), op.blocks))
    rows.append(("", "total", "", "", _num(summary.macs), _num(summary.macs_remaining), _num(summary.weight_bytes),
                 _num(summary.bias_bytes), ""))
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    numeric = {0, 4, 5, 6, 7}
    lines = ["  ".join(cell.rjust(w) if c in numeric else cell.ljust(w)
                       for c, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(-1, lines[1])
    lines.append(f"{summary.name}: {summary.macs / 1e6:.3f} M MACs ({summary.macs_remaining / 1e6:.3f} M left "
                 f"after compression), {summary.params:,} parameters, {summary.weight_bytes:,} weight bytes, "
                 f"peak activation memory {summary.peak_activation_bytes:,} bytes")
    return "\n".join(lines)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


def _num(n: int) -> str:
    return f"{n:,}"
