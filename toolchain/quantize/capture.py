"""Capture a torch model as a flat program of deployable steps (torch.fx symbolic tracing).

Each step is one IR op to be: conv, depthwise conv, fully connected, max/average pool, add, reshape, softmax.
BatchNorm attaches to the conv/linear before it (folded), ReLU/ReLU6/Hardtanh become the fused activation of the
step before them, Dropout/Identity/permute disappear. 4D values are NCHW in torch and NHWC in the IR; the
only layout change a program makes is the flatten before a Linear:
  - x.permute(0, 2, 3, 1).flatten(1) (toolchain.models.FlattenNHWC) already is the IR's NHWC order;
  - flatten of a map with H*W == 1 is the same in both orders;
  - a plain flatten of a C x H x W map is NCHW order: accepted only when a single dense Linear consumes it,
    whose columns are then reordered to NHWC (a structured Linear would lose its blocks, so it is refused).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from ..errors import MunifyError

FUSABLE = ("conv", "fc", "add", "maxpool", "avgpool")
# Fused activations as clamp intervals; two in a row clamp to the intersection.
_ACTIVATION_RANGES = {"RELU": (0.0, float("inf")), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}
_ACTIVATION_NAMES = {"RELU": "ReLU", "RELU6": "ReLU6", "RELU_N1_TO_1": "Hardtanh(-1, 1)"}
_ALIAS_MODULES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.Identity)
_FUNCTIONS = {
    operator.add: "add", torch.add: "add", torch.relu: "relu", F.relu: "relu", F.relu6: "hardtanh",
    torch.flatten: "flatten", F.dropout: "identity", F.softmax: "softmax", torch.softmax: "softmax",
    torch.mean: "mean",
}
# Functional pools become the equivalent module; the names list their positional parameters after the input.
_FUNCTIONAL_POOLS = {
    F.max_pool2d: (nn.MaxPool2d, ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")),
    F.avg_pool2d: (nn.AvgPool2d, ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                                  "divisor_override")),
    F.adaptive_avg_pool2d: (nn.AdaptiveAvgPool2d, ("output_size",)),
}
_METHODS = {"relu": "relu", "flatten": "flatten", "view": "flatten", "reshape": "flatten", "permute": "permute",
            "contiguous": "identity", "add": "add", "softmax": "softmax", "mean": "mean"}


class ExportError(MunifyError):
    """A torch model (or one of its layers) that the int8 exporter cannot express in the IR."""


@dataclass
class Step:
    """One op of the deployed program. `inputs`/`output` name values (IR activation tensors)."""

    name: str
    kind: str  # input | conv | fc | maxpool | avgpool | add | reshape | softmax
    inputs: tuple[str, ...]
    module: nn.Module | None = None
    bn: nn.Module | None = None
    activation: str = "NONE"
    in_shape: tuple[int, ...] = ()  # torch layout, batch 1
    out_shape: tuple[int, ...] = ()
    column_order: torch.Tensor | None = None  # fc only: NCHW -> NHWC reordering of the weight columns
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.name

    @property
    def owns_quant(self) -> bool:
        """Steps whose output gets its own calibrated quantization; the others keep their input's."""
        return self.kind in ("input", "conv", "fc", "add", "softmax")


@dataclass
class _Value:
    step: Step
    layout: str  # nchw | nhwc (permuted 4D, only flatten may follow) | flat


@dataclass
class Program:
    steps: list[Step]
    output: str  # the value the model returns


def capture(model: nn.Module, example: torch.Tensor) -> Program:
    """The program of `model` for inputs shaped like `example` (a batch of 1)."""
    gm = _trace(model)
    with torch.no_grad():
        ShapeProp(gm).propagate(example)
    return _Builder(gm).build()


def _trace(model: nn.Module) -> fx.GraphModule:
    try:
        return fx.symbolic_trace(model)
    except Exception as exc:  # fx raises many types on data-dependent control flow
        raise ExportError(f"model {type(model).__name__} cannot be traced by torch.fx ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); write forward() without "
                          "data-dependent control flow") from None


def _label(node: fx.Node) -> str:
    """A user-facing name: the module's qualified name, or the fx node name of a function/method."""
    return node.target if node.op == "call_module" else node.name


def _describe(node: fx.Node, module: nn.Module | None) -> str:
    """How error messages name a node: layer 'features.3' (MaxPool2d), or function 'max_pool2d'."""
    if node.op == "call_module":
        return f"layer '{node.target}' ({type(module).__name__})"
    return f"function '{node.name}'"


def _pool_module(node: fx.Node) -> nn.Module:
    """The nn pool module a functional pool call stands for."""
    cls, names = _FUNCTIONAL_POOLS[node.target]
    kwargs = {**dict(zip(names, node.args[1:])), **node.kwargs}
    kwargs.pop("return_indices", None)  # always False here: fx traces the indices variant as another function
    return cls(**kwargs)


def _shape(node: fx.Node) -> tuple[int, ...]:
    return tuple(node.meta["tensor_meta"].shape)


def _is_shape_query(node: fx.Node) -> bool:
    """x.size(...), x.shape and x.shape[i]: integers that only feed reshapes, never tensors."""
    if node.op == "call_method":
        return node.target == "size"
    if node.op == "call_function" and node.target is getattr:
        return node.args[1] == "shape"
    if node.op == "call_function" and node.target is operator.getitem:
        return isinstance(node.args[0], fx.Node) and _is_shape_query(node.args[0])
    return False


def _tensor_users(node: fx.Node) -> list[fx.Node]:
    return [u for u in node.users if not _is_shape_query(u)]


class _Builder:
    def __init__(self, gm: fx.GraphModule):
        self.gm = gm
        self.steps: list[Step] = []
        self.values: dict[fx.Node, _Value] = {}
        self.origins: dict[str, fx.Node] = {}  # step name -> the node that created it
        self.nchw_order: dict[str, tuple[int, int, int]] = {}  # reshape steps in NCHW order -> (C, H, W)
        self.nchw_readers: dict[str, str] = {}  # such a reshape -> the one Linear that reads it

    def build(self) -> Program:
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                self._input(node)
            elif node.op == "output":
                self._output(node)
            elif node.op == "get_attr":
                raise ExportError(f"'{node.target}' is a tensor constant used in forward(); the exporter "
                                  "supports layers (modules) only")
            else:
                self._op(node)
        return Program(self.steps, self.output)

    # node kinds -------------------------------------------------------------------------------------------

    def _kind(self, node: fx.Node) -> tuple[str, nn.Module | None]:
        if _is_shape_query(node):
            return "size", None
        if node.op == "call_module":
            module = self.gm.get_submodule(node.target)
            return _module_kind(node.target, module), module
        if node.op == "call_function" and node.target in _FUNCTIONAL_POOLS:
            module = _pool_module(node)
            return _module_kind(node.name, module), module
        if node.op == "call_function":
            kind = _FUNCTIONS.get(node.target)
            if kind is None:
                raise ExportError(f"function '{node.name}' ({getattr(node.target, '__name__', node.target)}) is "
                                  "not supported by the int8 exporter; use nn layers (Conv2d, Linear, pools, "
                                  "ReLU) and + for residuals")
            return kind, None
        kind = _METHODS.get(node.target)
        if kind is None:
            raise ExportError(f"tensor method '{node.target}' ('{node.name}') is not supported by the int8 "
                              "exporter")
        return kind, None

    def _op(self, node: fx.Node) -> None:
        kind, module = self._kind(node)
        handler = getattr(self, f"_on_{kind}")
        handler(node, module)

    # handlers ---------------------------------------------------------------------------------------------

    def _input(self, node: fx.Node) -> None:
        if self.steps:
            raise ExportError("the model takes more than one input; the exporter supports exactly one")
        shape = _shape(node)
        if len(shape) not in (2, 4):
            raise ExportError(f"model input has shape {list(shape)}; the exporter needs [N, C, H, W] or [N, F]")
        layout = "nchw" if len(shape) == 4 else "flat"
        self._add(node, Step("input", "input", (), in_shape=shape, out_shape=shape), layout)

    def _output(self, node: fx.Node) -> None:
        (result,) = node.args
        if not isinstance(result, fx.Node):
            raise ExportError("the model returns several values; the exporter supports exactly one output")
        value = self.values[result]
        if value.layout == "nhwc":
            raise ExportError("the model returns a permuted tensor; return logits [N, classes] or an NCHW map")
        self._refuse_nchw_order(value.step, "the model output")
        self.output = value.step.output

    def _on_size(self, node: fx.Node, module) -> None:
        pass

    def _on_identity(self, node: fx.Node, module) -> None:
        self.values[node] = self.values[node.args[0]]

    def _on_conv(self, node: fx.Node, conv: nn.Conv2d) -> None:
        source = self._input_value(node, "nchw", "an NCHW feature map")
        attrs = _conv_attrs(node.target, conv)
        self._add(node, Step(node.target, "conv", (source.step.output,), conv, in_shape=_shape(node.args[0]),
                             out_shape=_shape(node), attrs=attrs), "nchw")

    def _on_fc(self, node: fx.Node, linear: nn.Linear) -> None:
        source = self._input_value(node, "flat", "a flat [N, features] tensor")
        order = None
        if source.step.name in self.nchw_order:
            self._refuse_nchw_order(source.step, f"a second Linear ('{node.target}')",
                                    allowed=source.step.name not in self.nchw_readers)
            self.nchw_readers[source.step.name] = node.target
            order = _nhwc_column_order(*self.nchw_order[source.step.name])
        self._add(node, Step(node.target, "fc", (source.step.output,), linear, in_shape=_shape(node.args[0]),
                             out_shape=_shape(node), column_order=order), "flat")

    def _on_bn(self, node: fx.Node, bn: nn.Module) -> None:
        producer = self._fusion_target(node, "BatchNorm", ("conv", "fc"))
        if producer.bn is not None or producer.activation != "NONE":
            raise ExportError(f"BatchNorm '{node.target}' follows an activation or another BatchNorm; only "
                              "Conv2d/Linear -> BatchNorm can be folded")
        if bn.running_var is None:
            raise ExportError(f"BatchNorm '{node.target}' has no running statistics (track_running_stats="
                              "False); it cannot be folded for deployment")
        producer.bn = bn
        self.values[node] = self.values[node.args[0]]

    def _on_relu(self, node: fx.Node, module) -> None:
        self._fuse_activation(node, "RELU")

    def _on_hardtanh(self, node: fx.Node, module: nn.Hardtanh | None) -> None:
        bounds = (module.min_val, module.max_val) if module is not None else (0.0, 6.0)  # F.relu6
        activation = next((a for a, r in _ACTIVATION_RANGES.items() if r == bounds), None)
        if activation is None:
            raise ExportError(f"layer '{_label(node)}' (Hardtanh) clamps to {list(bounds)}; TFLite fuses only "
                              "[0, 6] (ReLU6) and [-1, 1]")
        self._fuse_activation(node, activation)

    def _fuse_activation(self, node: fx.Node, activation: str) -> None:
        producer = self._fusion_target(node, _ACTIVATION_NAMES[activation], FUSABLE)
        if producer.activation != "NONE":
            activation = _compose(producer.activation, activation, _label(node))
        producer.activation = activation
        self.values[node] = self.values[node.args[0]]

    def _on_maxpool(self, node: fx.Node, pool: nn.Module) -> None:
        self._pool(node, pool, "maxpool")

    def _on_avgpool(self, node: fx.Node, pool: nn.Module) -> None:
        self._pool(node, pool, "avgpool")

    def _pool(self, node: fx.Node, pool: nn.Module, kind: str) -> None:
        source = self._input_value(node, "nchw", "an NCHW feature map")
        attrs = _pool_attrs(_label(node), pool, _shape(node.args[0]))
        step = Step(_label(node), kind, (source.step.output,), pool, in_shape=_shape(node.args[0]),
                    out_shape=_shape(node), attrs=attrs)
        padding = padding_mode(step)
        if padding is None or (padding == "SAME" and attrs["count_include_pad"] and attrs["padding"] != (0, 0)):
            raise ExportError(f"{_describe(node, pool)} pads in a way TFLite pools cannot express; use padding 0, "
                              "or TFLite SAME padding (average pools with count_include_pad=False)")
        self._add(node, step, "nchw")

    def _on_mean(self, node: fx.Node, module) -> None:
        """x.mean((2, 3)): a global average pool, then a flatten unless keepdim."""
        dims = node.kwargs.get("dim", (node.args + (None,))[1])
        dims = (dims,) if isinstance(dims, int) else dims
        keepdim = node.kwargs.get("keepdim", (node.args + (None, False))[2])
        value = self.values[node.args[0]]
        if value.layout != "nchw" or dims is None or sorted(d % 4 for d in dims) != [2, 3]:
            raise ExportError(f"'{node.name}' takes a mean over dims {dims} of a {list(_shape(node.args[0]))} tensor; "
                              "only the global average pool x.mean((2, 3)) of a feature map is supported")
        n, c, h, w = _shape(node.args[0])
        pool = nn.AvgPool2d((h, w))
        attrs = _pool_attrs(node.name, pool, (n, c, h, w))
        pooled = Step(node.name, "avgpool", (value.step.output,), pool, in_shape=(n, c, h, w),
                      out_shape=(n, c, 1, 1), attrs=attrs)
        self._add(node, pooled, "nchw")
        if not keepdim:
            self._add(node, Step(f"{node.name}.flatten", "reshape", (pooled.output,), in_shape=(n, c, 1, 1),
                                 out_shape=(n, c)), "flat")

    def _on_add(self, node: fx.Node, module) -> None:
        operands = [a for a in node.args] + list(node.kwargs.values())
        if len(operands) != 2 or not all(isinstance(a, fx.Node) for a in operands):
            raise ExportError(f"'{node.name}' adds something other than two tensors; only residual adds of two "
                              "feature maps are supported")
        a, b = (self.values[o] for o in operands)
        for operand in (a, b):
            self._refuse_nchw_order(operand.step, f"'{node.name}'")
        if a.layout != b.layout or a.layout == "nhwc" or _shape(operands[0]) != _shape(operands[1]):
            raise ExportError(f"'{node.name}' adds tensors of different shapes or layouts; broadcasting adds "
                              "are not supported")
        self._add(node, Step(node.name, "add", (a.step.output, b.step.output), in_shape=_shape(node),
                             out_shape=_shape(node)), a.layout)

    def _on_softmax(self, node: fx.Node, module) -> None:
        dim = module.dim if module is not None else node.kwargs.get("dim", (node.args + (None,))[1])
        value = self.values[node.args[0]]
        if value.layout != "flat" or dim not in (1, -1):
            raise ExportError(f"softmax '{_label(node)}' runs over dim {dim} of a {list(_shape(node.args[0]))} "
                              "tensor; only a softmax over the classes of [N, classes] logits is supported")
        self._refuse_nchw_order(value.step, f"softmax '{_label(node)}'")
        self._add(node, Step(_label(node), "softmax", (value.step.output,), module, in_shape=_shape(node),
                             out_shape=_shape(node)), "flat")

    def _on_permute(self, node: fx.Node, module) -> None:
        dims = tuple(a for a in node.args[1:]) if len(node.args) > 2 else tuple(node.args[1])
        value = self.values[node.args[0]]
        if value.layout != "nchw" or dims != (0, 2, 3, 1):
            raise ExportError(f"'{node.name}' permutes to {list(dims)}; the exporter supports only "
                              "permute(0, 2, 3, 1) right before a flatten (toolchain.models.FlattenNHWC)")
        self.values[node] = _Value(value.step, "nhwc")

    def _on_flatten(self, node: fx.Node, module) -> None:
        value = self.values[node.args[0]]
        in_shape, out_shape = _shape(node.args[0]), _shape(node)
        if value.layout == "flat" and in_shape == out_shape:
            self.values[node] = value
            return
        if len(in_shape) != 4 or len(out_shape) != 2 or out_shape[0] != in_shape[0]:
            raise ExportError(f"'{node.name}' reshapes {list(in_shape)} to {list(out_shape)}; only flattening "
                              "a feature map to [N, features] is supported")
        step = Step(_label(node), "reshape", (value.step.output,), in_shape=in_shape, out_shape=out_shape)
        self._add(node, step, "flat")
        _, c, h, w = in_shape
        if value.layout == "nchw" and h * w > 1:
            self.nchw_order[step.name] = (c, h, w)

    # helpers ----------------------------------------------------------------------------------------------

    def _add(self, node: fx.Node, step: Step, layout: str) -> None:
        if step.name in self.origins:  # a module called twice, or a function node named like a module
            step.name = f"{step.name}_{node.name}"
        self.steps.append(step)
        self.origins[step.name] = node
        self.values[node] = _Value(step, layout)

    def _input_value(self, node: fx.Node, layout: str, what: str) -> _Value:
        arg = node.args[0]
        value = self.values[arg]
        if value.layout != layout:
            module = self.gm.get_submodule(node.target) if node.op == "call_module" else None
            raise ExportError(f"{_describe(node, module)} needs {what}, got a tensor of shape "
                              f"{list(_shape(arg))}")
        return value

    def _fusion_target(self, node: fx.Node, what: str, kinds: tuple[str, ...]) -> Step:
        """The step a BN/activation node folds into; its pre-activation value must have no other use."""
        label = _label(node)
        arg = node.args[0]
        producer = self.values[arg].step
        if producer.kind not in kinds:
            raise ExportError(f"{what} '{label}' follows a {producer.kind} step ('{producer.name}'), which "
                              f"cannot absorb it; put it right after a {' / '.join(kinds)}")
        origin = self.origins[producer.name]
        chain = arg
        while True:
            if len(_tensor_users(chain)) != 1:
                raise ExportError(f"{what} '{label}' cannot be fused: the value before it ('{chain.name}') is "
                                  "also used elsewhere")
            if chain is origin:
                return producer
            chain = chain.args[0]

    def _refuse_nchw_order(self, step: Step, reader: str, allowed: bool = False) -> None:
        """A plain flatten of a C x H x W map may feed exactly one Linear (whose columns get reordered)."""
        if step.name in self.nchw_order and not allowed:
            c, h, w = self.nchw_order[step.name]
            raise ExportError(f"'{step.name}' flattens a {c}x{h}x{w} map in NCHW order and {reader} reads it; "
                              "only a single Linear may (its columns are reordered to NHWC): flatten with "
                              "toolchain.models.FlattenNHWC (permute(0, 2, 3, 1) then flatten)")


def padding_mode(step: Step) -> str | None:
    """'VALID' or 'SAME' when torch's padding is exactly that TFLite padding, else None (needs a PAD op)."""
    padding = step.attrs["padding"]
    if isinstance(padding, str):
        return padding.upper()
    in_hw, out_hw = step.in_shape[2:], step.out_shape[2:]
    kernel, stride, dilation = step.attrs["kernel"], step.attrs["stride"], step.attrs["dilation"]
    valid, same = True, True
    for n, out, k, s, d, p in zip(in_hw, out_hw, kernel, stride, dilation, padding):
        reach = d * (k - 1) + 1
        valid &= p == 0 and out == (n - reach) // s + 1
        same_out = -(-n // s)
        same &= out == same_out and p == max((same_out - 1) * s + reach - n, 0) // 2
    return "VALID" if valid else "SAME" if same else None


def _module_kind(name: str, module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.Linear):
        return "fc"
    if isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
        return "bn"
    if isinstance(module, nn.Hardtanh):  # ReLU6 is a Hardtanh(0, 6)
        return "hardtanh"
    if isinstance(module, nn.ReLU):
        return "relu"
    if isinstance(module, nn.MaxPool2d):
        return "maxpool"
    if isinstance(module, nn.Softmax):
        return "softmax"
    if isinstance(module, (nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
        return "avgpool"
    if isinstance(module, _ALIAS_MODULES):
        return "identity"
    if isinstance(module, nn.Flatten):
        if module.start_dim != 1 or module.end_dim != -1:
            raise ExportError(f"layer '{name}' (Flatten) flattens dims {module.start_dim}..{module.end_dim}; "
                              "only Flatten(1, -1) is supported")
        return "flatten"
    raise ExportError(f"layer '{name}' ({type(module).__name__}) is not supported by the int8 exporter; "
                      "supported: Conv2d, Linear, BatchNorm, ReLU, ReLU6, Hardtanh, MaxPool2d, AvgPool2d, "
                      "AdaptiveAvgPool2d, Flatten, Dropout, Softmax, residual +")


def _compose(first: str, second: str, label: str) -> str:
    """The one fused activation equal to `second` applied after `first`."""
    low = max(_ACTIVATION_RANGES[first][0], _ACTIVATION_RANGES[second][0])
    high = min(_ACTIVATION_RANGES[first][1], _ACTIVATION_RANGES[second][1])
    for activation, bounds in _ACTIVATION_RANGES.items():
        if bounds == (low, high):
            return activation
    raise ExportError(f"'{label}' applies {_ACTIVATION_NAMES[second]} after {_ACTIVATION_NAMES[first]}, which "
                      "no single TFLite fused activation expresses")


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _conv_attrs(name: str, conv: nn.Conv2d) -> dict[str, Any]:
    if conv.padding_mode != "zeros":
        raise ExportError(f"layer '{name}' (Conv2d) uses padding_mode='{conv.padding_mode}'; only zero "
                          "padding is supported")
    if conv.groups == 1:
        op_type = "CONV_2D"
    elif conv.groups == conv.in_channels and conv.out_channels % conv.in_channels == 0:
        op_type = "DEPTHWISE_CONV_2D"
    else:
        raise ExportError(f"layer '{name}' (Conv2d) has groups={conv.groups} ({conv.in_channels}->"
                          f"{conv.out_channels}); only groups=1 or depthwise convs are supported")
    return {"op_type": op_type, "kernel": _pair(conv.kernel_size), "stride": _pair(conv.stride),
            "dilation": _pair(conv.dilation), "padding": conv.padding}


def _pool_attrs(name: str, pool: nn.Module, in_shape: tuple[int, ...]) -> dict[str, Any]:
    if isinstance(pool, nn.AdaptiveAvgPool2d):
        h, w = in_shape[2:]
        oh, ow = (pool.output_size, pool.output_size) if isinstance(pool.output_size, int) else pool.output_size
        oh, ow = oh or h, ow or w
        if h % oh or w % ow:
            raise ExportError(f"layer '{name}' (AdaptiveAvgPool2d) maps {h}x{w} to {oh}x{ow}, which is not a "
                              "whole-window pooling; use an input size divisible by the output size")
        return {"kernel": (h // oh, w // ow), "stride": (h // oh, w // ow), "dilation": (1, 1), "padding": (0, 0),
                "count_include_pad": False}
    if isinstance(pool, nn.AvgPool2d) and pool.divisor_override is not None:
        raise ExportError(f"layer '{name}' (AvgPool2d) sets divisor_override; TFLite averages over the window")
    dilation = _pair(getattr(pool, "dilation", 1))
    if dilation != (1, 1):
        raise ExportError(f"layer '{name}' (MaxPool2d) has dilation {dilation}; only 1 is supported")
    stride = pool.stride if pool.stride is not None else pool.kernel_size
    return {"kernel": _pair(pool.kernel_size), "stride": _pair(stride), "dilation": dilation,
            "padding": _pair(pool.padding), "count_include_pad": getattr(pool, "count_include_pad", False)}


def _nhwc_column_order(c: int, h: int, w: int) -> torch.Tensor:
    """new_column -> old_column: NHWC position (h, w, c) reads NCHW column c*H*W + h*W + w."""
    return torch.arange(c * h * w).reshape(c, h, w).permute(1, 2, 0).reshape(-1)
