"""Helpers of the CONV_2D + max pool fusion tests (toolchain.plan.fusion), host and target: a conv requantizing
with shift 0, and an MNIST-shaped chain run layer by layer against its unfused plan."""

from __future__ import annotations

import numpy as np

from benchmarks.kernels import kernel_bench as kb
from toolchain.ir import Graph, save
from toolchain.plan import Plan, make_plan
from toolchain.plan.fusion import POOL_FUSED
from toolchain.run import run_model


def unshifted_conv_case(name: str, rng: np.random.Generator, window: kb.Window, cin: int, cout: int,
                        kernel: str = "") -> kb.Case:
    """Multipliers in [0.55, 0.95]: every shift 0, the fusion's limit (no channel shifts right, so the DSP
    kernels take their C requantization); small inputs and weights keep the outputs inside int8."""
    k = window.kernel_h * window.kernel_w * cin
    matrix = rng.integers(-3, 4, (cout, k)).astype(np.int8)
    q = kb.Requant(0.05, 0, 0.05, int(rng.integers(-10, 10)), rng.uniform(0.55, 0.95, cout))
    x = rng.integers(-4, 5, (1, window.in_h, window.in_w, cin)).astype(np.int8)
    weights = kb.matrix_to_weight("CONV_2D", matrix, (cout, window.kernel_h, window.kernel_w, cin))
    graph = kb._layer_graph(name, "CONV_2D", x, weights, rng.integers(-20, 20, cout).astype(np.int32),
                            (1, window.out_h, window.out_w, cout), q, window.attrs)
    return kb.Case(name, graph, kernel, x)


def run_fused_chain(tmp_path, target, graph: Graph, optimize: str, pools: int = 3) -> Plan:
    """Runs `graph` on `target` layer by layer (munify run --layers) and checks it bit-exact with `pools` max pools
    fused, in the arena its fused plan has, smaller than the unfused plan's. Returns the fused plan."""
    fused = make_plan(graph, target.features, optimize, cpu=target.cpu)
    unfused = make_plan(graph, target.features, optimize, cpu=target.cpu, fuse_pools=False)
    variants = [layer.variant for layer in fused.layers]
    assert variants.count(POOL_FUSED) == pools, variants
    assert fused.arena_size < unfused.arena_size
    path = tmp_path / "mnist_chain.mun"
    save(graph, path)
    report = run_model(path, target, tmp_path / "build", 2, 0, True, optimize)
    assert report.bit_exact, report.mismatches[:3]
    assert [layer.kernel for layer in report.layers].count(POOL_FUSED) == pools
    assert report.memory.arena_bytes == fused.arena_size
    return fused
