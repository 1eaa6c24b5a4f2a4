"""`quantize_model(...) -> QuantizedModel`: BN folding, calibration, optional QAT, export to the IR."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import torch
from torch import nn

from ..compress.structure import LayerStructure, get_layer
from ..errors import MunifyError
from ..ir import Graph, reference, save
from .capture import ExportError, Program, capture
from .export import ExportReport, export_graph
from .program import QuantProgram, deployed_matrix
from .qat import batch_inputs, calibrate, finetune
from .scheme import ActQuant, round_half_away, to_int8

MODES = ("ptq", "qat")
REFERENCE_BATCH = 64  # inputs per reference call: the reference's im2col grows with the batch


@dataclass
class QuantizedModel:
    """The int8 model: the IR graph and the fake-quantized torch program it was exported from."""

    graph: Graph
    program: QuantProgram
    report: ExportReport
    history: dict = field(default_factory=dict)

    def export(self, path: str | Path) -> None:
        save(self.graph, path)

    @property
    def input_quant(self) -> ActQuant:
        return self.program.quant_of("input")

    def quantize_input(self, x: torch.Tensor) -> np.ndarray:
        """int8 codes of a float input batch, in the IR's layout (NHWC for images)."""
        codes = to_int8(x, self.input_quant)
        return (codes.permute(0, 2, 3, 1) if codes.dim() == 4 else codes).contiguous().numpy()

    def reference_outputs(self, x: torch.Tensor) -> np.ndarray:
        """int8 outputs of the integer reference executor on the IR, one row per input."""
        rows = []
        for start in range(0, len(x), REFERENCE_BATCH):
            batch = self.quantize_input(x[start:start + REFERENCE_BATCH])
            (out,) = reference.run(batched_graph(self.graph, len(batch)), [batch])
            rows.append(out.reshape(len(batch), -1))
        return np.concatenate(rows)

    @torch.no_grad()
    def fake_quant_outputs(self, x: torch.Tensor, exact: bool = True) -> np.ndarray:
        """int8 codes of the fake-quantized torch program's output (it lands on the output grid).

        exact=True requantizes with TFLite's fixed-point multipliers (matches the reference code for code);
        exact=False is the float straight-through simulation QAT trains (rounding ties may differ by a code).
        """
        self.program.eval()
        self.program.exact = exact
        try:
            y = self.program(x)
        finally:
            self.program.exact = True
        quant = self.program.quant_of(self.program.program.output)
        codes = round_half_away(y / quant.scale) + quant.zero_point
        return codes.reshape(len(x), -1).numpy().astype(np.int64)

    def accuracy(self, loader: Iterable) -> float:
        """Top-1 accuracy of the integer reference on the IR."""
        correct = total = 0
        for batch in loader:
            x, y = batch[0], batch[1]
            correct += int(np.sum(self.reference_outputs(x).argmax(axis=1) == y.numpy()))
            total += len(y)
        return correct / max(total, 1)

    def agreement(self, loader: Iterable, exact: bool = True) -> float:
        """Fraction of inputs on which the integer reference and the fake-quant model pick the same class
        (`exact` as in `fake_quant_outputs`)."""
        same = total = 0
        for batch in loader:
            x = batch_inputs(batch)
            same += int(np.sum(self.reference_outputs(x).argmax(axis=1) ==
                               self.fake_quant_outputs(x, exact).argmax(axis=1)))
            total += len(x)
        return same / max(total, 1)


def quantize_model(model: nn.Module, structures: Mapping[str, LayerStructure] | Iterable[LayerStructure],
                   calib_loader: Iterable, mode: str = "ptq", train_loader: Iterable | None = None,
                   epochs: int = 0, *, lr: float = 1e-4, calib_batches: int | None = None,
                   name: str | None = None) -> QuantizedModel:
    """Quantize a (compressed) torch model to int8 and export it to the IR, keeping its block structure.

    The model is not modified (QAT trains a copy). `structures` maps module names to LayerStructure and may be
    empty (a dense model). `mode="qat"` fine-tunes for `epochs` on `train_loader` before export.
    """
    if mode not in MODES:
        raise MunifyError(f"quantization mode '{mode}' is unknown; use 'ptq' or 'qat'")
    if mode == "qat" and (train_loader is None or epochs < 1):
        raise MunifyError("QAT needs a training loader and epochs >= 1; pass train_loader and epochs, or use "
                          "mode='ptq'")
    structures = _structure_dict(structures)
    model = copy.deepcopy(model).eval()
    program = capture(model, _example(calib_loader))
    prog = QuantProgram(model, program, _structures_by_step(model, program, structures))
    history = {"calibration_samples": calibrate(prog, calib_loader, calib_batches)}
    if mode == "qat":
        history["qat_loss"] = finetune(prog, structures, train_loader, epochs, lr)
    prog.eval()
    prog.fake_quant = True
    graph, report = export_graph(prog, name or type(model).__name__, {"producer": "munify", "quantization": mode})
    return QuantizedModel(graph, prog, report, history)


def _structure_dict(structures) -> dict[str, LayerStructure]:
    if structures is None:
        return {}
    if isinstance(structures, Mapping):
        return dict(structures)
    return {s.name: s for s in structures}


def _example(loader: Iterable) -> torch.Tensor:
    for batch in loader:
        return batch_inputs(batch)[:1]
    raise MunifyError("the calibration loader is empty; pass a few hundred representative inputs")


def _structures_by_step(model: nn.Module, program: Program, structures: dict[str, LayerStructure]) -> dict:
    """step name -> LayerStructure, after checking that each structure fits the layer it is exported as."""
    by_step = {}
    for layer_name, structure in structures.items():
        module = get_layer(model, layer_name)
        steps = [s for s in program.steps if s.module is module and s.kind in ("conv", "fc")]
        if not steps:
            raise ExportError(f"layer '{layer_name}' has a block structure but the exported program does not "
                              "use it as a Conv2d/Linear")
        for step in steps:
            op_type = "FULLY_CONNECTED" if step.kind == "fc" else step.attrs["op_type"]
            if structure.op_type != op_type:
                raise ExportError(f"layer '{layer_name}': structure is for {structure.op_type}, the layer "
                                  f"exports as {op_type}")
            if step.column_order is not None:
                raise ExportError(f"layer '{layer_name}' is structured but reads a flatten in NCHW order; "
                                  "flatten with toolchain.models.FlattenNHWC so its blocks keep their columns")
            structure.check_fits(*deployed_matrix(step)[0].shape)
            by_step[step.name] = structure
    return by_step


def batched_graph(graph: Graph, n: int) -> Graph:
    """The same graph over a batch of n (the reference kernels are batch-generic)."""
    if n == 1:
        return graph
    tensors = {name: t if t.is_constant else t.replace(shape=(n,) + tuple(t.shape[1:]))
               for name, t in graph.tensors.items()}
    return graph.replace(tensors=tensors)
