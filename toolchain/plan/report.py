"""A plan as readable text and as JSON (both deterministic)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .types import Buffer, Plan


def _where(buffer: Buffer | None) -> str:
    if buffer is None:
        return "-"
    if buffer.region == "arena":
        return f"arena@{buffer.offset}+{buffer.size}"
    return f"{buffer.region}+{buffer.size}"


def _cost_tables(plan: Plan) -> str:
    """Which CPU's costs ranked each family's kernels, and where the board's CPU had none."""
    if plan.cpu is None:
        return ", ".join(f"{family}: {cpu}" for family, cpu in plan.cost_cpus.items()) + " (each family's fitted CPU)"
    return ", ".join(f"{family}: {cpu}" + ("" if cpu == plan.cpu else f" ({plan.cpu} has none)")
                     for family, cpu in plan.cost_cpus.items())


def format_plan(plan: Plan) -> str:
    lines = [
        f"model      {plan.model_name}",
        f"features   {','.join(plan.features) or 'none'}",
        f"cpu        {plan.cpu or 'none given'}",
        f"costs      {_cost_tables(plan)}",
        f"optimize   {plan.optimize}",
        f"input      {plan.input.size} bytes, output {plan.output.size} bytes",
        f"arena      {plan.arena_size} bytes",
        f"estimate   {sum(layer.cost for layer in plan.layers):,.0f} instructions per inference (kernel cost models)",
        f"const      {plan.const_bytes} bytes (weights, block index, bias, requantization tables)",
        "weights by layout (all matrix ops in one layout): "
        + ", ".join(f"{k} {v}" for k, v in plan.layout_totals().items()),
        "",
        f"{'#':>3}  {'layer':<24} {'op':<18} {'kernel':<28} {'layout':<13} {'const B':>8} {'MACs':>10} "
        f"{'est. instr':>11}  {'output':<22} scratch",
    ]
    for layer in plan.layers:
        lines.append(f"{layer.index:>3}  {layer.name[:24]:<24} {layer.op_type:<18} {layer.variant:<28} "
                     f"{layer.layout:<13} {layer.weight_bytes:>8} {layer.macs:>10} {layer.cost:>11,.0f}  "
                     f"{_where(layer.output):<22} "
                     f"{_where(layer.scratch)}")
    return "\n".join(lines)


def plan_to_dict(plan: Plan) -> dict:
    def buffer(b: Buffer | None):
        return None if b is None else {"tensor": b.tensor, "region": b.region, "offset": b.offset, "size": b.size}

    return {
        "model": plan.model_name, "features": list(plan.features), "optimize": plan.optimize,
        "cpu": plan.cpu, "costs": plan.cost_cpus,
        "input": buffer(plan.input), "output": buffer(plan.output), "arena_size": plan.arena_size,
        "const_bytes": plan.const_bytes, "layout_totals": plan.layout_totals(),
        "layers": [{
            "index": layer.index, "name": layer.name, "op": layer.op_type, "kernel": layer.variant,
            "layout": layer.layout, "source": None if layer.alias else layer.source,
            "const_bytes": layer.weight_bytes, "layout_bytes": layer.layout_bytes, "macs": layer.macs,
            "cost": layer.cost, "inputs": [buffer(b) for b in layer.inputs], "output": buffer(layer.output),
            "scratch": buffer(layer.scratch),
            "arrays": {role: {"name": a.name, "ctype": a.ctype, "length": a.length, "bytes": a.nbytes}
                       for role, a in layer.arrays.items()},
        } for layer in plan.layers],
    }


def plan_to_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=1, sort_keys=True)
