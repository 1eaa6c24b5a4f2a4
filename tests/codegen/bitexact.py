"""Compare a host-compiled model with the reference executor, layer by layer, bit for bit."""

from __future__ import annotations

import numpy as np

from toolchain.ir import Graph, reference
from toolchain.runners.host import HostModel


def assert_layers_match(graph: Graph, model: HostModel, inputs: list[np.ndarray]) -> None:
    per_input = model.run_layers(inputs)
    outputs = model.run(inputs)
    for n, (x, layers, output) in enumerate(zip(inputs, per_input, outputs)):
        want = reference.run_all(graph, [x])
        for layer in model.plan.layers:
            expected = want[layer.output.tensor].reshape(-1)
            got = layers[layer.index]
            if not np.array_equal(expected, got):
                bad = np.flatnonzero(expected != got)
                raise AssertionError(
                    f"input {n}, layer {layer.index} '{layer.name}' ({layer.variant}, {layer.layout}): "
                    f"{len(bad)} of {len(expected)} values differ, first at {bad[0]}: "
                    f"C {got[bad[0]]} vs reference {expected[bad[0]]}")
        np.testing.assert_array_equal(output, want[graph.outputs[0]].reshape(-1))
