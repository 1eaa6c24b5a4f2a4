"""`munify verify`: the reference executor against TensorFlow Lite Micro or LiteRT on seeded random inputs.

The reference runs on the imported IR, the interpreter on the original .tflite file, both on the same int8
inputs (`toolchain.inputs`). Per model output: how many elements differ and by how much at most. Against
LiteRT every intermediate activation is compared as well, naming the first op (in graph order) whose output
differs: that is where to look.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import MunifyError
from .importers import import_tflite
from .inputs import DEFAULT_SIGMA, draw_inputs
from .interpreters import make_interpreter
from .ir import Graph, reference


@dataclass
class TensorDiff:
    """Differences accumulated over all inputs for one tensor."""

    name: str
    elements: int = 0  # compared elements, over all inputs
    mismatches: int = 0
    max_abs_diff: int = 0

    def add(self, expected: np.ndarray, actual: np.ndarray) -> None:
        if expected.size != actual.size:
            raise MunifyError(f"tensor '{self.name}': the interpreter returned {actual.size} elements, the "
                              f"reference {expected.size}; the model and its IR disagree")
        diff = np.abs(expected.astype(np.int64).ravel() - actual.astype(np.int64).ravel())
        self.elements += diff.size
        self.mismatches += int(np.count_nonzero(diff))
        self.max_abs_diff = max(self.max_abs_diff, int(diff.max(initial=0)))


@dataclass
class VerifyReport:
    model: str
    against: str
    inputs: int
    seed: int
    outputs: list[TensorDiff]
    sigma: float = DEFAULT_SIGMA
    first_mismatch_op: str | None = None  # LiteRT only: first op whose output differs
    first_mismatch_op_type: str | None = None
    intermediates: list[TensorDiff] = field(default_factory=list)  # LiteRT only, in graph order
    single_rounding: tuple[str, ...] = ()  # op types the reference requantized with single rounding

    @property
    def mismatches(self) -> int:
        return sum(d.mismatches for d in self.outputs)

    @property
    def max_abs_diff(self) -> int:
        return max((d.max_abs_diff for d in self.outputs), default=0)

    @property
    def bit_exact(self) -> bool:
        return self.mismatches == 0 and self.first_mismatch_op is None

    def to_json(self) -> dict:
        doc = {"model": self.model, "against": self.against, "inputs": self.inputs, "seed": self.seed,
               "sigma": self.sigma,
               "mismatches": self.mismatches, "max_abs_diff": self.max_abs_diff, "bit_exact": self.bit_exact,
               "outputs": [vars(d) for d in self.outputs]}
        if self.first_mismatch_op is not None:
            doc["first_mismatch_op"] = self.first_mismatch_op
        return doc

    def summary(self) -> str:
        lines = [f"verify {self.model} against {self.against}: {self.inputs} inputs (seed {self.seed}, "
                 f"sigma {self.sigma:g})"]
        if self.single_rounding:
            lines.append(f"  (reference uses single rounding for {', '.join(self.single_rounding)}, as "
                         f"{self.against} does)")
        for d in self.outputs:
            lines.append(f"  output {d.name}: {d.mismatches} of {d.elements} elements differ "
                         f"(max |diff| {d.max_abs_diff})")
        if self.intermediates:
            compared = sum(1 for d in self.intermediates if d.elements)
            differing = sum(1 for d in self.intermediates if d.mismatches)
            lines.append(f"  intermediate tensors compared: {compared} of {len(self.intermediates)}, "
                         f"differing: {differing}")
        if self.first_mismatch_op is not None:
            lines.append(f"  first op whose output differs: {self.first_mismatch_op} ({self.first_mismatch_op_type})")
        lines.append("  bit-exact: " + ("yes" if self.bit_exact else "NO"))
        return "\n".join(lines)


def verify_model(model_path: str | Path, against: str = "tflm", n: int = 10, seed: int = 0,
                 sigma: float = DEFAULT_SIGMA) -> VerifyReport:
    """Compare the reference executor with `against` ('tflm' or 'litert') on `n` seeded inputs.

    `sigma` is the spread of the inputs around the zero point in quantization steps (see toolchain.inputs);
    wide inputs saturate classifiers but reach more rounding ties in the early layers.
    """
    model_path = Path(model_path)
    if model_path.suffix.lower() != ".tflite":
        raise MunifyError(f"{model_path}: verify needs the original .tflite model (the interpreters run it)")
    graph = import_tflite(model_path)
    with make_interpreter(against, model_path) as interpreter:
        report = VerifyReport(model_path.name, against, n, seed, [TensorDiff(name) for name in graph.outputs],
                              sigma=sigma, single_rounding=tuple(sorted(interpreter.single_rounding)))
        if interpreter.keeps_intermediates:
            report.intermediates = [TensorDiff(op.outputs[0]) for op in graph.ops]
        for inputs in draw_inputs(graph, n, seed, sigma):
            _compare_one(report, graph, interpreter, inputs)
    _name_first_mismatch(report, graph)
    return report


def _compare_one(report: VerifyReport, graph: Graph, interpreter, inputs: list[np.ndarray]) -> None:
    expected = reference.run_all(graph, inputs, single_rounding=interpreter.single_rounding)
    if interpreter.keeps_intermediates:
        _compare_intermediates(report, expected, interpreter.run_all(inputs))
        outputs = interpreter.last_outputs()
    else:
        outputs = interpreter.run(inputs)
    _compare_outputs(report, graph, expected, outputs)


def _compare_outputs(report: VerifyReport, graph: Graph, expected: dict, outputs: list[np.ndarray]) -> None:
    if len(outputs) != len(graph.outputs):
        raise MunifyError(f"the interpreter returned {len(outputs)} outputs, the IR declares "
                          f"{len(graph.outputs)}; the model and its IR disagree")
    for diff, name, actual in zip(report.outputs, graph.outputs, outputs):
        diff.add(expected[name], actual)


def _compare_intermediates(report: VerifyReport, expected: dict, actual: dict) -> None:
    """Tensors LiteRT cannot name unambiguously are skipped; `elements` stays 0 for them."""
    for diff in report.intermediates:
        if diff.name in actual:
            diff.add(expected[diff.name], actual[diff.name])


def _name_first_mismatch(report: VerifyReport, graph: Graph) -> None:
    for op, diff in zip(graph.ops, report.intermediates):
        if diff.mismatches:
            report.first_mismatch_op, report.first_mismatch_op_type = op.name, op.type
            return
