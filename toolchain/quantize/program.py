"""Run a captured program in torch: float (calibration), fake-quantized (QAT) or integer-exact (evaluation).

Fake quantization follows the TFLite int8 pipeline step by step: per-channel int8 weights with their block
structure, int32 biases at input_scale * weight_scale, every conv / fc / add output rounded onto its calibrated
int8 grid and clamped to its fused activation's int8 range, max pools and reshapes passing codes through,
average pools rounding the mean of the codes half away from zero. Gradients flow straight through the
rounding (inside the clamp range), which is what QAT trains.

Evaluated (eval mode, `exact=True`), conv / fc / add go one step further and requantize their exact integer
accumulators with TFLite's fixed-point multipliers (`toolchain.ir.arith`, double rounding), so the program
reproduces the integer reference on the exported IR code for code; any difference is an export bug.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..ir import Graph, Op, Tensor, arith, reference
from .capture import ExportError, Program, Step
from .fold import folded_parameters
from .scheme import (ActQuant, bias_scale, fake_quantize, quantize_bias, quantize_matrix, round_half_away,
                     weight_scales)


@dataclass
class LayerQuant:
    """The integer parameters of one conv/fc step."""

    codes: torch.Tensor  # float32 integer codes [out, reduction] in [-127, 127]
    scales: torch.Tensor  # float32 [out]
    bias_codes: torch.Tensor  # float64 integer codes [out] (int32 range)
    bias_scales: torch.Tensor  # float32 [out]


# TFLite's fixed int8 softmax output: probabilities in [0, 255/256]
SOFTMAX_QUANT = ActQuant(1.0 / 256, -128)


def deployed_matrix(step: Step) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight matrix [out, reduction] in deployment order, bias [out]) with BN folded in."""
    weight, bias = folded_parameters(step.module, step.bn)
    if step.kind == "fc":
        return (weight if step.column_order is None else weight[:, step.column_order]), bias
    if step.attrs["op_type"] == "DEPTHWISE_CONV_2D":
        return weight.reshape(weight.shape[0], -1), bias
    return weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1), bias


def _torch_weight(step: Step, matrix: torch.Tensor) -> torch.Tensor:
    if step.kind == "fc":
        return matrix
    o, i, kh, kw = step.module.weight.shape
    if step.attrs["op_type"] == "DEPTHWISE_CONV_2D":
        return matrix.reshape(o, i, kh, kw)
    return matrix.reshape(o, kh, kw, i).permute(0, 3, 1, 2)


class QuantProgram(nn.Module):
    """A captured model with per-value activation ranges; `fake_quant` switches float / int8 simulation."""

    def __init__(self, model: nn.Module, program: Program, structures: dict, ema_momentum: float = 0.9):
        super().__init__()
        self.model = model
        self.program = program
        self.structures = structures  # step name -> LayerStructure
        self.ranges: dict[str, list[float]] = {}  # owning value -> [min, max]
        self.owner = _quant_owners(program.steps)
        self.softmax_outputs = {step.output for step in program.steps if step.kind == "softmax"}
        self.fake_quant = False
        self.exact = True  # integer-exact requantization when fake-quantizing in eval mode
        self.observe = False  # record ranges: min/max (calibration) or EMA (QAT training)
        self.ema_momentum = ema_momentum

    # quantization parameters -----------------------------------------------------------------------------

    def quant_of(self, value: str) -> ActQuant:
        owner = self.owner[value]
        if owner in self.softmax_outputs:
            return SOFTMAX_QUANT
        if owner not in self.ranges:
            raise ExportError(f"value '{owner}' was never calibrated; give quantize_model a non-empty "
                              "calibration loader")
        return ActQuant.from_range(*self.ranges[owner])

    def layer_quant(self, step: Step, deployed: tuple[torch.Tensor, torch.Tensor] | None = None) -> LayerQuant:
        matrix, bias = deployed if deployed is not None else deployed_matrix(step)
        scales = weight_scales(matrix)
        structure = self.structures.get(step.name)
        kinds, bo, bi = (structure.kinds, structure.bo, structure.bi) if structure else (None, 1, 1)
        codes = quantize_matrix(matrix, scales, kinds, bo, bi)
        input_scale = self.quant_of(step.inputs[0]).scale
        return LayerQuant(codes, scales, quantize_bias(bias, input_scale, scales), bias_scale(input_scale, scales))

    # execution ---------------------------------------------------------------------------------------------

    @property
    def integer_exact(self) -> bool:
        return self.fake_quant and self.exact and not self.training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run_all(x)[self.program.output].to(x.dtype)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The output, or the input of a final softmax: what a cross-entropy loss trains on."""
        last = next(step for step in self.program.steps if step.output == self.program.output)
        values = self.run_all(x)
        return values[last.inputs[0] if last.kind == "softmax" else last.output]

    def run_all(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every value of the program by name (torch layout). Integer-exact runs use float64 throughout."""
        if self.integer_exact:
            x = x.detach().to(torch.float64)
        env: dict[str, torch.Tensor] = {}
        for step in self.program.steps:
            inputs = [env[name] for name in step.inputs] or [x]
            if self.integer_exact and step.kind in ("conv", "fc", "add", "softmax"):
                env[step.output] = getattr(self, f"_exact_{step.kind}")(step, *inputs)
            else:
                env[step.output] = self._finish(step, getattr(self, f"_run_{step.kind}")(step, *inputs))
        return env

    def _finish(self, step: Step, out: torch.Tensor) -> torch.Tensor:
        """Apply the fused activation (float) or round onto the output grid (fake quant); observe ranges."""
        if self.fake_quant and step.kind == "avgpool":
            return out  # already rounded and clamped on the codes
        if self.observe and step.owns_quant:
            self._record(step.output, _activate(out, step.activation).detach())
        if not self.fake_quant:
            return _activate(out, step.activation)
        quant = self.quant_of(step.output)
        return fake_quantize(out, quant, quant.bounds(step.activation))

    def _record(self, value: str, x: torch.Tensor) -> None:
        low, high = float(x.min()), float(x.max())
        old = self.ranges.get(value)
        if old is None:
            self.ranges[value] = [low, high]
        elif self.fake_quant:  # QAT: exponential moving average of batch ranges
            m = self.ema_momentum
            self.ranges[value] = [m * old[0] + (1 - m) * low, m * old[1] + (1 - m) * high]
        else:
            self.ranges[value] = [min(old[0], low), max(old[1], high)]

    # float and straight-through fake-quant steps ---------------------------------------------------------

    def _run_input(self, step: Step, x: torch.Tensor) -> torch.Tensor:
        return x

    def _run_conv(self, step: Step, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self._weight_and_bias(step)
        return _conv(step, x, _torch_weight(step, weight), bias)

    def _run_fc(self, step: Step, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self._weight_and_bias(step)
        return F.linear(x, weight, bias)

    def _weight_and_bias(self, step: Step) -> tuple[torch.Tensor, torch.Tensor]:
        matrix, bias = deployed_matrix(step)
        if not self.fake_quant:
            return matrix, bias
        lq = self.layer_quant(step, (matrix, bias))
        weight = lq.codes * lq.scales[:, None]
        input_scale = np.float64(self.quant_of(step.inputs[0]).scale)
        bias_q = (lq.bias_codes * (input_scale * lq.scales.to(torch.float64))).to(bias.dtype)
        return _straight_through(matrix, weight), _straight_through(bias, bias_q)

    def _run_maxpool(self, step: Step, x: torch.Tensor) -> torch.Tensor:
        return step.module(x)

    def _run_avgpool(self, step: Step, x: torch.Tensor) -> torch.Tensor:
        pooled = step.module(x)
        if not self.fake_quant:
            return pooled
        quant = self.quant_of(step.output)
        codes = torch.round(x.detach() / quant.scale) + quant.zero_point
        mean = round_half_away(step.module(codes))  # TFLite: (sum +- count/2) / count
        low, high = quant.bounds(step.activation)
        grid = quant.scale * (torch.clamp(mean, low, high) - quant.zero_point)
        return _straight_through(_activate(pooled, step.activation), grid)

    def _run_add(self, step: Step, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b

    def _run_reshape(self, step: Step, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).flatten(1)

    def _run_softmax(self, step: Step, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(x, dim=-1)

    # integer-exact steps (eval) ----------------------------------------------------------------------------

    def _exact_conv(self, step: Step, x: torch.Tensor) -> torch.Tensor:
        lq = self.layer_quant(step)
        weight = _torch_weight(step, lq.codes.to(torch.float64))
        acc = _conv(step, self._centered_codes(step.inputs[0], x), weight, lq.bias_codes)
        return self._requantize(step, acc, lq.scales)

    def _exact_fc(self, step: Step, x: torch.Tensor) -> torch.Tensor:
        lq = self.layer_quant(step)
        acc = F.linear(self._centered_codes(step.inputs[0], x), lq.codes.to(torch.float64), lq.bias_codes)
        return self._requantize(step, acc, lq.scales)

    def _exact_add(self, step: Step, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        p = arith.add_params(*_add_signature(step, *(self.quant_of(v) for v in (*step.inputs, step.output))))
        codes = [self._codes(name, v).astype(np.int64) for name, v in zip(step.inputs, (a, b))]
        scaled = [arith.multiply_by_quantized_multiplier((c + offset) << p.left_shift, m, s) for c, offset, m, s in
                  zip(codes, (p.input1_offset, p.input2_offset), (p.input1_multiplier, p.input2_multiplier),
                      (p.input1_shift, p.input2_shift))]
        raw_sum = arith.wrap_int32(scaled[0] + scaled[1])
        out = arith.multiply_by_quantized_multiplier(raw_sum, p.output_multiplier, p.output_shift) + p.output_offset
        return self._from_codes(step.output, np.clip(out, p.act_min, p.act_max))

    def _exact_softmax(self, step: Step, x: torch.Tensor) -> torch.Tensor:
        """TFLM's int8 softmax (gemmlowp exp and reciprocal) is the reference's, run on this one op."""
        source = self.quant_of(step.inputs[0])
        shape = tuple(x.shape)
        tensors = {"x": Tensor("x", shape, "int8", source.to_ir()),
                   "y": Tensor("y", shape, "int8", SOFTMAX_QUANT.to_ir())}
        graph = Graph(step.name, tensors, (Op(step.name, "SOFTMAX", ("x",), ("y",), {"beta": 1.0}),), ("x",), ("y",))
        (out,) = reference.run(graph, [self._codes(step.inputs[0], x).astype(np.int8)])
        return self._from_codes(step.output, out)

    def _codes(self, value: str, x: torch.Tensor) -> np.ndarray:
        quant = self.quant_of(value)
        return (torch.round(x / quant.scale) + quant.zero_point).numpy()

    def _centered_codes(self, value: str, x: torch.Tensor) -> torch.Tensor:
        """input + input_offset (= real / scale): zero padding then is the zero point, as in the integer kernels."""
        return torch.round(x / self.quant_of(value).scale)

    def _from_codes(self, value: str, codes: np.ndarray) -> torch.Tensor:
        quant = self.quant_of(value)
        return quant.scale * (torch.from_numpy(codes.astype(np.float64)) - quant.zero_point)

    def _requantize(self, step: Step, acc: torch.Tensor, weight_scales_: torch.Tensor) -> torch.Tensor:
        """TFLM requantization of int32 accumulators [N, C, ...] with per-channel fixed-point multipliers."""
        in_scale = np.float64(self.quant_of(step.inputs[0]).scale)
        out_quant = self.quant_of(step.output)
        scales = weight_scales_.numpy().astype(np.float64)
        if step.kind == "fc" and len(scales) == 1:  # per-tensor FC: TFLM multiplies the scales in float32 first
            effective = np.float64(np.float32(np.float32(in_scale) * np.float32(scales[0]))) / out_quant.scale
        else:
            effective = in_scale * scales / np.float64(out_quant.scale)
        multipliers, shifts = arith.quantize_multipliers(np.atleast_1d(effective))
        channels_last = acc.movedim(1, -1).numpy().astype(np.int64)
        out = arith.multiply_by_quantized_multiplier(arith.wrap_int32(channels_last), multipliers, shifts)
        low, high = out_quant.bounds(step.activation)
        codes = np.clip(out + out_quant.zero_point, low, high)
        return self._from_codes(step.output, codes).movedim(-1, 1)


def _conv(step: Step, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    conv = step.module
    return F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)


def _add_signature(step: Step, a: ActQuant, b: ActQuant, out: ActQuant) -> tuple[Graph, Op]:
    """A one-op IR graph carrying the ADD's quantization, for `arith.add_params`."""
    tensors = {name: Tensor(name, (1,), "int8", q.to_ir()) for name, q in (("a", a), ("b", b), ("y", out))}
    op = Op(step.name, "ADD", ("a", "b"), ("y",), {"activation": step.activation})
    return Graph(step.name, tensors, (op,), ("a", "b"), ("y",)), op


def _activate(x: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "RELU":
        return F.relu(x)
    if activation == "RELU6":
        return F.relu6(x)
    if activation == "RELU_N1_TO_1":
        return torch.clamp(x, -1.0, 1.0)
    return x


def _straight_through(x: torch.Tensor, quantized: torch.Tensor) -> torch.Tensor:
    return x + (quantized - x).detach()


def _quant_owners(steps: list[Step]) -> dict[str, str]:
    """value -> the value whose quantization it uses (pools and reshapes keep their input's)."""
    owner: dict[str, str] = {}
    for step in steps:
        owner[step.output] = step.output if step.owns_quant else owner[step.inputs[0]]
    return owner
