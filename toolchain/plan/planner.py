"""make_plan: kernel variant and weight layout per layer, const tables, and the static arena."""

from __future__ import annotations

import re
from typing import Callable, Mapping

import numpy as np

from ..errors import MunifyError
from ..ir import op_def
from ..ir.graph import Graph, Op
from . import arena, fusion, layers
from .kernels import BoardCosts, costs_for
from .kernels.generic import packing
from .registry import RESHAPE_ALIAS, balanced_byte_price, forced_variant, select_variant
from .variant import KernelVariant
from .types import Buffer, ConstArray, LayerPlan, Plan

_CTYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.uint8): "uint8_t", np.dtype(np.int16): "int16_t",
           np.dtype(np.uint16): "uint16_t", np.dtype(np.int32): "int32_t", np.dtype(np.uint32): "uint32_t"}


def make_plan(graph: Graph, features: frozenset[str], optimize: str = "balanced",
              force: Mapping[str, str] | None = None, cpu: str | None = None, fuse_pools: bool = True) -> Plan:
    """Plan `graph` for a target with ISA `features` whose CPU is `cpu` (boards/*.toml `cpu`: which cost tables
    rank the kernels; None or a CPU without tables: each family's fitted CPU). `force` maps op names to kernel
    variant names that override the ranking (tests and experiments run every kernel this way). `fuse_pools`
    False keeps every MAX_POOL_2D a layer of its own (tests compare the two; toolchain.plan.fusion)."""
    graph.validate()
    _check_io(graph)
    features = frozenset(features)
    costs = costs_for(cpu, optimize)
    specs = [layers.build(graph, op, optimize) for op in graph.ops]
    largest_activation = max((t.nbytes for t in graph.tensors.values() if not t.is_constant), default=0)
    for spec in specs:
        spec.params["lut_limit"] = largest_activation
    aliases = _reshape_aliases(graph)
    force = dict(force or {})
    unknown = sorted(set(force) - {op.name for op in graph.ops})
    if unknown:
        raise MunifyError(f"cannot force a kernel on {', '.join(unknown)}: no such op in '{graph.name}'")
    sizers = [_weight_bytes(spec) for spec in specs]
    price = _byte_price(graph, specs, sizers, features, aliases, costs) if optimize == "balanced" else 0.0
    variants = [_choose(op, spec, sizer, features, optimize, aliases, force, costs, price)
                for op, spec, sizer in zip(graph.ops, specs, sizers)]
    for spec, variant in zip(specs, variants):
        if variant is not None:
            spec.params.update(variant.options)
    fusions = _fuse_pools(graph, specs, variants, force) if fuse_pools else {}
    for spec, variant in zip(specs, variants):
        spec.params["scratch_bytes"] = _scratch_bytes(variant, spec.params)
    fused_outputs = {graph.ops[conv].outputs[0]: graph.ops[pool].outputs[0] for conv, pool in fusions.items()}
    in_place = _in_place_outputs(graph, aliases)
    buffers, arena_size, scratch = _place_tensors(graph, specs, aliases, in_place, fused_outputs)
    fused_pools = set(fusions.values())
    layer_plans = tuple(_layer_plan(graph, index, op, spec, variant, buffers, scratch.get(index), costs,
                                    fused_outputs, index in fused_pools)
                        for index, (op, spec, variant) in enumerate(zip(graph.ops, specs, variants)))
    plan = Plan(model_name=graph.name, features=tuple(sorted(features)), optimize=optimize,
                input=buffers[graph.inputs[0]], output=buffers[graph.outputs[0]], arena_size=arena_size,
                layers=layer_plans, buffers=buffers, cpu=cpu, cost_cpus=costs.cpus(features))
    arena.check_bounds(plan)
    return plan


def _fuse_pools(graph: Graph, specs: list[layers.LayerSpec], variants: list,
                force: Mapping[str, str]) -> dict[int, int]:
    """Every CONV_2D + MAX_POOL_2D pair that fuses (toolchain.plan.fusion), rewritten in `specs` and `variants`: the
    conv's spec computes the pool, the pool keeps no variant (no code). A pool whose kernel is forced keeps it and
    its own layer. Returns conv index -> pool index."""
    fusions = {conv: pool for conv, pool in fusion.pool_fusions(graph, specs, variants).items()
               if graph.ops[pool].name not in force}
    for conv, pool in fusions.items():
        specs[conv] = fusion.fuse(specs[conv], specs[pool])
        variants[pool] = None
    return fusions


def _scratch_bytes(variant: KernelVariant | None, params: dict) -> int:
    """The layer's scratch: the variant's own formula, else the op builder's (the im2col patches); none for a
    layer that runs no code."""
    if variant is None:
        return 0
    if variant.scratch is not None:
        return variant.scratch(params)
    return params["scratch_bytes"]


def _check_io(graph: Graph) -> None:
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise MunifyError(f"model '{graph.name}' has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs; "
                          "the generated C API takes exactly one input and one output")
    for name in graph.inputs + graph.outputs:
        if graph.tensor(name).dtype != "int8":
            raise MunifyError(f"model input/output '{name}' is {graph.tensor(name).dtype}; only int8 is supported")
    if graph.inputs[0] == graph.outputs[0]:
        raise MunifyError(f"model '{graph.name}' returns its input unchanged; there is nothing to generate")


def _reshape_aliases(graph: Graph) -> dict[str, str]:
    """RESHAPE output -> the tensor whose storage it shares. The model input and output keep their own
    buffers (the caller owns them), so a RESHAPE from the input straight to the output is a copy."""
    aliases: dict[str, str] = {}
    for op in graph.ops:
        if op.type != "RESHAPE":
            continue
        source = aliases.get(op.inputs[0], op.inputs[0])
        if not (source in graph.inputs and op.outputs[0] in graph.outputs):
            aliases[op.outputs[0]] = source
    return aliases


def _weight_bytes(spec: layers.LayerSpec) -> Callable[[KernelVariant], int]:
    """Packed weight bytes of the layer under a variant (each packer runs once)."""
    packed_sizes: dict[str, int] = {}

    def weight_bytes(variant: KernelVariant) -> int:
        if spec.matrix is None:
            return 0
        if variant.pack is None:
            return _layout_bytes(spec)[variant.layout]
        if variant.name not in packed_sizes:
            packed_sizes[variant.name] = sum(a.nbytes for a in variant.pack(spec.matrix, spec.blocks).values())
        return packed_sizes[variant.name]

    return weight_bytes


def _byte_price(graph: Graph, specs, sizers, features: frozenset, aliases: dict[str, str],
                costs: BoardCosts) -> float:
    """The balanced mode's price of a weight byte, from every layer's fastest balanced candidate."""
    fastest = []
    for op, spec, sizer in zip(graph.ops, specs, sizers):
        if op.type == "RESHAPE" and op.outputs[0] in aliases:
            continue
        variant = select_variant(op.type, spec.facts, features, "balanced", spec.params, sizer, costs)
        fastest.append((costs.cost(variant, spec.facts), sizer(variant)))
    return balanced_byte_price(fastest)


def _choose(op: Op, spec: layers.LayerSpec, weight_bytes: Callable[[KernelVariant], int], features: frozenset,
            optimize: str, aliases: dict[str, str], force: Mapping[str, str], costs: BoardCosts,
            price: float) -> KernelVariant | None:
    if op.type == "RESHAPE" and op.outputs[0] in aliases:
        return None
    if op.name in force:
        return forced_variant(op.type, force[op.name], spec.facts, features)
    return select_variant(op.type, spec.facts, features, optimize, spec.params, weight_bytes, costs, price)


def _layout_bytes(spec: layers.LayerSpec) -> dict[str, int]:
    """Packed weight bytes of a matrix op in every built-in layout (empty for other ops)."""
    if spec.matrix is None:
        return {}
    rows, cols = spec.matrix.shape
    return {layout: packing.layout_bytes(rows, cols, spec.blocks, layout) for layout in packing.LAYOUTS}


def _in_place_outputs(graph: Graph, aliases: dict[str, str]) -> dict[str, str]:
    """In-place op (ADD, MUL) output -> first input when that input dies here, has the output's shape and is an
    arena tensor."""
    last_read = _last_reads(graph, aliases)
    in_place: dict[str, str] = {}
    for index, op in enumerate(graph.ops):
        if not op_def(op.type).in_place:
            continue
        source = graph.tensor(op.inputs[0])
        storage = aliases.get(source.name, source.name)
        out = graph.tensor(op.outputs[0])
        if (not source.is_constant and storage not in graph.inputs and storage not in graph.outputs
                and out.name not in graph.outputs and tuple(source.shape) == tuple(out.shape)
                and last_read.get(storage) == index and op.inputs[1] != op.inputs[0]):
            in_place[out.name] = storage
    return in_place


def _last_reads(graph: Graph, aliases: dict[str, str]) -> dict[str, int]:
    last: dict[str, int] = {}
    for index, op in enumerate(graph.ops):
        for name in op.inputs:
            if name and not graph.tensor(name).is_constant:
                last[aliases.get(name, name)] = index
    return last


def _storage_root(name: str, links: dict[str, str]) -> str:
    while name in links:
        name = links[name]
    return name


def _place_tensors(graph: Graph, specs, aliases, in_place, fused_outputs: dict[str, str]):
    """Arena offsets of every storage group and scratch. A conv fused with its pool (`fused_outputs`: conv output
    -> pool output) writes the pool's output, so the conv's own output gets no storage."""
    links = {**aliases, **in_place}
    # An output that is aliased by the model output must be written straight into the caller's buffer.
    output_root = _storage_root(graph.outputs[0], links)
    groups: dict[str, arena.StorageGroup] = {}
    for index, op in enumerate(graph.ops):
        for name in [fused_outputs.get(n, n) for n in list(op.inputs) + list(op.outputs) if n]:
            tensor = graph.tensor(name)
            if tensor.is_constant:
                continue
            root = _storage_root(name, links)
            if root in graph.inputs or root == output_root or root in graph.outputs:
                continue
            group = groups.setdefault(root, arena.StorageGroup(root, tensor.nbytes, index, index))
            group.size = max(group.size, tensor.nbytes)
            group.first, group.last = min(group.first, index), max(group.last, index)
    scratch_groups = {}
    for index, spec in enumerate(specs):
        size = spec.params["scratch_bytes"]
        if size:
            scratch_groups[index] = arena.StorageGroup(f"scratch:{index}", size, index, index)
    arena_size = arena.place(list(groups.values()) + list(scratch_groups.values()))
    arena.check_arena_size(arena_size, graph.name)
    buffers: dict[str, Buffer] = {}
    for name, tensor in graph.tensors.items():
        if tensor.is_constant:
            continue
        root = _storage_root(name, links)
        if root == output_root or root in graph.outputs:
            buffers[name] = Buffer(name, "output", 0, tensor.nbytes)
        elif root in graph.inputs:
            buffers[name] = Buffer(name, "input", 0, tensor.nbytes)
        elif root in groups:
            buffers[name] = Buffer(name, "arena", groups[root].offset, tensor.nbytes)
    scratch = {index: Buffer(g.key, "arena", g.offset, g.size) for index, g in scratch_groups.items()}
    return buffers, arena_size, scratch


def _c_name(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", text)


def _const_array(name: str, values: np.ndarray) -> ConstArray:
    values = np.ascontiguousarray(values).reshape(-1)
    if values.dtype not in _CTYPES:
        raise MunifyError(f"const table '{name}' has dtype {values.dtype}, which has no C type here")
    return ConstArray(name, _CTYPES[values.dtype], values)


def _layer_plan(graph: Graph, index: int, op: Op, spec: layers.LayerSpec, variant: KernelVariant | None,
                buffers: dict[str, Buffer], scratch: Buffer | None, costs: BoardCosts, fused_outputs: dict[str, str],
                fused_pool: bool) -> LayerPlan:
    """A fused pool (`fused_pool`) is a layer without code or inputs whose output its conv wrote."""
    function = f"munify_layer_{index}"
    params = dict(spec.params)
    arrays = dict(spec.arrays)
    layout = "none"
    if spec.matrix is not None:
        layout = variant.layout
        packed = (variant.pack(spec.matrix, spec.blocks) if variant.pack is not None
                  else packing.packed_arrays(packing.pack(spec.matrix, spec.blocks, layout)))
        arrays = {"bias": layers.folded_bias(spec, variant.fold_input_offset), **arrays, **packed}
        if params.get("lut"):
            arrays["lut_cols"] = layers.unified_columns(spec.blocks)
        params["layout"] = layout
    inputs = () if fused_pool else tuple(_input_buffer(graph, position, name, function, buffers)
                                         for position, name in enumerate(op.inputs[:op_def(op.type).data_inputs]))
    const_arrays = {role: _const_array(f"{function}_{role}", values) for role, values in sorted(arrays.items())}
    no_code = fusion.POOL_FUSED if fused_pool else RESHAPE_ALIAS
    return LayerPlan(
        index=index, name=op.name, op_type=op.type, variant=variant.name if variant else no_code,
        template=variant.template if variant else "", layout=layout, function=function,
        source=f"layer_{index:03d}_{_c_name(op.type.lower())}.c", inputs=inputs,
        output=buffers[fused_outputs.get(op.outputs[0], op.outputs[0])], scratch=scratch, params=params,
        arrays=const_arrays, macs=spec.macs,
        cost=float(costs.cost(variant, spec.facts)) if variant else 0.0, alias=variant is None,
        layout_bytes=_layout_bytes(spec))


def _input_buffer(graph: Graph, position: int, name: str, function: str, buffers: dict[str, Buffer]) -> Buffer:
    tensor = graph.tensor(name)
    if tensor.is_constant:
        return Buffer(name, "const", 0, tensor.nbytes, symbol=f"{function}_const_in{position + 1}")
    return buffers[name]
