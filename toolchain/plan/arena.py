"""Static tensor arena: offsets from tensor lifetimes, greedy first-fit by size (like TFLM's greedy planner).

Tensors that share storage (a RESHAPE output and its input, an in-place ADD output and its dying input) form
one storage group; a group lives from its first write to its last read. Groups are placed largest first at the
lowest offset that does not overlap any already placed group alive at the same time.

`check_bounds` is the plan's last guard: the generated kernels check nothing at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import MunifyError
from ..ir import op_def
from .layers import OP_PLANNING
from .types import Buffer, LayerPlan, Plan

ALIGN = 4


@dataclass
class StorageGroup:
    key: str
    size: int
    first: int  # index of the op that writes it first (-1 for a graph input)
    last: int  # index of the op that reads it last
    offset: int = -1


def align_up(value: int, align: int = ALIGN) -> int:
    return -(-value // align) * align


def _overlaps_in_time(a: StorageGroup, b: StorageGroup) -> bool:
    return a.first <= b.last and b.first <= a.last


def place(groups: list[StorageGroup]) -> int:
    """Assign `offset` to every group; return the arena size in bytes."""
    placed: list[StorageGroup] = []
    for group in sorted(groups, key=lambda g: (-g.size, g.first, g.key)):
        busy = sorted((p.offset, p.offset + align_up(p.size)) for p in placed if _overlaps_in_time(p, group))
        offset = 0
        for start, end in busy:
            if offset + group.size <= start:
                break
            offset = max(offset, end)
        group.offset = offset
        placed.append(group)
    return max((align_up(g.offset + g.size) for g in groups), default=0)


# ---------------------------------------------------------------------------------------------------------
# The last guard: the generated kernels check nothing at run time, so every extent they touch is checked here

MAX_ARENA_BYTES = (1 << 31) - 1  # the kernels address the arena with int32 offsets


class PlanBoundsError(MunifyError):
    """A plan whose kernels would read or write outside their buffers: a munify bug, never the user's input."""


def check_arena_size(size: int, model_name: str) -> None:
    if size > MAX_ARENA_BYTES:
        raise MunifyError(f"model '{model_name}' needs an arena of {size} bytes, more than the {MAX_ARENA_BYTES} "
                          "the generated C can address; no microcontroller holds it: shrink the model")


def check_bounds(plan: Plan) -> None:
    """Refuse a plan in which a layer's kernel would touch bytes outside the arena, the caller's input or output
    buffer, or its own const tables, judged from the extents its parameters make the kernel walk."""
    capacity = {"input": plan.input.size, "output": plan.output.size, "arena": plan.arena_size}
    for layer in plan.layers:
        if layer.alias:
            continue
        reads, writes = kernel_extents(layer)
        touched = [(buffer, reads[i], "reads") for i, buffer in enumerate(layer.inputs)]
        touched.append((layer.output, writes, "writes"))
        if layer.scratch is not None:
            touched.append((layer.scratch, layer.params.get("scratch_bytes", 0), "uses as scratch"))
        elif layer.params.get("scratch_bytes", 0):
            _fail(layer, f"needs {layer.params['scratch_bytes']} bytes of scratch and has none")
        for buffer, extent, verb in touched:
            _check_buffer(layer, buffer, extent, verb, capacity)
        _check_no_overlap(layer)
        _check_channel_tables(layer)


def kernel_extents(layer: LayerPlan) -> tuple[list[int], int]:
    """Bytes the kernel of `layer` reads from each data input and writes to its output."""
    planning = OP_PLANNING.get(layer.op_type)
    if planning is None:
        raise PlanBoundsError(f"layer {layer.index} '{layer.name}': no extent rule for {layer.op_type}; add one "
                              "to its OpPlanning in toolchain/plan/layers.py")
    return planning.extents(layer.params)


def _fail(layer: LayerPlan, problem: str):
    raise PlanBoundsError(f"layer {layer.index} '{layer.name}' ({layer.variant}): {problem}; this is a munify "
                          "bug, please report it with the model")


def _check_buffer(layer: LayerPlan, buffer: Buffer, extent: int, verb: str, capacity: dict[str, int]) -> None:
    if extent > buffer.size:
        _fail(layer, f"{verb} {extent} bytes of '{buffer.tensor}', which holds {buffer.size}")
    if buffer.region == "const":
        table = next((a for a in layer.arrays.values() if a.name == buffer.symbol), None)
        if table is None or table.nbytes < extent:
            _fail(layer, f"{verb} {extent} bytes of const table '{buffer.symbol}', which "
                         f"{'does not exist' if table is None else f'holds {table.nbytes}'}")
        return
    if buffer.offset < 0 or buffer.offset + extent > capacity[buffer.region]:
        _fail(layer, f"{verb} '{buffer.tensor}' at {buffer.region} bytes {buffer.offset}..{buffer.offset + extent}, "
                     f"outside the {capacity[buffer.region]}-byte {buffer.region}")


def _check_no_overlap(layer: LayerPlan) -> None:
    """The output may share storage with a data input only exactly (in-place ops); scratch with nothing."""
    out = layer.output
    for buffer in layer.inputs:
        same_start = buffer.region == out.region and buffer.offset == out.offset
        if _overlap(buffer, out) and not (same_start and op_def(layer.op_type).in_place):
            _fail(layer, f"output '{out.tensor}' overlaps input '{buffer.tensor}'")
    if layer.scratch is not None:
        for buffer in layer.inputs + (out,):
            if _overlap(buffer, layer.scratch):
                _fail(layer, f"scratch overlaps '{buffer.tensor}'")


def _overlap(a: Buffer, b: Buffer) -> bool:
    if a.region != b.region or a.region == "const":
        return False
    return a.offset < b.offset + b.size and b.offset < a.offset + a.size


def _check_channel_tables(layer: LayerPlan) -> None:
    """Per-output-channel tables (bias, multipliers, shifts) hold one entry per output row."""
    rows = layer.params.get("out_rows")
    if rows is None:
        return
    for role in ("bias", "mult", "shift"):
        table = layer.arrays.get(role)
        if table is not None and table.length < rows:
            _fail(layer, f"const table '{table.name}' holds {table.length} entries for {rows} output channels")
