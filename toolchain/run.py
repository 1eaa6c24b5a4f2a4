"""`munify run`: build a model for a board when anything changed, run it with seeded (or given) inputs, check
every output (and with `layers=True` every layer's output) bit-exact against the reference executor, and report
latency, per-layer instruction counts, the plan's predictions and memory. With `exact_counts`, QEMU runs also
carry the instruction-count plugin's exact figures (runners/insn_count.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from .boards import Board
from .build import BuildResult, build_model, is_up_to_date, load_result
from .codegen.names import label
from .errors import MunifyError
from .harness.protocol import DeviceInfo
from .harness.session import Case
from .inputs import draw_inputs
from .ir import Graph, load, reference
from .plan import make_plan
from .report import ExactInstructions, LayerCount, Latency, MemoryUse, RunReport
from .runners.run import EXACT_COUNTS_DEFAULT, FirmwareRun, run_firmware


def run_model(model_path: Path, board: Board, build_dir: Path, n_inputs: int, seed: int, layers: bool = False,
              optimize: str = "balanced", exact_counts: bool = EXACT_COUNTS_DEFAULT,
              inputs: list[np.ndarray] | None = None, model_id: str | None = None) -> RunReport:
    """Build (when the model, board, options, model id or munify changed) and run `model_path` on `board`, on
    `n_inputs` seeded inputs or on the given int8 `inputs`."""
    graph = load(model_path)
    if not is_up_to_date(model_path, board, build_dir, optimize, model_id):
        build_model(model_path, board, build_dir, optimize, model_id)
    build = load_result(build_dir, board)
    op_types = {label(op.name): op.type for op in graph.ops}
    plan = make_plan(graph, board.features, optimize, cpu=board.cpu)  # the same deterministic plan the build used
    written = {label(layer.name): layer.output.tensor for layer in plan.layers}
    return run_cases(build, lambda info: graph_cases(graph, n_inputs, seed, layers, [n for n, _ in info.layers],
                                                     inputs, written), op_types, exact_counts,
                     {label(layer.name): layer.cost for layer in plan.layers})


def run_cases(build: BuildResult, make_cases: Callable[[DeviceInfo], list[Case]],
              layer_ops: dict[str, str], exact_counts: bool = EXACT_COUNTS_DEFAULT,
              predicted: dict[str, float] | None = None) -> RunReport:
    """Boot the firmware of `build`, run the cases `make_cases` derives from the firmware's own description,
    stop the firmware and report. `layer_ops` maps firmware layer names to IR op types for the report;
    `exact_counts` adds the QEMU plugin's instruction counts (QEMU boards only); `predicted` maps firmware
    layer names to the plan's predicted instructions."""
    run = run_firmware(build.board, build.elf, make_cases, exact_counts)
    report = _report(build, run, layer_ops, predicted or {})
    details = run.runner.report_details(report.latency.per_inference)
    if not details:
        return report
    return dataclasses.replace(report, runner=build.board.runner, extra={**report.extra, **details})


def _report(build: BuildResult, run: FirmwareRun, layer_ops: dict[str, str],
            predicted: dict[str, float]) -> RunReport:
    session, exact = run.session, run.exact
    latencies = session.latencies or (0,)
    exact_latency = exact and ExactInstructions(exact.mean, min(exact.per_inference), max(exact.per_inference),
                                                exact.per_inference[-1])
    latency = Latency(round(sum(latencies) / len(latencies)), min(latencies), max(latencies), run.runner.time_unit,
                      exact_latency)
    counts = session.layer_counts
    exact_layers = exact.layers if exact else [None] * len(counts)
    macs = {label(name): n for name, n in build.layer_macs.items()}  # the firmware reports labels of names
    layers = [LayerCount(name, layer_ops.get(name, ""), kernel, count, macs.get(name, 0), layer_exact,
                         predicted.get(name))
              for (name, kernel), count, layer_exact in zip(session.info.layers, counts, exact_layers)]
    sizes = build.sizes
    memory = MemoryUse(sizes.flash_bytes, sizes.weights_bytes, sizes.code_bytes, sizes.static_ram_bytes,
                       sizes.arena_bytes, session.stack_used)
    return RunReport(model=build.model_name, board=build.board.name, inputs=session.cases,
                     bit_exact=not session.mismatches, mismatches=list(session.mismatches),
                     latency=latency, layers=layers, memory=memory)


# ---- cases from an IR graph -----------------------------------------------------------------------

def graph_cases(graph: Graph, n: int, seed: int, layers: bool, layer_names: list[str] | None = None,
                given: list[np.ndarray] | None = None, written: dict[str, str] | None = None) -> list[Case]:
    """Seeded inputs (or the `given` int8 input tensors) and the reference's outputs; with `layers`, the expected
    output of every firmware layer whose name is an IR op (layer_names in firmware order: `codegen.names.label`
    of the op names): its op's output, or the tensor `written` names for it (the plan's `LayerPlan.output`: a
    conv fused with its pool writes the pool's output)."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise MunifyError(f"model '{graph.name}' has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs; "
                          "the firmware runs models with one input and one output")
    op_outputs = {label(op.name): op.outputs[0] for op in graph.ops} | dict(written or {})
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

