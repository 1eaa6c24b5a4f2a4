"""The table `munify compress` prints, from its JSON report."""

from __future__ import annotations

from typing import Any


def _pct(part: int, total: int) -> str:
    return f"{100 * part / total:.0f}%" if total else "-"


def format_report(doc: dict[str, Any]) -> str:
    header = ("layer", "type", "weight", "block", "dense", "unified", "pruned", "bytes", "of dense", "MACs",
              "multiplies")
    rows = [header]
    for layer in doc["layers"]:
        counts = layer["blocks"]
        total = sum(counts.values())
        shape = layer["block_shape"]
        rows.append((layer["name"], layer["op_type"], "x".join(map(str, layer["weight_shape"])),
                     f"{shape[0]}x{shape[1]}" if shape else "-",
                     _pct(counts["dense"], total) if total else "100%", _pct(counts["unified"], total),
                     _pct(counts["pruned"], total), str(layer["stored_bytes"]),
                     f"{layer['stored_bytes'] / layer['dense_bytes']:.2f}x", f"{layer['macs']:,}",
                     f"{layer['multiplies']:,}"))
    rows.append(("total", "", "", "", _pct(doc["blocks"]["dense"], sum(doc["blocks"].values())),
                 _pct(doc["blocks"]["unified"], sum(doc["blocks"].values())),
                 _pct(doc["blocks"]["pruned"], sum(doc["blocks"].values())),
                 str(doc["weights_bytes"]["compressed"]),
                 f"{doc['weights_bytes']['compressed'] / doc['weights_bytes']['dense_int8']:.2f}x",
                 f"{sum(l['macs'] for l in doc['layers']):,}", f"{sum(l['multiplies'] for l in doc['layers']):,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    acc = doc["accuracy"]
    lines.append(f"accuracy: dense float {100 * acc['dense_float']:.1f}%, dense int8 {100 * acc['dense_int8']:.1f}%, "
                 f"compressed int8 {100 * acc['compressed_int8']:.1f}% "
                 f"({100 * (acc['compressed_int8'] - acc['dense_int8']):+.1f} pt)   "
                 f"time {doc['seconds']:.0f} s")
    if "budget" in doc:
        lines += format_budget(doc["budget"])
    return "\n".join(lines)


def format_budget(budget: dict[str, Any]) -> list[str]:
    """What a [budget] asked, what the allocation predicted and what the compressed model's plan predicts."""
    where = f" on {budget['board']} ({budget['optimize']})" if budget["board"] else ""
    lines = [f"budget{where}; predicted by the planner's cost model (instructions, not cycles):"]
    for key, target in budget["targets"].items():
        if target is None:
            continue
        final = budget["compressed"]["predicted"][key]
        lines.append(f"  {key}: at most {target:g} of dense {budget['dense'][key]:,} -> allocated "
                     f"{budget['predicted'][key]:,} ({budget['predicted_fraction'][key]:.3f}), compressed model "
                     f"{final:,} ({final / budget['dense'][key]:.3f})")
    chosen = ", ".join(f"{layer['name']} prune {layer['prune']:g} unify {layer['unify']:g}"
                       for layer in budget["layers"])
    lines.append(f"  ratios chosen (loss proxy {budget['loss_proxy']:.3f}): {chosen}")
    return lines
