"""The MLPerf Tiny models, generated and compiled for the host, bit-exact with the reference on every layer;
the same models with random block structures imposed on their weights run the block kernels."""

import pytest

from bitexact import assert_layers_match
from random_graphs import impose_blocks
from toolchain.inputs import draw_inputs
from toolchain import host_build


@pytest.mark.parametrize("name", ["kws", "resnet", "ad01"])
def test_mlperf_tiny_model_bit_exact(name, imported_model, host_cache):
    graph = imported_model(name)
    model = host_build.build_graph(graph, host_cache)
    inputs = [x[0] for x in draw_inputs(graph, 4, seed=7)]
    assert_layers_match(graph, model, inputs)


@pytest.mark.parametrize("name,optimize", [("kws", "size"), ("kws", "speed"), ("resnet", "balanced"),
                                           ("ad01", "size")])
def test_mlperf_tiny_model_with_blocks_bit_exact(name, optimize, imported_model, host_cache):
    graph = impose_blocks(imported_model(name), seed=3)
    model = host_build.build_graph(graph, host_cache, optimize=optimize)
    assert any(layer.layout.startswith("blocks") for layer in model.plan.layers)
    inputs = [x[0] for x in draw_inputs(graph, 2, seed=11)]
    assert_layers_match(graph, model, inputs)
