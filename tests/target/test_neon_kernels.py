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


@pytest.mark.parametrize("seed", [2, 7])
def test_sdot_block_kernel_runs_bit_exact(seed, tmp_path, monkeypatch):
    """The dotprod block path (16 pixels a pass, 4 pixels x 4 inputs a register, SDOT by element, unified
    weights rebuilt): every CONV_2D and FULLY_CONNECTED it applies to forced onto it; bo 1, 2, 4, bi 8 and 16,
    pixel counts that are no multiple of 16, batches."""
    require_tools()
    monkeypatch.setattr(random_graphs, "BI_CHOICES", (8, 16))
    stems = {"CONV_2D": "conv", "FULLY_CONNECTED": "fc"}
    for graph in (random_graphs.random_chain(seed), random_graphs.batched_chain(seed)):
        force = {op.name: f"{stems[op.type]}_blocks_sdot" for op in graph.ops if op.type in stems
                 and f"{stems[op.type]}_blocks_sdot" in _candidates(graph, op, "aarch64-linux-dotprod")}
        assert force, graph.name
        plan, report = run_forced(graph, "aarch64-linux-dotprod", tmp_path / graph.name, force)
        assert report.bit_exact, [(m.layer, m.tensor, m.count) for m in report.mismatches]


def _candidates(graph, op, board: str) -> set[str]:
    from toolchain.plan import layers
    from toolchain.plan.registry import candidates

    spec = layers.build(graph, op, "speed")
    return {v.name for v in candidates(op.type, load_board(board).features, spec.facts.kinds, "speed", spec.params)}


def _block_conv(unified: float, pruned: float = 0.0, out_scale: float = 1.0, activation: str = "NONE") -> "Graph":
    """A 3x3 conv, 32 -> 32 channels, 8x8 pixels, the given fractions of its 1x8 blocks unified and pruned; its
    output scale `out_scale` times one that keeps most outputs inside int8."""
    from toolchain.ir import BlockKind, BlockStructure, Graph, Op, Quant, Tensor, matrix_to_weight

    rng = np.random.default_rng(2)
    cout, cin, k = 32, 32, 3 * 3 * 32
    draw = rng.random((cout, k // 8))
    kinds = np.where(draw < pruned, BlockKind.PRUNED,
                     np.where(draw < pruned + unified, BlockKind.UNIFIED, BlockKind.DENSE)).astype(np.uint8)
    per_weight = np.repeat(kinds, 8, axis=1)
    signed_magnitudes = (np.where(rng.random((cout, k)) < 0.5, -1, 1)
                         * np.repeat(rng.integers(1, 128, (cout, k // 8)), 8, axis=1))
    matrix = np.where(per_weight == BlockKind.UNIFIED, signed_magnitudes, rng.integers(-127, 128, (cout, k)))
    matrix = np.where(per_weight == BlockKind.PRUNED, 0, matrix).astype(np.int8)
    blocks = BlockStructure.from_matrix(matrix, kinds, 1, 8)
    q = lambda scale, zp=0: Quant(np.array([scale]), np.array([zp]))  # noqa: E731
    tensors = {"x": Tensor("x", (1, 10, 10, cin), "int8", q(0.05, 3)),
               "w": Tensor("w", (cout, 3, 3, cin), "int8", q(0.005), matrix_to_weight("CONV_2D", matrix, (cout, 3, 3, cin)),
                           blocks),
               "b": Tensor("b", (cout,), "int32", q(0.05 * 0.005), rng.integers(-3000, 3000, cout).astype(np.int32)),
               "y": Tensor("y", (1, 8, 8, cout), "int8", q(out_scale * 0.05 * 0.005 * 70 * 70 * np.sqrt(k) / 40, -2))}
    op = Op("conv", "CONV_2D", ("x", "w", "b"), ("y",), {"stride": (1, 1), "dilation": (1, 1), "padding": "VALID",
                                                        "activation": activation})
    return Graph(f"block_conv_u{int(unified * 100)}_p{int(pruned * 100)}", tensors, (op,), ("x",), ("y",))


def test_sign_tables_make_unified_blocks_cheaper_than_dense_weights(tmp_path):
    """Exact QEMU counts: on an all-unified layer the table kernel beats the dense NEON kernel on the same weights,
    and the sign-mask block kernel (EOR, SADDLP, SMLAL per 8 weights) by more."""
    require_tools()
    graph = _block_conv(unified=1.0)
    counts = {}
    for kernel in ("conv_blocks_tables_neon", "conv_as_dense_neon", "conv_blocks_neon"):
        plan, report = run_forced(graph, "aarch64-linux", tmp_path / kernel, {"conv": kernel}, inputs=1)
        assert report.bit_exact
        counts[kernel] = report.layers[0].instructions_exact
    assert counts["conv_blocks_tables_neon"] < 0.9 * counts["conv_as_dense_neon"], counts
    assert counts["conv_blocks_tables_neon"] < 0.6 * counts["conv_blocks_neon"], counts


def test_pruned_blocks_make_the_sdot_block_kernel_cheaper_than_dense_sdot(tmp_path):
    """Exact QEMU counts: with half the 1x8 blocks pruned the dotprod block kernel beats the dense SDOT kernel
    on the same weights, and with three quarters pruned by more."""
    require_tools()
    counts = {}
    for pruned in (0.5, 0.75):
        graph = _block_conv(unified=0.0, pruned=pruned)
        for kernel in ("conv_blocks_sdot", "conv_as_dense_sdot"):
            plan, report = run_forced(graph, "aarch64-linux-dotprod", tmp_path / f"{kernel}-{pruned}", {"conv": kernel},
                                      inputs=1)
            assert report.bit_exact
            counts[kernel, pruned] = report.layers[0].instructions_exact
    assert counts["conv_blocks_sdot", 0.5] < 0.85 * counts["conv_as_dense_sdot", 0.5], counts
    assert counts["conv_blocks_sdot", 0.75] < 0.6 * counts["conv_as_dense_sdot", 0.75], counts


@pytest.mark.parametrize("out_scale,activation", [(1e-4, "NONE"), (0.3, "RELU6"), (3.0, "RELU_N1_TO_1")])
def test_sdot_block_kernel_requantizes_rows_like_the_reference(out_scale, activation, tmp_path):
    """The dotprod block path requantizes a row's 16 pixels in registers, clamping after the saturating narrows:
    a multiplier above 1 (a left shift, every output saturated), and activation ranges narrower than int8,
    bit-exact with the reference."""
    require_tools()
    graph = _block_conv(unified=0.3, pruned=0.3, out_scale=out_scale, activation=activation)
    plan, report = run_forced(graph, "aarch64-linux-dotprod", tmp_path, {"conv": "conv_blocks_sdot"})
    assert report.bit_exact, [(m.layer, m.tensor, m.count) for m in report.mismatches]
    assert plan.layers[0].variant == "conv_blocks_sdot"
    assert (plan.layers[0].params["shift"] > 0) == (out_scale < 1e-3)  # the first case shifts left
