"""Host-compiled generic kernels against the reference on random graphs: every op type, random geometry
(strides, paddings, dilations, depth multipliers, broadcasting, activations), random block structures (dense,
unified and pruned blocks, bo in {1,2,4}, bi in {2,4,8,16}, edge blocks) in all three optimize modes."""

import numpy as np
import pytest

from bitexact import assert_layers_match
from random_graphs import batched_chain, forced_kernels, random_chain, random_input
from toolchain.errors import MunifyError
from toolchain.ir import OP_TYPES
from toolchain.plan import make_plan
from toolchain.plan.kernels.generic import GENERIC_VARIANTS
from toolchain import host_build

EXPECTED_LAYOUT = {"size": "blocks-min", "balanced": "blocks-index", "speed": "blocks-wide"}
SEEDS = range(6)


@pytest.mark.parametrize("optimize", ["size", "balanced", "speed"])
@pytest.mark.parametrize("seed", SEEDS)
def test_random_chain_bit_exact(seed, optimize, host_cache):
    graph = random_chain(seed)
    model = host_build.build_graph(graph, host_cache, optimize=optimize)
    rng = np.random.default_rng(1000 + seed)
    assert_layers_match(graph, model, [random_input(graph, rng) for _ in range(3)])


@pytest.mark.parametrize("seed", SEEDS)
def test_every_generic_kernel_bit_exact(seed, host_cache):
    graph = random_chain(seed)
    force = forced_kernels(graph, seed)
    plan = make_plan(graph, frozenset(), "balanced", force=force)
    assert {layer.name: layer.variant for layer in plan.layers if layer.name in force} == force
    rng = np.random.default_rng(2000 + seed)
    assert_layers_match(graph, host_build.build(plan, host_cache), [random_input(graph, rng) for _ in range(2)])


def test_random_chains_cover_every_op_block_kind_and_generic_kernel():
    graphs = [random_chain(seed) for seed in SEEDS]
    assert {op.type for g in graphs for op in g.ops} == set(OP_TYPES)
    kinds = {int(k) for g in graphs for t in g.tensors.values() if t.blocks is not None for k in t.blocks.kinds.flat}
    assert kinds == {0, 1, 2}
    forced = {name for seed, g in zip(SEEDS, graphs) for name in forced_kernels(g, seed).values()}
    automatic = {layer.variant for g in graphs for optimize in EXPECTED_LAYOUT
                 for layer in make_plan(g, frozenset(), optimize).layers}
    # a RESHAPE copy has a test of its own
    assert {v.name for v in GENERIC_VARIANTS} - {"reshape_copy_generic"} <= forced | automatic
    for optimize, layout in EXPECTED_LAYOUT.items():
        layouts = {layer.layout for g in graphs for layer in make_plan(g, frozenset(), optimize).layers}
        assert layout in layouts, f"--optimize {optimize} never chose the {layout} layout"


def test_forcing_an_unknown_or_unfit_kernel_names_the_choices():
    graph = random_chain(0)
    with pytest.raises(MunifyError, match="choose one of"):
        make_plan(graph, frozenset(), force={graph.ops[0].name: "conv_magic"})
    with pytest.raises(MunifyError, match="no such op"):
        make_plan(graph, frozenset(), force={"nope": "conv_dense_generic"})


@pytest.mark.parametrize("seed", range(2))
def test_batched_graph_bit_exact(seed, host_cache):
    graph = batched_chain(seed)
    for optimize in ("size", "speed"):
        model = host_build.build_graph(graph, host_cache, optimize=optimize)
        assert_layers_match(graph, model, [random_input(graph, np.random.default_rng(seed))])


def test_depthwise_with_many_taps_bit_exact(host_cache):
    """25 taps: the tap loop is not unrolled; every depthwise kernel runs it."""
    from random_graphs import ChainBuilder

    rng = np.random.default_rng(5)
    b = ChainBuilder(rng, (1, 7, 6, 9))
    b.depthwise(kernel=(5, 5))
    graph = b.graph("depthwise_5x5")
    name = graph.ops[0].name
    for kernel in dict.fromkeys(v.name for v in GENERIC_VARIANTS if v.op_type == "DEPTHWISE_CONV_2D"):
        plan = make_plan(graph, frozenset(), force={name: kernel})
        assert plan.layers[0].params["taps"] == 25 and not plan.layers[0].params["unroll_taps"]
        assert_layers_match(graph, host_build.build(plan, host_cache), [random_input(graph, rng)])
