"""The plan: arena placement never lets two live tensors overlap, RESHAPE aliases, in-place ADD, layout
choice per optimize mode, `munify plan`, and the errors a user can hit."""

import json

import numpy as np
import pytest

from bitexact import assert_layers_match
from random_graphs import ChainBuilder, impose_blocks, random_chain, random_input
from toolchain import host_build
from toolchain.cli import main
from toolchain.errors import MunifyError
from toolchain.ir import Graph, save
from toolchain.plan import make_plan
from toolchain.plan.registry import BALANCED_BYTES_ALLOWANCE


def _live_ranges(graph: Graph) -> dict[str, tuple[int, int]]:
    ranges = {}
    for index, op in enumerate(graph.ops):
        for name in list(op.inputs) + list(op.outputs):
            if name and not graph.tensor(name).is_constant:
                first, _ = ranges.get(name, (index, index))
                ranges[name] = (min(first, index), index)
    return ranges


def _shares_storage(plan, a: str, b: str) -> bool:
    """RESHAPE aliases and in-place ADD/MUL outputs legitimately share their input's bytes."""
    for layer in plan.layers:
        first_input = layer.inputs[0].tensor
        if (layer.alias or layer.output.offset == layer.inputs[0].offset) and {a, b} == {first_input, layer.output.tensor}:
            return True
    return False


def assert_arena_is_safe(graph: Graph, plan) -> None:
    ranges = _live_ranges(graph)
    arena = {n: b for n, b in plan.buffers.items() if b.region == "arena"}
    for index, layer in enumerate(plan.layers):
        live = [n for n in arena if ranges[n][0] <= index <= ranges[n][1]]
        spans = [(n, arena[n].offset, arena[n].offset + arena[n].size) for n in live]
        if layer.scratch is not None:
            spans.append(("scratch", layer.scratch.offset, layer.scratch.offset + layer.scratch.size))
        for _, start, end in spans:
            assert 0 <= start and end <= plan.arena_size
        for i, (a, a0, a1) in enumerate(spans):
            for b, b0, b1 in spans[i + 1:]:
                if a1 > b0 and b1 > a0:
                    assert _shares_storage(plan, a, b), f"layer {index}: '{a}' and '{b}' overlap in the arena"


@pytest.mark.parametrize("name", ["kws", "resnet", "ad01"])
def test_arena_of_the_mlperf_models_is_safe_and_tight(name, imported_model):
    graph = imported_model(name)
    plan = make_plan(graph, frozenset())
    assert_arena_is_safe(graph, plan)
    # never more than all intermediate tensors and scratch buffers side by side
    total = sum(b.size for b in plan.buffers.values() if b.region == "arena")
    assert plan.arena_size <= total + sum(l.scratch.size for l in plan.layers if l.scratch)


@pytest.mark.parametrize("seed", range(10))
def test_arena_of_random_graphs_is_safe(seed):
    graph = random_chain(seed)
    assert_arena_is_safe(graph, make_plan(graph, frozenset(), "speed"))


def test_reshape_aliases_its_input_and_runs_no_code(imported_model):
    plan = make_plan(imported_model("kws"), frozenset())
    assert "reshape_alias" in str(plan) and "arena      16000 bytes" in str(plan)
    reshape = next(layer for layer in plan.layers if layer.op_type == "RESHAPE")
    assert reshape.alias and reshape.variant == "reshape_alias"
    assert reshape.output.offset == reshape.inputs[0].offset and reshape.output.region == "arena"
    assert reshape.source not in plan.sources


def test_resnet_add_runs_in_place(imported_model):
    plan = make_plan(imported_model("resnet"), frozenset())
    adds = [layer for layer in plan.layers if layer.op_type == "ADD"]
    assert any(layer.output.offset == layer.inputs[0].offset for layer in adds)


def test_reshape_of_the_input_to_the_output_copies_and_intermediates_can_live_in_the_output(host_cache):
    rng = np.random.default_rng(0)
    b = ChainBuilder(rng, (1, 4, 4, 3))
    b.reshape((1, 48))
    copy_graph = b.graph("copy")
    plan = make_plan(copy_graph, frozenset())
    assert plan.layers[0].variant == "reshape_copy_generic" and plan.arena_size == 0
    assert_layers_match(copy_graph, host_build.build(plan, host_cache), [random_input(copy_graph, rng)])

    b = ChainBuilder(rng, (1, 5, 5, 4))
    b.conv()
    b.reshape((1, int(np.prod(b.shape()))))
    graph = b.graph("tail_reshape")
    plan = make_plan(graph, frozenset())
    assert plan.layers[0].output.region == "output" and plan.layers[1].alias
    assert_layers_match(graph, host_build.build(plan, host_cache), [random_input(graph, rng)])


def test_size_packs_smallest_speed_estimates_fastest_balanced_in_between(imported_model):
    graph = impose_blocks(imported_model("kws"), seed=1)
    plans = {mode: make_plan(graph, frozenset(), mode) for mode in ("size", "balanced", "speed")}
    weights = {mode: sum(l.weight_bytes for l in p.layers) for mode, p in plans.items()}
    cost = {mode: sum(l.cost for l in p.layers) for mode, p in plans.items()}
    assert weights["size"] <= weights["balanced"] <= weights["speed"]
    assert cost["speed"] <= cost["balanced"] <= cost["size"]
    assert weights["size"] < make_plan(imported_model("kws"), frozenset()).const_bytes * 0.75
    for layer in plans["size"].layers:
        w = graph.weight_of(graph.ops[layer.index])
        if w is not None and not w.blocks.is_dense:
            assert layer.layout == "blocks-min"
            assert layer.layout_bytes["blocks-min"] == w.blocks.stored_bytes()


def test_plan_errors_name_the_problem(imported_model):
    graph = imported_model("ad01")
    with pytest.raises(MunifyError, match="optimize"):
        make_plan(graph, frozenset(), "fastest")
    two_outputs = graph.replace(outputs=graph.outputs + (graph.ops[0].outputs[0],))
    with pytest.raises(MunifyError, match="exactly one input and one output"):
        make_plan(two_outputs, frozenset())
    w = graph.weight_of(graph.ops[0])
    shifted = w.replace(quant=type(w.quant)(w.quant.scale, np.full(len(w.quant.scale), 3), w.quant.axis))
    with pytest.raises(MunifyError, match="zero point"):
        make_plan(graph.with_tensor(shifted), frozenset())


def test_plan_command_prints_text_and_json(tmp_path, imported_model, capsys):
    path = tmp_path / "kws.mun"
    save(imported_model("kws"), path)
    assert main(["plan", str(path), "--features", "fpu", "--optimize", "size"]) == 0
    text = capsys.readouterr().out
    assert "conv_dense_generic" in text and "arena" in text and "reshape_alias" in text
    assert main(["plan", str(path), "--features", "", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["arena_size"] == make_plan(imported_model("kws"), frozenset()).arena_size
    assert [layer["kernel"] for layer in doc["layers"]][-1] == "softmax_generic"
    assert main(["plan", str(path), "--features", "avx"]) == 2
    assert "unknown feature" in capsys.readouterr().err
    assert main(["plan", str(path), "--features", "", "--kernel", "conv_2d_2=conv_blocks_wide_generic"]) == 0
    assert "conv_blocks_wide_generic" in capsys.readouterr().out
    assert main(["plan", str(path), "--features", "", "--kernel", "conv_2d_2"]) == 2
    assert "OP=KERNEL" in capsys.readouterr().err


class OwnCosts:
    """Cost tables for toy variants outside any kernel family: each variant's own cost."""

    def cost(self, variant, facts):
        return variant.cost(facts)


def _toy_fc_variants():
    """Three FC kernels of one layer: fast and big, a little slower and much smaller, slow and smallest."""
    from toolchain.plan.variant import ALL_KINDS, KernelVariant

    def fc(name, cost):
        return KernelVariant(name, "FULLY_CONNECTED", "t.c.j2", lambda f, c=cost: c, block_kinds=ALL_KINDS)

    sizes = {"fast": 16_384, "compact": 6_000, "tiny": 5_000 - BALANCED_BYTES_ALLOWANCE}
    return (fc("fast", 1_000), fc("compact", 1_100), fc("tiny", 9_000)), lambda v: sizes[v.name]


def test_balanced_trades_instructions_for_bytes_at_the_models_exchange_rate(monkeypatch):
    """balanced = min cost + price x bytes (beyond the smallest + BALANCED_BYTES_ALLOWANCE), price =
    BALANCED_EXCHANGE x the fastest plan's instructions per byte: 10% more instructions for 63% fewer bytes is
    taken, 9x the instructions for 6% fewer bytes more is not."""
    from toolchain.plan import registry
    from toolchain.plan.variant import ALL_KINDS, LayerFacts

    variants, sizes = _toy_fc_variants()
    monkeypatch.setattr(registry, "all_variants", lambda: variants)
    facts = LayerFacts("FULLY_CONNECTED", 1, 128, 128, kinds=ALL_KINDS)

    def pick(optimize, price=0.0):
        return registry.select_variant("FULLY_CONNECTED", facts, frozenset(), optimize, {}, sizes, OwnCosts(), price).name

    price = registry.balanced_byte_price([(1_000, 16_384)])
    assert price == pytest.approx(registry.BALANCED_EXCHANGE * 1_000 / 16_384)
    assert (pick("speed"), pick("size"), pick("balanced", price)) == ("fast", "tiny", "compact")
    assert pick("balanced") == "fast"  # no price: the fastest
    # the same layer in a model whose other layers hold 100x its bytes for its instructions: bytes are cheap
    assert pick("balanced", registry.balanced_byte_price([(1_000, 16_384), (1_000, 1_638_400)])) == "fast"
    assert registry.balanced_byte_price([(500, 0)]) == 0.0
    # padding: 1,000 more bytes for 5% fewer instructions stays fast however dear bytes are
    sizes_padded = {"fast": 7_000, "compact": 6_000, "tiny": 6_000}
    assert registry.select_variant("FULLY_CONNECTED", facts, frozenset(), "balanced", {},
                                   lambda v: sizes_padded[v.name], OwnCosts(), 1e6).name == "fast"


def _packed_weight_bytes(layer) -> int:
    return sum(a.nbytes for role, a in layer.arrays.items() if role not in ("bias", "mult", "shift", "zp_row", "lut_cols"))


@pytest.mark.parametrize("model, features", [("ad01", {"dsp", "fpu", "mve"})])
def test_balanced_plan_minimises_instructions_plus_priced_bytes(imported_model, model, features):
    """Over a 1x8-compressed model, balanced's objective is at most speed's and size's, per layer; on
    the M55 the ad01 layers stay within 1.1x the fastest (no DSP block kernel several times slower)."""
    from toolchain.compress.post_training import compress_graph
    from toolchain.plan.registry import balanced_byte_price

    graph = compress_graph(imported_model(model), 1, 8, 0.2, 0.3)
    plans = {mode: make_plan(graph, frozenset(features), mode) for mode in ("size", "balanced", "speed")}
    price = balanced_byte_price((layer.cost, _packed_weight_bytes(layer)) for layer in plans["speed"].layers)
    assert price > 0
    for i, layer in enumerate(plans["speed"].layers):
        if layer.layout == "none":
            continue
        free = _packed_weight_bytes(plans["size"].layers[i]) + BALANCED_BYTES_ALLOWANCE

        def objective(lay):
            return lay.cost + price * max(0, _packed_weight_bytes(lay) - free)

        b = plans["balanced"].layers[i]
        for other in (layer, plans["size"].layers[i]):
            assert objective(b) <= objective(other) + 1, (b.name, b.variant, other.variant)
    if "mve" in features:
        assert sum(l.cost for l in plans["balanced"].layers) <= 1.1 * sum(l.cost for l in plans["speed"].layers)
