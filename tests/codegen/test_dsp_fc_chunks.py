"""The DSP FC kernel requantizes its accumulators in chunks of rows (bounded scratch): rows that cross,
end inside or fall short of a chunk must stay bit-exact, and the arena must not grow with the rows."""

import pytest

from fc_graphs import fc_chain

from toolchain.boards import load_board
from toolchain.run import run_model
from toolchain.ir import save
from toolchain.plan import make_plan
from toolchain.plan.kernels.dsp.kernels import FC_CHUNK_ROWS


@pytest.mark.qemu
def test_fc_rows_across_chunks_are_bit_exact(tmp_path):
    couts = [2 * FC_CHUNK_ROWS + 5, FC_CHUNK_ROWS + 3, 3 * FC_CHUNK_ROWS + 8, FC_CHUNK_ROWS, 7]
    graph = fc_chain("fc_chunks", 50, couts, seed=5)
    path = tmp_path / "fc.mun"
    save(graph, path)
    report = run_model(path, load_board("mps2-an386"), tmp_path / "build", n_inputs=2, seed=1, layers=True)
    assert report.bit_exact, report.mismatches
    assert all(layer.kernel == "fc_dense_dsp" for layer in report.layers)


def test_fc_scratch_does_not_grow_with_rows():
    small = make_plan(fc_chain("fc_chunks", 32, [FC_CHUNK_ROWS], 0), frozenset({"dsp"}))
    large = make_plan(fc_chain("fc_chunks", 32, [8 * FC_CHUNK_ROWS], 0), frozenset({"dsp"}))
    assert small.layers[0].scratch.size == large.layers[0].scratch.size
