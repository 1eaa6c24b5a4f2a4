"""MNIST-CNN-shaped models with their max pools fused into the convs (toolchain.plan.fusion) on the Cortex-M
DSP boards under QEMU: every layer's output, the fused conv's being the pool's, bit for bit against the
reference, in a smaller arena than the unfused plan's."""

import numpy as np
import pytest

from benchmarks.kernels import kernel_bench as kb
from toolchain.boards import load_board
from toolchain.ir import save
from toolchain.plan import make_plan
from toolchain.plan.fusion import POOL_FUSED
from toolchain.run import run_model

from pool_fusion_support import run_fused_chain
from random_graphs import mnist_cnn_chain


@pytest.mark.qemu
@pytest.mark.parametrize("board, block_shape, optimize", [
    ("mps2-an386", None, "speed"),  # conv1ch, dense pixel quads
    ("mps2-an386", None, "balanced"),  # conv1ch, dense pixel pairs
    ("mps2-an386", (1, 8), "speed"),  # mask-byte quads
    ("mps2-an386", (1, 4), "balanced"),  # sign-bit quads
    ("mps2-an505", (1, 8), "speed"),  # Cortex-M33
])
def test_mnist_shaped_models_with_fused_pools_are_bit_exact_layer_by_layer(tmp_path, board, block_shape, optimize):
    run_fused_chain(tmp_path, load_board(board), mnist_cnn_chain(7, block_shape), optimize)


@pytest.mark.qemu
def test_a_fused_conv_writes_the_model_output_when_its_pool_is_the_last_layer(tmp_path):
    target = load_board("mps2-an386")
    case = kb.conv_case("conv_pool", np.random.default_rng(3), kb.Window(9, 9, 3, 3), 1, 8,
                        kernel="conv1ch_dense_dsp", activation="RELU")
    graph = kb.with_max_pool(case).graph  # 9 x 9 -> 4 x 4: row and column 8 never computed
    plan = make_plan(graph, target.features, "speed", cpu=target.cpu)
    assert plan.layers[0].output.region == "output" and plan.layers[1].variant == POOL_FUSED
    path = tmp_path / "conv_pool.mun"
    save(graph, path)
    report = run_model(path, target, tmp_path / "build", 3, 0, True, "speed")
    assert report.bit_exact, report.mismatches[:3]
