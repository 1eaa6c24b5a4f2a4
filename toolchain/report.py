"""RunReport: what `munify run` measured (bit-exactness, latency in instructions, per-layer counts, memory),
as JSON and as a readable table."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from .fsutil import atomic_write_text


@dataclass(frozen=True)
class Mismatch:
    input: int  # index of the input that produced it
    tensor: str  # "output" or the IR tensor of the layer
    layer: str | None  # firmware layer name, None for the model output
    index: int  # first differing element (flat)
    expected: int
    got: int
    count: int  # differing elements in this tensor


@dataclass(frozen=True)
class Latency:
    per_inference: int  # mean over the inputs
    min: int
    max: int
    unit: str = "instructions"


@dataclass(frozen=True)
class LayerCount:
    name: str
    op: str
    kernel: str
    count: int  # in the latency unit: instructions (qemu-system), ns (qemu-user), cycles (real boards)
    macs: int = 0  # multiply-accumulates the plan counted; shown in the table, not part of the JSON


@dataclass(frozen=True)
class MemoryUse:
    flash_bytes: int
    weights_bytes: int
    code_bytes: int
    static_ram_bytes: int
    arena_bytes: int
    stack_bytes: int  # high-water mark measured on the device


@dataclass(frozen=True)
class RunReport:
    model: str
    board: str
    inputs: int
    bit_exact: bool
    mismatches: list[Mismatch]
    latency: Latency
    layers: list[LayerCount]
    memory: MemoryUse
    runner: str = "qemu"
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        doc = {
            "model": self.model,
            "board": self.board,
            "runner": self.runner,
            "inputs": self.inputs,
            "bit_exact": self.bit_exact,
            "mismatches": [dataclasses.asdict(m) for m in self.mismatches],
            "latency": {"unit": self.latency.unit, "per_inference": self.latency.per_inference,
                        "min": self.latency.min, "max": self.latency.max},
            "layers": [{"name": layer.name, "op": layer.op, "kernel": layer.kernel, "count": layer.count}
                       for layer in self.layers],
            "memory": dataclasses.asdict(self.memory),
        }
        doc.update(self.extra)
        return doc

    def write_json(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(self.to_json(), indent=1) + "\n")


def _n(value: int) -> str:
    return f"{value:,}"


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header), line(["-" * w for w in widths])] + [line(row) for row in rows]


def _layer_table(layers: list[LayerCount], unit: str) -> list[str]:
    total = sum(layer.count for layer in layers) or 1
    header = ["layer", "op", "kernel", unit, "%", "MACs", f"{unit}/MAC"]
    rows = [[layer.name, layer.op, layer.kernel, _n(layer.count), f"{100 * layer.count / total:.1f}",
             _n(layer.macs) if layer.macs else "-", f"{layer.count / layer.macs:.2f}" if layer.macs else "-"]
            for layer in layers]
    return _table(header, rows, right={3, 4, 5, 6})


def _describe(m: Mismatch) -> str:
    where = f"layer '{m.layer}' (tensor '{m.tensor}')" if m.layer else "the output"
    return (f"input {m.input}: {where} differs in {m.count} element(s); first at [{m.index}]: "
            f"expected {m.expected}, got {m.got}")


def render(report: RunReport) -> str:
    lines = [f"munify run: {report.model} on {report.board} ({report.runner}), {report.inputs} input(s)"]
    if report.bit_exact:
        lines.append(f"bit-exact: yes ({report.inputs}/{report.inputs} match the reference)")
    else:
        lines.append(f"bit-exact: NO ({len(report.mismatches)} mismatch(es))")
        lines += ["  " + _describe(m) for m in report.mismatches[:5]]
    lat = report.latency
    lines.append(f"latency: {_n(lat.per_inference)} {lat.unit} per inference "
                 f"(min {_n(lat.min)}, max {_n(lat.max)})")
    if report.layers:
        lines.append("")
        lines += _layer_table(report.layers, report.latency.unit)
    mem = report.memory
    lines.append("")
    lines.append(f"memory: flash {_n(mem.flash_bytes)} B (weights {_n(mem.weights_bytes)}, code "
                 f"{_n(mem.code_bytes)}) | static RAM {_n(mem.static_ram_bytes)} B (arena {_n(mem.arena_bytes)})"
                 f" | stack {_n(mem.stack_bytes)} B")
    return "\n".join(lines)
