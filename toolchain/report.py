"""RunReport: what `munify run` measured (bit-exactness, latency in instructions, per-layer counts, memory),
as JSON and as a readable table.

Two instruction figures can sit side by side: `count`/`latency` from the firmware's tick timer (under QEMU
`-icount shift=0` ticks convert to instructions at the timer's resolution; under qemu-user they are host ns),
and `instructions_exact` from QEMU's instruction-count plugin (runners/insn_count.py), None without it.
Beside them, `predicted`: the instructions the plan's cost model predicts per layer (`LayerPlan.cost`, what the
planner ranked the kernels by), and how far the measurement is from it (`RunReport.prediction`)."""

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
class ExactInstructions:
    """Executed instructions per inference, counted by the QEMU plugin (exact; not cycles)."""

    per_inference: int  # mean over the inputs
    min: int
    max: int
    last: int  # the last input's, which the per-layer exact counts split


@dataclass(frozen=True)
class Latency:
    per_inference: int  # mean over the inputs
    min: int
    max: int
    unit: str = "instructions"
    instructions_exact: ExactInstructions | None = None


@dataclass(frozen=True)
class LayerCount:
    name: str
    op: str
    kernel: str
    count: int  # in the latency unit: instructions (qemu-system), ns (qemu-user), cycles (real boards)
    macs: int = 0  # multiply-accumulates the plan counted; shown in the table, not part of the JSON
    instructions_exact: int | None = None  # the plugin's, from the layer's entry to the next layer's (or hal_ticks)
    predicted: float | None = None  # the plan's predicted instructions (LayerPlan.cost), None when not planned


PREDICTION_TOLERANCE = 0.05  # the cost model's target: measured within 5% of predicted per layer


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

    @property
    def instructions(self) -> int | None:
        """Instructions per inference: the exact count where the plugin ran, else the tick figure when it is
        in instructions, else None (host time, real-board cycles)."""
        if self.latency.instructions_exact is not None:
            return self.latency.instructions_exact.per_inference
        return self.latency.per_inference if self.latency.unit == "instructions" else None

    def measured_instructions(self, layer: LayerCount) -> int | None:
        """A layer's instructions: the exact count where the plugin ran, else the tick figure in instructions."""
        if layer.instructions_exact is not None:
            return layer.instructions_exact
        return layer.count if self.latency.unit == "instructions" else None

    def prediction(self) -> dict | None:
        """Predicted against measured instructions, in total and per layer (None when nothing was predicted).
        A deviation is measured / predicted - 1; layers predicted to run no code are not compared."""
        if all(layer.predicted is None for layer in self.layers):
            return None
        predicted = round(sum(layer.predicted or 0.0 for layer in self.layers))
        measured = self.instructions
        deviations = {layer.name: self.measured_instructions(layer) / layer.predicted - 1 for layer in self.layers
                      if layer.predicted and self.measured_instructions(layer) is not None}
        worst = max(deviations, key=lambda name: abs(deviations[name]), default=None)
        return {"predicted": predicted, "measured": measured,
                "deviation": round(measured / predicted - 1, 4) if measured is not None and predicted else None,
                "tolerance": PREDICTION_TOLERANCE, "layers_compared": len(deviations),
                "layers_within_tolerance": sum(abs(d) <= PREDICTION_TOLERANCE for d in deviations.values()),
                "worst_layer": worst, "worst_deviation": round(deviations[worst], 4) if worst else None}

    def to_json(self) -> dict:
        exact = self.latency.instructions_exact
        doc = {
            "model": self.model,
            "board": self.board,
            "runner": self.runner,
            "inputs": self.inputs,
            "bit_exact": self.bit_exact,
            "mismatches": [dataclasses.asdict(m) for m in self.mismatches],
            "latency": {"unit": self.latency.unit, "per_inference": self.latency.per_inference,
                        "min": self.latency.min, "max": self.latency.max,
                        "instructions_exact": exact and dataclasses.asdict(exact)},
            "layers": [{"name": layer.name, "op": layer.op, "kernel": layer.kernel, "count": layer.count,
                        "instructions_exact": layer.instructions_exact,
                        "predicted": None if layer.predicted is None else round(layer.predicted)}
                       for layer in self.layers],
            "prediction": self.prediction(),
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


def _layer_table(report: RunReport) -> list[str]:
    """Per layer: the tick figure, its share, MACs and per MAC; with the plugin also the exact instructions
    and exact instructions per MAC; with a plan the predicted instructions and the measured deviation."""
    layers, unit = report.layers, report.latency.unit
    total = sum(layer.count for layer in layers) or 1
    exact = any(layer.instructions_exact is not None for layer in layers)
    predicted = any(layer.predicted is not None for layer in layers)
    header = ["layer", "op", "kernel", unit, "%", "MACs", f"{unit}/MAC"]
    if exact:
        header += ["exact instr", "exact/MAC"]
    if predicted:
        header += ["predicted", "vs pred"]
    rows = []
    for layer in layers:
        row = [layer.name, layer.op, layer.kernel, _n(layer.count), f"{100 * layer.count / total:.1f}",
               _n(layer.macs) if layer.macs else "-", f"{layer.count / layer.macs:.2f}" if layer.macs else "-"]
        if exact:
            row += _exact_cells(layer)
        if predicted:
            row += _predicted_cells(layer, report.measured_instructions(layer))
        rows.append(row)
    return _table(header, rows, right=set(range(3, len(header))))


def _predicted_cells(layer: LayerCount, measured: int | None) -> list[str]:
    if layer.predicted is None:
        return ["-", "-"]
    deviation = f"{100 * (measured / layer.predicted - 1):+.1f}%" if layer.predicted and measured is not None else "-"
    return [_n(round(layer.predicted)), deviation]


def _prediction_line(prediction: dict) -> str:
    head = f"predicted by the plan's cost model: {_n(prediction['predicted'])} instructions per inference"
    if prediction["deviation"] is None:
        return head + " (not compared: this run does not measure instructions)"
    line = (f"{head}; measured {_n(prediction['measured'])} ({100 * prediction['deviation']:+.1f}%); "
            f"{prediction['layers_within_tolerance']}/{prediction['layers_compared']} layers within "
            f"±{100 * prediction['tolerance']:.0f}%")
    if prediction["worst_layer"] is not None:
        line += f", furthest: {prediction['worst_layer']} ({100 * prediction['worst_deviation']:+.1f}%)"
    return line


def _exact_cells(layer: LayerCount) -> list[str]:
    if layer.instructions_exact is None:
        return ["-", "-"]
    per_mac = f"{layer.instructions_exact / layer.macs:.2f}" if layer.macs else "-"
    return [_n(layer.instructions_exact), per_mac]


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
    if lat.instructions_exact is not None:
        exact = lat.instructions_exact
        lines.append(f"exact instructions (QEMU plugin, not cycles): {_n(exact.per_inference)} per inference "
                     f"(min {_n(exact.min)}, max {_n(exact.max)})")
    if report.layers:
        lines.append("")
        lines += _layer_table(report)
        if report.prediction() is not None:
            lines.append(_prediction_line(report.prediction()))
    mem = report.memory
    lines.append("")
    lines.append(f"memory: flash {_n(mem.flash_bytes)} B (weights {_n(mem.weights_bytes)}, code "
                 f"{_n(mem.code_bytes)}) | static RAM {_n(mem.static_ram_bytes)} B (arena {_n(mem.arena_bytes)})"
                 f" | stack {_n(mem.stack_bytes)} B")
    return "\n".join(lines)
