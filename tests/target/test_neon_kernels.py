"""Every NEON kernel on random layers: odd channel counts, row and column tails, strides, dilations, padding,
batches, per-tensor and per-channel requantization, bo x bi blocks with all three kinds (bi 8 and 16), each
layer forced onto an applicable NEON kernel in turn and checked bit for bit under qemu-aarch64."""

import sys
from pathlib import Path

import pytest

from neon_support import MATRIX_OPS, NEON_NAMES, neon_force, run_forced
from target_support import require_tools
from toolchain.boards import load_board

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "codegen"))
import random_graphs  # noqa: E402

pytestmark = pytest.mark.qemu


@pytest.mark.parametrize("board,seed", [("aarch64-linux", 1), ("aarch64-linux", 4),
                                        ("aarch64-linux-dotprod", 5), ("aarch64-linux-dotprod", 9)])
def test_random_layers_run_bit_exact_on_neon_kernels(board, seed, tmp_path, monkeypatch):
    require_tools()
    monkeypatch.setattr(random_graphs, "BI_CHOICES", (8, 16))  # the block widths of the NEON block kernel
    for graph in (random_graphs.random_chain(seed), random_graphs.batched_chain(seed)):
        force = neon_force(graph, load_board(board).features, seed)
        plan, report = run_forced(graph, board, tmp_path / graph.name, force)
        assert report.bit_exact, [(m.layer, m.tensor, m.count) for m in report.mismatches]
        used = [layer.variant for layer in plan.layers if layer.op_type in MATRIX_OPS]
        assert sum(name in NEON_NAMES for name in used) >= len(used) - 2, used  # dm > 1 depthwise stays generic
