"""Chains of int8 fully connected layers with seeded random weights, shared by codegen and target tests."""

import numpy as np

from toolchain.ir import Graph, Op, Quant, Tensor


def fc_chain(name: str, cin: int, couts: list[int] | tuple[int, ...], seed: int) -> Graph:
    """FULLY_CONNECTED layers cin -> couts[0] -> couts[1] ..., per-channel weight scales."""
    rng = np.random.default_rng(seed)
    tensors = {"x": Tensor("x", (1, cin), "int8", Quant([0.05], [3]))}
    ops, prev, rows_in = [], "x", cin
    for i, cout in enumerate(couts):
        tensors[f"w{i}"] = Tensor(f"w{i}", (cout, rows_in), "int8",
                                  Quant(rng.uniform(0.002, 0.01, cout), np.zeros(cout), axis=0),
                                  rng.integers(-127, 128, (cout, rows_in)).astype(np.int8))
        tensors[f"b{i}"] = Tensor(f"b{i}", (cout,), "int32", Quant(np.full(cout, 1e-4), np.zeros(cout), axis=0),
                                  rng.integers(-2000, 2000, cout).astype(np.int32))
        tensors[f"y{i}"] = Tensor(f"y{i}", (1, cout), "int8", Quant([0.2], [-5]))
        ops.append(Op(f"fc{i}", "FULLY_CONNECTED", (prev, f"w{i}", f"b{i}"), (f"y{i}",)))
        prev, rows_in = f"y{i}", cout
    return Graph(name, tensors, tuple(ops), ("x",), (prev,))
