"""Host-compiled generic kernels against the reference on random graphs: every op type, random geometry
(strides, paddings, dilations, depth multipliers, broadcasting, activations), random block structures (dense,
unified and pruned blocks, bo in {1,2,4}, bi in {2,4,8,16}, edge blocks) in all three optimize modes."""

import numpy as np
import pytest

from bitexact import assert_layers_match
from random_graphs import random_chain, random_input
from toolchain.ir import OP_TYPES
from toolchain.plan import make_plan
from toolchain.plan.registry import GENERIC_VARIANTS
from toolchain.runners import host

EXPECTED_LAYOUT = {"size": "blocks-min", "balanced": "blocks-index", "speed": "blocks-wide"}  # seen per mode
SEEDS = range(6)


@pytest.mark.parametrize("optimize", ["size", "balanced", "speed"])
@pytest.mark.parametrize("seed", SEEDS)
def test_random_chain_bit_exact(seed, optimize, host_cache):
    graph = random_chain(seed)
    model = host.build_graph(graph, host_cache, optimize=optimize)
    rng = np.random.default_rng(1000 + seed)
    assert_layers_match(graph, model, [random_input(graph, rng) for _ in range(3)])


def test_random_chains_cover_every_op_layout_and_generic_kernel():
    graphs = [random_chain(seed) for seed in SEEDS]
    assert {op.type for g in graphs for op in g.ops} == set(OP_TYPES)
    variants = set()
    for optimize, layout in EXPECTED_LAYOUT.items():
        plans = [make_plan(g, frozenset(), optimize) for g in graphs]
        used = {(layer.op_type, layer.layout) for plan in plans for layer in plan.layers}
        for op_type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            assert (op_type, layout) in used, f"{optimize}: no {op_type} ran the {layout} kernel"
        variants |= {layer.variant for plan in plans for layer in plan.layers}
    # the bit-exact test above therefore runs every generic kernel (a RESHAPE copy has its own test)
    assert {v.name for v in GENERIC_VARIANTS} - {"reshape_copy_generic"} <= variants
    kinds = {int(k) for g in graphs for t in g.tensors.values() if t.blocks is not None for k in t.blocks.kinds.flat}
    assert kinds == {0, 1, 2}
