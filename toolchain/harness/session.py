"""`munify run`: drive a built firmware through the device protocol with seeded inputs, check every output
(and with `layers=True` every layer's output) bit-exact against the reference executor, and measure latency,
per-layer instruction counts and memory.

Timing: the runner converts the firmware's ticks to its unit (`runner.count`). Under QEMU `-icount shift=0`
one instruction takes exactly 1 ns of virtual time, so ticks become retired instructions:
instructions = ticks * 1e9 / tick_hz (40 per tick at 25 MHz). Real boards report core cycles.
With `exact_counts`, QEMU runs also carry the instruction-count plugin's exact figures (runners/insn_count.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..boards import Board
from ..build import BuildResult
from ..codegen.names import label
from ..errors import MunifyError
from ..report import ExactInstructions, LayerCount, Latency, MemoryUse, Mismatch, RunReport
from ..runners import runner_for
from ..runners.insn_count import ExactCounts
from ..runners.qemu import QemuProcess
from .protocol import DeviceClient, DeviceInfo, Inference
from .transport import DeviceError

FAULT_EXIT_STATUS = 3  # firmware/ports/cortex-m/startup.c
COMMAND_TIMEOUT = 300.0
EXACT_COUNTS_DEFAULT = True  # QEMU runs load the instruction-count plugin unless told not to


@dataclass(frozen=True)
class Case:
    """One input with the outputs the device must produce: the model output and, optionally, per-layer tensors
    keyed by firmware layer index."""

    data: bytes
    output: bytes
    layers: dict[int, tuple[str, bytes]]  # layer index -> (IR tensor name, expected bytes)


def _first_mismatch(index: int, tensor: str, layer: str | None, expected: bytes, got: bytes) -> Mismatch | None:
    if len(expected) != len(got):
        raise DeviceError(f"{'layer ' + repr(layer) if layer else 'the output'}: the device sent {len(got)} bytes, "
                          f"the reference has {len(expected)}; the firmware and the model disagree, rebuild")
    want = np.frombuffer(expected, np.int8)
    have = np.frombuffer(got, np.int8)
    if np.array_equal(want, have):
        return None
    diff = np.flatnonzero(want != have)
    first = int(diff[0])
    return Mismatch(index, tensor, layer, first, int(want[first]), int(have[first]), int(diff.size))


class Session:
    """A running firmware and the checks made against it."""

    def __init__(self, client: DeviceClient, info: DeviceInfo, count: Callable[[int, int], int]):
        self.client = client
        self.info = info
        self.names = [name for name, _ in info.layers]
        self.count = count  # (ticks, tick_hz) -> the runner's time unit
        self.mismatches: list[Mismatch] = []
        self.latencies: list[int] = []

    def check_case(self, index: int, case: Case) -> Inference:
        self.client.load(self.info.encode_input(case.data))
        result = self.client.infer(1, 0)
        self.latencies.append(self.count(result.ticks_sum, result.tick_hz))
        found = _first_mismatch(index, "output", None, case.output, result.output)
        if found:
            self.mismatches.append(found)
        if case.layers:
            self._check_layers(index, case)
        return result

    def _check_layers(self, index: int, case: Case) -> None:
        self.client.trace("tensors")
        try:
            traced = self.client.infer(1, 0)
        finally:
            self.client.trace("off")
        for layer in sorted(case.layers):
            tensor, expected = case.layers[layer]
            if layer not in traced.tensors:
                raise DeviceError(f"the firmware did not report layer {layer} ('{self.names[layer]}')")
            found = _first_mismatch(index, tensor, self.names[layer], expected, traced.tensors[layer])
            if found:
                self.mismatches.append(found)
                return  # the first differing layer is the one to look at

    def layer_instructions(self) -> list[int]:
        """Per-layer instruction counts of one more inference of the last loaded input."""
        self.client.trace("ticks")
        try:
            traced = self.client.infer(1, 0)
        finally:
            self.client.trace("off")
        return [self.count(t, traced.tick_hz) for t in traced.layer_ticks]


def _check_info(info: DeviceInfo, cases: list[Case]) -> None:
    if cases and (len(cases[0].data) != info.input_bytes or len(cases[0].output) != info.output_bytes):
        raise DeviceError(f"the firmware's model takes {info.input_bytes} and returns {info.output_bytes} bytes, "
                          f"the reference {len(cases[0].data)} and {len(cases[0].output)}; rebuild the firmware")


def run_cases(build: BuildResult, make_cases: Callable[[DeviceInfo], list[Case]],
              layer_ops: dict[str, str], exact_counts: bool = EXACT_COUNTS_DEFAULT,
              predicted: dict[str, float] | None = None) -> RunReport:
    """Boot the firmware of `build`, run the cases `make_cases` derives from the firmware's own description,
    stop the firmware and report. `layer_ops` maps firmware layer names to IR op types for the report;
    `exact_counts` adds the QEMU plugin's instruction counts (QEMU boards only); `predicted` maps firmware
    layer names to the plan's predicted instructions."""
    board: Board = build.board
    runner = runner_for(board, build.elf)
    exact = None
    if exact_counts and isinstance(runner, QemuProcess):
        runner.count_exactly()
    with runner as transport:
        try:
            client = DeviceClient(transport, timeout=COMMAND_TIMEOUT)
            if runner.boots_on_start:
                client.wait_ready()
            else:
                client.sync()
            info = client.info()
            cases = make_cases(info)
            _check_info(info, cases)
            session = Session(client, info, runner.count)
            for index, case in enumerate(cases):
                session.check_case(index, case)
            counts = session.layer_instructions() if cases else []
            stack_used = client.info().stack_used
            client.exit(0)
            status = runner.wait_exit()
            if status == 0 and isinstance(runner, QemuProcess):
                exact = runner.exact_counts(len(info.layers))
        except DeviceError as exc:
            raise _explain(exc, runner.exit_status()) from None
    if status != 0:
        raise DeviceError(f"the firmware exited with status {status} instead of 0")
    report = _report(build, info, session, counts, stack_used, layer_ops, len(cases), runner.time_unit, exact,
                     predicted or {})
    return _with_runner_details(report, runner)


def _with_runner_details(report: RunReport, runner) -> RunReport:
    """Real-board runners add the clock and the latency in ms (runners/serial_port.py, runners/ssh.py)."""
    details = getattr(runner, "report_details", None)
    if details is None:
        return report
    return dataclasses.replace(report, runner=runner.board.runner,
                               extra={**report.extra, **details(report.latency.per_inference)})


def _explain(error: DeviceError, status: int | None) -> DeviceError:
    """Add how the firmware stopped, when it did, to a protocol error."""
    if status is None:
        return error
    if status == FAULT_EXIT_STATUS:
        return DeviceError(f"the firmware crashed (CPU fault, exit status {status}): {error}")
    return DeviceError(f"the firmware stopped with exit status {status}: {error}")


def _report(build: BuildResult, info: DeviceInfo, session: Session, counts: list[int], stack_used: int,
            layer_ops: dict[str, str], n_inputs: int, time_unit: str, exact: ExactCounts | None,
            predicted: dict[str, float]) -> RunReport:
    latencies = session.latencies or [0]
    exact_latency = exact and ExactInstructions(exact.mean, min(exact.per_inference), max(exact.per_inference),
                                                exact.per_inference[-1])
    latency = Latency(round(sum(latencies) / len(latencies)), min(latencies), max(latencies), time_unit,
                      exact_latency)
    exact_layers = exact.layers if exact else [None] * len(counts)
    macs = {label(name): n for name, n in build.layer_macs.items()}  # the firmware reports labels of names
    layers = [LayerCount(name, layer_ops.get(name, ""), kernel, count, macs.get(name, 0), layer_exact,
                         predicted.get(name))
              for (name, kernel), count, layer_exact in zip(info.layers, counts, exact_layers)]
    sizes = build.sizes
    memory = MemoryUse(sizes.flash_bytes, sizes.weights_bytes, sizes.code_bytes, sizes.static_ram_bytes,
                       sizes.arena_bytes, stack_used)
    return RunReport(model=build.model_name, board=build.board.name, inputs=n_inputs,
                     bit_exact=not session.mismatches, mismatches=session.mismatches,
                     latency=latency, layers=layers, memory=memory)


# ---- cases from an IR graph -----------------------------------------------------------------------

def graph_cases(graph, n: int, seed: int, layers: bool, layer_names: list[str] | None = None,
                given: list[np.ndarray] | None = None) -> list[Case]:
    """Seeded inputs (or the `given` int8 input tensors) and the reference's outputs; with `layers`, the expected
    output of every firmware layer whose name is an IR op (layer_names in firmware order: `codegen.names.label`
    of the op names)."""
    from ..inputs import draw_inputs
    from ..ir import reference

    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise MunifyError(f"model '{graph.name}' has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs; "
                          "the firmware runs models with one input and one output")
    op_outputs = {label(op.name): op.outputs[0] for op in graph.ops}
    cases = []
    for inputs in ([[x] for x in given] if given is not None else draw_inputs(graph, n, seed)):
        if layers:
            values = reference.run_all(graph, inputs)
            output = values[graph.outputs[0]]
            expected = {i: (op_outputs[name], _bytes(values[op_outputs[name]]))
                        for i, name in enumerate(layer_names or []) if name in op_outputs}
        else:
            output = reference.run(graph, inputs)[0]
            expected = {}
        cases.append(Case(_bytes(inputs[0]), _bytes(output), expected))
    return cases


def _bytes(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array).astype(np.int8, copy=False).tobytes()


def run_model(model_path: Path, board: Board, build_dir: Path, n_inputs: int, seed: int, layers: bool = False,
              optimize: str = "balanced", exact_counts: bool = EXACT_COUNTS_DEFAULT,
              inputs: list[np.ndarray] | None = None, model_id: str | None = None) -> RunReport:
    """Build (when the model, board, options, model id or munify changed) and run `model_path` on `board`, on
    `n_inputs` seeded inputs or on the given int8 `inputs`."""
    from ..build import build_model, is_up_to_date, load_result
    from ..ir import load

    graph = load(model_path)
    if not is_up_to_date(model_path, board, build_dir, optimize, model_id):
        build_model(model_path, board, build_dir, optimize, model_id)
    build = load_result(build_dir, board)
    op_types = {label(op.name): op.type for op in graph.ops}
    return run_cases(build, lambda info: graph_cases(graph, n_inputs, seed, layers, [n for n, _ in info.layers],
                                                     inputs), op_types, exact_counts,
                     planned_instructions(graph, board, optimize))


def planned_instructions(graph, board: Board, optimize: str) -> dict[str, float]:
    """Firmware layer name -> the instructions the plan predicts (the same deterministic plan the build used)."""
    from ..plan.planner import make_plan

    return {label(layer.name): layer.cost for layer in make_plan(graph, board.features, optimize).layers}
