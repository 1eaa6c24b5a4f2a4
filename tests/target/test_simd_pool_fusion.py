"""CONV_2D fused with its 2x2 / stride 2 MAX_POOL_2D (toolchain.plan.fusion) on the Helium (mps3-an547) and NEON
(aarch64-linux, aarch64-linux-dotprod) kernels: every fusing kernel, forced, over odd shapes bit for bit against
the reference (the fused conv's output is the pool's), and MNIST-CNN-shaped models layer by layer in a smaller
arena than the unfused plan's."""

import dataclasses

import numpy as np
import pytest

import toolchain.codegen as codegen
import toolchain.run as run
from benchmarks.kernels import kernel_bench as kb
from target_support import require_tools
from toolchain.boards import load_board
from toolchain.ir import save
from toolchain.plan import make_plan
from toolchain.plan.fusion import POOL_FUSED
from toolchain.run import run_model

from pool_fusion_support import run_fused_chain, unshifted_conv_case
from random_graphs import mnist_cnn_chain

pytestmark = pytest.mark.qemu

MVE, NEON, SDOT = "mps3-an547", "aarch64-linux", "aarch64-linux-dotprod"


def _no_min_weight(case: kb.Case) -> kb.Case:
    """-128 weights clipped to -127: the NEON kernels' int16 pair sums take none (the plan checks it)."""
    graph = case.graph
    w = graph.tensor(graph.ops[0].inputs[1])
    return dataclasses.replace(case, graph=graph.with_tensor(
        dataclasses.replace(w, data=np.maximum(w.data, -127).astype(np.int8))))


def _dense_cases() -> list[kb.Case]:
    rng = np.random.default_rng(21)
    conv, pool = kb.conv_case, kb.with_max_pool
    return [_no_min_weight(case) for case in [
        pool(conv("mnist1", rng, kb.Window(28, 28, 3, 3), 1, 16, activation="NONE")),
        pool(conv("odd_rows_relu", rng, kb.Window(9, 7, 3, 3), 5, 9, activation="RELU")),  # 7 x 7: column 6 unread
        pool(conv("in_place", rng, kb.Window(8, 10, 3, 3), 16, 12, activation="NONE")),  # kw * cin % 16 == 0
        pool(conv("pointwise", rng, kb.Window(6, 8, 1, 1, pad="VALID"), 16, 11)),
        pool(conv("stride2", rng, kb.Window(13, 12, 3, 3, stride=2, pad="VALID"), 3, 7)),
        pool(conv("rgb_5x5", rng, kb.Window(9, 10, 5, 5), 3, 6)),
        pool(conv("huge_bias", rng, kb.Window(4, 6, 3, 3), 8, 12, huge_bias=True)),
        pool(conv("pool_relu", rng, kb.Window(8, 8, 3, 3), 4, 7, activation="NONE"), activation="RELU"),
        pool(conv("relu_n1", rng, kb.Window(6, 6, 3, 3), 8, 10, activation="RELU_N1_TO_1")),
        pool(unshifted_conv_case("unshifted", rng, kb.Window(6, 6, 3, 3), 8, 10)),
        pool(conv("dilated", rng, kb.Window(11, 10, 3, 3, dilation=2), 5, 9)),
    ]]


def _block_cases() -> list[kb.Case]:
    """1 x 8, 2 x 8 and 1 x 16 blocks; window counts that leave a partial last pass, rows that leave ST4 tails."""
    rng = np.random.default_rng(22)
    blocks, pool = kb.blocks_case, kb.with_max_pool
    return [_no_min_weight(case) for case in [
        pool(blocks("b1x8", rng, 24, 144, 1, 8, window=kb.Window(14, 14, 3, 3), cin=16, activation="NONE")),
        pool(blocks("b1x8_tail", rng, 13, 72, 1, 8, window=kb.Window(6, 10, 3, 3), cin=8, activation="RELU")),
        pool(blocks("b2x8_odd", rng, 10, 144, 2, 8, window=kb.Window(7, 9, 3, 3), cin=16)),
        pool(blocks("b1x16", rng, 6, 144, 1, 16, window=kb.Window(8, 8, 3, 3), cin=16)),
        pool(blocks("b1x8_huge_bias", rng, 12, 72, 1, 8, window=kb.Window(4, 6, 3, 3), cin=8, huge_bias=True)),
        pool(blocks("b1x8_dilated", rng, 12, 72, 1, 8, window=kb.Window(13, 12, 3, 3, dilation=2), cin=8)),
    ]]


DENSE_KERNELS = [(MVE, "conv_dense_mve"), (NEON, "conv_dense_neon"), (SDOT, "conv_dense_sdot")]
BLOCK_KERNELS = [(MVE, "conv_unpack_mve"), (MVE, "conv_as_dense_mve"), (NEON, "conv_blocks_neon"),
                 (NEON, "conv_blocks_tables_neon"), (SDOT, "conv_blocks_sdot"), (SDOT, "conv_blocks_tables_sdot")]


def _fits(kernel: str, case: kb.Case) -> bool:
    """The block kernels' own limits: tables take bo 1 / 2 with bi 8; unpack needs 32 output pixels."""
    blocks = case.graph.tensor(case.graph.ops[0].inputs[1]).blocks
    if "tables" in kernel:
        return blocks.bi == 8 and blocks.bo <= 2
    if "unpack" in kernel:
        return int(np.prod(case.graph.tensor("y").shape[1:3])) >= 32
    return True


def _forcing(monkeypatch, force: dict) -> None:
    """The build's and the report's plans with `force` (the build path has no option for it)."""
    plan = make_plan

    def forced(graph, features, optimize="balanced", cpu=None):
        return plan(graph, features, optimize, force=force, cpu=cpu)
    monkeypatch.setattr(codegen, "make_plan", forced)
    monkeypatch.setattr(run, "make_plan", forced)


def _run_forced(monkeypatch, tmp_path, board_name: str, kernel: str, cases: list[kb.Case]) -> None:
    require_tools()
    board = load_board(board_name)
    wrong = {}
    for case in cases:
        force = {case.graph.ops[0].name: kernel}
        planned = make_plan(case.graph, board.features, "speed", force=force, cpu=board.cpu)
        assert planned.layers[0].params["pool_fused"] and planned.layers[1].variant == POOL_FUSED, case.name
        _forcing(monkeypatch, force)
        path = tmp_path / f"{case.name}.mun"
        save(case.graph, path)
        report = run_model(path, board, tmp_path / f"build-{case.name}", 2, 0, True, "speed")
        assert [layer.kernel for layer in report.layers] == [kernel, POOL_FUSED], case.name
        if not report.bit_exact:
            wrong[case.name] = report.mismatches[:2]
    assert not wrong, wrong


@pytest.mark.parametrize("board, kernel", DENSE_KERNELS)
def test_fused_dense_kernels_match_the_reference_pool_bit_for_bit(monkeypatch, tmp_path, board, kernel):
    _run_forced(monkeypatch, tmp_path, board, kernel, _dense_cases())


@pytest.mark.parametrize("board, kernel", BLOCK_KERNELS)
def test_fused_block_kernels_match_the_reference_pool_bit_for_bit(monkeypatch, tmp_path, board, kernel):
    cases = [case for case in _block_cases() if _fits(kernel, case)]
    assert len(cases) >= 3
    _run_forced(monkeypatch, tmp_path, board, kernel, cases)


@pytest.mark.parametrize("board, block_shape, optimize, kernels", [
    (MVE, None, "speed", {"conv_dense_mve"}),
    (MVE, (1, 8), "balanced", {"conv_dense_mve", "conv_unpack_mve"}),
    (NEON, None, "balanced", {"conv_dense_neon"}),
    (NEON, (1, 8), "balanced", {"conv_dense_neon", "conv_as_dense_neon", "conv_blocks_tables_neon"}),
    (NEON, (1, 16), "balanced", {"conv_dense_neon", "conv_as_dense_neon", "conv_blocks_neon"}),
    (SDOT, (1, 8), "speed", {"conv_dense_sdot", "conv_as_dense_sdot"}),
    (SDOT, (1, 8), "balanced", {"conv_dense_sdot", "conv_blocks_sdot"}),
])
def test_mnist_shaped_models_with_fused_pools_are_bit_exact_layer_by_layer(tmp_path, board, block_shape, optimize,
                                                                         kernels):
    require_tools()
    fused = run_fused_chain(tmp_path, load_board(board), mnist_cnn_chain(7, block_shape, activation="RELU"), optimize)
    variants = {layer.variant for layer in fused.layers}
    assert {v for v in variants if v.startswith("conv_")} == kernels, variants
