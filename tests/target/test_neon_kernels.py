"""Every NEON kernel on random layers: odd channel counts, row and column tails, strides, dilations, padding,
batches, per-tensor and per-channel requantization, bo x bi blocks with all three kinds (bi 8 and 16), each
layer forced onto an applicable NEON kernel in turn and checked bit for bit under qemu-aarch64."""

import numpy as np
import pytest

from neon_support import MATRIX_OPS, NEON_NAMES, neon_force, run_forced
from target_support import require_tools
from toolchain.boards import load_board
import random_graphs

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


def _table_chain(seed: int):
    """conv -> conv -> FULLY_CONNECTED over the pixels (a batch of at least 4), 1x8 and 2x8 blocks of all kinds:
    row and column tails, pixel counts that are no multiple of a pass."""
    rng = np.random.default_rng(seed)
    b = random_graphs.ChainBuilder(rng, (1, int(rng.integers(5, 9)), int(rng.integers(4, 8)), int(rng.integers(9, 20))))
    b.conv()
    b.conv()
    b.fully_connected(int(rng.integers(3, 12)))
    return b.graph(f"table_chain_{seed}")


@pytest.mark.parametrize("board,suffix", [("aarch64-linux", "neon"), ("aarch64-linux-dotprod", "sdot")])
def test_sign_table_kernels_run_bit_exact(board, suffix, tmp_path, monkeypatch):
    require_tools()
    monkeypatch.setattr(random_graphs, "BO_CHOICES", (1, 2))
    monkeypatch.setattr(random_graphs, "BI_CHOICES", (8,))
    graph = _table_chain(6 if suffix == "neon" else 18)  # seeds whose three layers all hold unified blocks
    stems = {"CONV_2D": "conv", "FULLY_CONNECTED": "fc"}
    force = {op.name: f"{stems[op.type]}_blocks_tables_{suffix}" for op in graph.ops}
    plan, report = run_forced(graph, board, tmp_path, force)
    assert report.bit_exact, [(m.layer, m.tensor, m.count) for m in report.mismatches]
    assert [layer.layout for layer in plan.layers] == ["neon-blocks-tables"] * 3
    assert all(layer.arrays["table_cols"].length > 0 for layer in plan.layers)  # unified blocks in every layer


def _unified_conv() -> "Graph":
    """A 3x3 conv, 32 -> 32 channels, 8x8 pixels, every 1x8 block unified."""
    from toolchain.ir import BlockStructure, Graph, Op, Quant, Tensor, matrix_to_weight

    rng = np.random.default_rng(2)
    cout, cin, k = 32, 32, 3 * 3 * 32
    matrix = (np.where(rng.random((cout, k)) < 0.5, -1, 1)
              * np.repeat(rng.integers(1, 128, (cout, k // 8)), 8, axis=1)).astype(np.int8)
    blocks = BlockStructure.from_matrix(matrix, np.ones((cout, k // 8), np.uint8), 1, 8)
    q = lambda scale, zp=0: Quant(np.array([scale]), np.array([zp]))  # noqa: E731
    tensors = {"x": Tensor("x", (1, 10, 10, cin), "int8", q(0.05, 3)),
               "w": Tensor("w", (cout, 3, 3, cin), "int8", q(0.005), matrix_to_weight("CONV_2D", matrix, (cout, 3, 3, cin)),
                           blocks),
               "b": Tensor("b", (cout,), "int32", q(0.05 * 0.005), rng.integers(-3000, 3000, cout).astype(np.int32)),
               "y": Tensor("y", (1, 8, 8, cout), "int8", q(0.05 * 0.005 * 70 * 70 * np.sqrt(k) / 40, -2))}
    op = Op("conv", "CONV_2D", ("x", "w", "b"), ("y",), {"stride": (1, 1), "dilation": (1, 1), "padding": "VALID",
                                                        "activation": "NONE"})
    return Graph("unified_conv", tensors, (op,), ("x",), ("y",))


def test_sign_tables_make_unified_blocks_cheaper_than_dense_weights(tmp_path):
    """Exact QEMU counts: on an all-unified layer the table kernel beats the dense NEON kernel on the same weights,
    and the sign-mask block kernel (EOR, SADDLP, SMLAL per 8 weights) by more."""
    require_tools()
    graph = _unified_conv()
    counts = {}
    for kernel in ("conv_blocks_tables_neon", "conv_as_dense_neon", "conv_blocks_neon"):
        plan, report = run_forced(graph, "aarch64-linux", tmp_path / kernel, {"conv": kernel}, inputs=1)
        assert report.bit_exact
        counts[kernel] = report.layers[0].instructions_exact
    assert counts["conv_blocks_tables_neon"] < 0.9 * counts["conv_as_dense_neon"], counts
    assert counts["conv_blocks_tables_neon"] < 0.6 * counts["conv_blocks_neon"], counts
