"""Helium (MVE) kernels on mps3-an547 (Cortex-M55 under QEMU): the MLPerf Tiny models and 4 x 16 block
compressed models bit-exact layer by layer, random graphs over odd shapes, and the instruction counts of
pruned tiles against the dense kernel (deterministic QEMU -icount counts)."""

from pathlib import Path

import pytest

from target_support import require_tools
from toolchain.boards import load_board
from toolchain.run import run_model
from toolchain.ir import save
from random_graphs import random_chain
from mve_tile_blocks import with_tile_blocks

pytestmark = pytest.mark.qemu

BOARD = "mps3-an547"
MATRIX_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def run_on_m55(graph, tmp_path: Path, optimize: str = "balanced", inputs: int = 1, layers: bool = False):
    """Build and run `graph` on the M55; with `layers`, every layer's output is checked."""
    require_tools()
    path = tmp_path / f"{graph.name}.mun"
    save(graph, path)
    report = run_model(path, load_board(BOARD), tmp_path / f"build-{optimize}", inputs, 0, layers, optimize)
    assert report.bit_exact, report.mismatches[:3]
    return report


@pytest.fixture(scope="module")
def kws_runs(imported_model, tmp_path_factory):
    """KWS dense (balanced), and on 4 x 16 blocks (20% dense, 30% unified, 50% pruned) for speed."""
    root = tmp_path_factory.mktemp("kws")
    compressed = with_tile_blocks(imported_model("kws"), seed=3).replace(name="kws_tiles")
    return {"dense": run_on_m55(imported_model("kws"), root / "dense"),
            "tiles": run_on_m55(compressed, root / "tiles", "speed")}


def test_kws_runs_bit_exact_on_helium_kernels(kws_runs):
    assert all(layer.kernel.endswith("_mve") for layer in kws_runs["dense"].layers if layer.op in MATRIX_OPS)


def test_resnet_runs_bit_exact_on_helium_kernels(imported_model, tmp_path):
    report = run_on_m55(imported_model("resnet"), tmp_path)
    kernels = {layer.op: layer.kernel for layer in report.layers}
    assert kernels["CONV_2D"] == "conv_dense_mve" and kernels["ADD"] == "add_mve", kernels


def test_pruned_tiles_cost_fewer_instructions_than_the_dense_kernel(kws_runs):
    """Half the 4 x 16 tiles pruned: each pointwise layer on tiles takes at most 0.85x the dense count."""
    dense = {layer.name: layer.count for layer in kws_runs["dense"].layers}
    tiled = [layer for layer in kws_runs["tiles"].layers if layer.kernel == "conv_tiles_mve"]
    assert len(tiled) >= 3, [layer.kernel for layer in kws_runs["tiles"].layers]
    for layer in tiled:
        assert layer.count <= 0.85 * dense[layer.name], (layer.name, layer.count, dense[layer.name])
    assert kws_runs["tiles"].latency.per_inference < kws_runs["dense"].latency.per_inference


@pytest.mark.parametrize("seed, optimize, tiles", [(21, "speed", False), (46, "balanced", True)])
def test_random_graphs_run_bit_exact_layer_by_layer(tmp_path, seed, optimize, tiles):
    """Odd channel counts and reductions, padding, strides, dilations, pools and ADD; unified tiles stored as
    signs (balanced) on 4 x 16 blocks."""
    graph = random_chain(seed, blocked=False)
    if tiles:
        graph = with_tile_blocks(graph, seed)
    report = run_on_m55(graph, tmp_path, optimize, inputs=2, layers=True)
    kernels = [layer.kernel for layer in report.layers]
    assert sum(k.endswith("_mve") for k in kernels) >= 4, kernels
    assert not tiles or "fc_tiles_signs_mve" in kernels or "conv_tiles_signs_mve" in kernels, kernels


@pytest.mark.parametrize("seed, bi", [(6, 8), (11, 4), (15, 16), (3, 2)])
def test_unpacked_block_weights_run_bit_exact_on_the_dense_helium_kernel(tmp_path, monkeypatch, seed, bi):
    """bo x 16, 8, 4 and 2 blocks of all kinds (row and column tails included) kept as blocks-min and expanded per
    call: every matrix layer forced onto conv/fc_unpack_mve, checked layer by layer."""
    import random_graphs
    from neon_support import run_forced

    monkeypatch.setattr(random_graphs, "BI_CHOICES", (bi,))
    graph = random_chain(seed)
    stems = {"CONV_2D": "conv", "FULLY_CONNECTED": "fc"}
    force = {op.name: f"{stems[op.type]}_unpack_mve" for op in graph.ops if op.type in stems}
    plan, report = run_forced(graph, BOARD, tmp_path, force)
    assert report.bit_exact, report.mismatches[:3]
    assert {layer.layout for layer in plan.layers if layer.name in force} == {"blocks-min"}


@pytest.mark.parametrize("seed, bi", [(16, 4), (6, 8), (4, 16)])
@pytest.mark.parametrize("variant", ["fc_row_blocks_mve", "fc_row_blocks_signs_mve"])
def test_row_block_fully_connected_runs_bit_exact(tmp_path, monkeypatch, seed, bi, variant):
    """bo x 4, 8 and 16 blocks of all kinds on one input vector, pruned blocks skipped, unified ones as int8 or
    as sign words: the fully connected layers that fit forced onto the row-block kernel, checked layer by layer."""
    import random_graphs
    from neon_support import run_forced
    from toolchain.plan import make_plan
    from toolchain.plan.kernels.mve import kernels as mve

    monkeypatch.setattr(random_graphs, "BI_CHOICES", (bi,))
    graph = random_chain(seed)
    fits = [layer.name for layer in make_plan(graph, load_board(BOARD).features, "speed").layers
            if layer.op_type == "FULLY_CONNECTED" and mve.row_blocks_fit(layer.params)]
    assert fits, "the seed must give a fully connected layer the kernel takes"
    plan, report = run_forced(graph, BOARD, tmp_path, {name: variant for name in fits})
    assert report.bit_exact, report.mismatches[:3]
    assert {layer.kernel for layer in report.layers if layer.name in fits} == {variant}
    unified = sum(int(layer.arrays["counts"].values[1::2].sum()) for layer in plan.layers if layer.name in fits)
    assert unified > 0 or variant == "fc_row_blocks_mve", "the seed must give unified blocks to run as sign words"
