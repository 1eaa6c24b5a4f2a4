"""The DSP FC kernel requantizes its accumulators in chunks of rows (bounded scratch): rows that cross,
end inside or fall short of a chunk must stay bit-exact, and the arena must not grow with the rows."""

import numpy as np
import pytest

from toolchain.boards import load_board
from toolchain.harness.session import run_model
from toolchain.ir import Graph, Op, Quant, Tensor, save
from toolchain.plan import make_plan
from toolchain.plan.dsp import FC_CHUNK_ROWS


def _fc_chain(cin: int, couts: list[int], seed: int) -> Graph:
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
    return Graph("fc_chunks", tensors, tuple(ops), ("x",), (prev,))


@pytest.mark.qemu
def test_fc_rows_across_chunks_are_bit_exact(tmp_path):
    couts = [2 * FC_CHUNK_ROWS + 5, FC_CHUNK_ROWS + 3, 3 * FC_CHUNK_ROWS + 8, FC_CHUNK_ROWS, 7]
    graph = _fc_chain(50, couts, seed=5)
    path = tmp_path / "fc.mun"
    save(graph, path)
    report = run_model(path, load_board("mps2-an386"), tmp_path / "build", n_inputs=2, seed=1, layers=True)
    assert report.bit_exact, report.mismatches
    assert all(layer.kernel == "fc_dense_dsp" for layer in report.layers)


def test_fc_scratch_does_not_grow_with_rows():
    small = make_plan(_fc_chain(32, [FC_CHUNK_ROWS], 0), frozenset({"dsp"}))
    large = make_plan(_fc_chain(32, [8 * FC_CHUNK_ROWS], 0), frozenset({"dsp"}))
    assert small.layers[0].scratch.size == large.layers[0].scratch.size
