"""The plan's last guard (toolchain.plan.arena.check_bounds): hand-broken plans are refused, naming the layer.

The generated kernels check nothing at run time, so a plan whose buffers do not hold what a kernel walks
would corrupt memory on the board. Real plans pass; each breakage below must be caught.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from toolchain.ir import Graph, Op, Quant, Tensor
from toolchain.plan import make_plan
from toolchain.plan.arena import PlanBoundsError, check_bounds, kernel_extents
from toolchain.plan.types import ConstArray


@pytest.fixture(scope="module", params=["kws", "resnet", "ad01"])
def plan(request, imported_model):
    return make_plan(imported_model(request.param), frozenset({"dsp"}))


def _with_layer(plan, index, **changes):
    layers = list(plan.layers)
    layers[index] = dataclasses.replace(layers[index], **changes)
    return dataclasses.replace(plan, layers=tuple(layers))


def _first(plan, predicate):
    return next(layer for layer in plan.layers if predicate(layer))


def test_real_plans_pass_and_extents_fill_the_buffers(plan):
    check_bounds(plan)
    for layer in plan.layers:
        if layer.alias:
            continue
        reads, writes = kernel_extents(layer)
        assert writes == layer.output.size  # every kernel writes its whole output, no more
        assert all(0 < r <= b.size for r, b in zip(reads, layer.inputs))


def test_output_past_the_arena_is_refused(plan):
    layer = _first(plan, lambda l: l.output.region == "arena" and not l.alias)
    moved = dataclasses.replace(layer.output, offset=plan.arena_size - layer.output.size + 4)
    with pytest.raises(PlanBoundsError, match=rf"layer {layer.index} '{layer.name}'.*writes .* outside the "
                                              rf"{plan.arena_size}-byte arena"):
        check_bounds(_with_layer(plan, layer.index, output=moved))


def test_input_buffer_smaller_than_the_kernel_reads_is_refused(plan):
    layer = _first(plan, lambda l: not l.alias)
    shrunk = dataclasses.replace(layer.inputs[0], size=layer.inputs[0].size - 1)
    with pytest.raises(PlanBoundsError, match=rf"layer {layer.index} .*reads \d+ bytes of '{layer.inputs[0].tensor}'"):
        check_bounds(_with_layer(plan, layer.index, inputs=(shrunk,) + layer.inputs[1:]))


def test_kernel_geometry_larger_than_its_tensors_is_refused(plan):
    """What issue 11's edited graphs did: a kernel told to walk more channels than its output holds."""
    layer = _first(plan, lambda l: l.op_type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"))
    params = dict(layer.params, out_image=layer.params["out_image"] * 2)
    with pytest.raises(PlanBoundsError, match=rf"layer {layer.index} .*writes \d+ bytes of '{layer.output.tensor}'"):
        check_bounds(_with_layer(plan, layer.index, params=params))


def test_short_channel_table_is_refused(plan):
    layer = _first(plan, lambda l: "bias" in l.arrays)
    bias = layer.arrays["bias"]
    short = ConstArray(bias.name, bias.ctype, bias.values[:-1])
    with pytest.raises(PlanBoundsError, match=rf"const table '{bias.name}' holds"):
        check_bounds(_with_layer(plan, layer.index, arrays={**layer.arrays, "bias": short}))


def test_missing_scratch_and_overlaps_are_refused(plan):
    layer = _first(plan, lambda l: not l.alias and l.output.region == "arena")
    with pytest.raises(PlanBoundsError, match="needs 64 bytes of scratch and has none"):
        check_bounds(_with_layer(plan, layer.index, scratch=None, params=dict(layer.params, scratch_bytes=64)))
    on_output = dataclasses.replace(layer.output, tensor="scratch", size=8)
    with pytest.raises(PlanBoundsError, match="scratch overlaps"):
        check_bounds(_with_layer(plan, layer.index, scratch=on_output, params=dict(layer.params, scratch_bytes=8)))


def _add_constant_graph() -> Graph:
    q = Quant(np.array([0.05]), np.array([3]))
    tensors = [Tensor("x", (1, 4, 4, 8), "int8", q), Tensor("c", (8,), "int8", q, np.arange(8, dtype=np.int8)),
               Tensor("y", (1, 4, 4, 8), "int8", Quant(np.array([0.1]), np.array([-2])))]
    return Graph("add_constant", {t.name: t for t in tensors}, (Op("add", "ADD", ("x", "c"), ("y",)),), ("x",), ("y",))


def test_const_input_without_its_table_is_refused():
    """An ADD with a constant operand reads it from a const table of its own layer."""
    plan = make_plan(_add_constant_graph(), frozenset())
    (layer,) = plan.layers
    assert layer.inputs[1].region == "const"
    check_bounds(plan)
    arrays = {role: a for role, a in layer.arrays.items() if a.name != layer.inputs[1].symbol}
    with pytest.raises(PlanBoundsError, match=rf"const table '{layer.inputs[1].symbol}', which does not exist"):
        check_bounds(_with_layer(plan, 0, arrays=arrays))
