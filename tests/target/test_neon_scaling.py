"""Pruned blocks leave the NEON instruction stream: exact executed instructions (QEMU plugin under
qemu-aarch64, deterministic) of a 3x3 conv 64 -> 64 with 1x8 blocks, 75% of them pruned, against the same
weights run by the dense NEON kernel. The benchmark (benchmarks/neon_bench.py) has the full sweep."""

from pathlib import Path

import pytest

from target_support import require_tools
from toolchain.boards import load_board
from toolchain.run import run_model
from toolchain.ir import save

from benchmarks.neon_bench import sweep_layer

pytestmark = pytest.mark.qemu


def instructions(graph, board: str, tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / f"{graph.name}.mun"
    save(graph, path)
    report = run_model(path, load_board(board), tmp_path / f"build-{graph.name}", n_inputs=1, seed=1,
                       exact_counts=True)
    assert report.bit_exact
    assert report.latency.instructions_exact is not None, "the QEMU instruction-count plugin did not load"
    return report.latency.instructions_exact.per_inference, report.layers[0].kernel


@pytest.mark.parametrize("board,limit", [("aarch64-linux", 0.6), ("aarch64-linux-dotprod", 0.5)])
def test_pruned_blocks_cost_less_than_the_dense_kernel(board, limit, tmp_path):
    require_tools()
    pruned = sweep_layer(prune=0.75, unify=0.0)
    dense = pruned.with_tensor(pruned.tensor("w").replace(blocks=None)).replace(name="unstructured")
    sparse_count, sparse_kernel = instructions(pruned, board, tmp_path)
    dense_count, dense_kernel = instructions(dense, board, tmp_path)
    assert sparse_kernel.startswith("conv_blocks_") and dense_kernel.startswith("conv_dense_")
    assert sparse_count <= limit * dense_count, (sparse_count, dense_count)
