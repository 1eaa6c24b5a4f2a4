import numpy as np

from toolchain.demo import quantize_images, render_table
from toolchain.ir import Graph, Quant, Tensor


def _graph_with_input(scale, zero_point):
    x = Tensor("x", (1, 2, 2, 1), "int8", Quant([scale], [zero_point]))
    return Graph("g", {"x": x}, (), ("x",), ("x",))


def test_quantize_images_rounds_half_away_and_saturates():
    graph = _graph_with_input(0.5, -10)
    images = np.array([[[[0.25, -0.25], [100.0, -100.0]]]], np.float32)  # NCHW
    q = quantize_images(graph, images)
    assert q.shape == (1, 2, 2, 1) and q.dtype == np.int8
    assert q[0, :, :, 0].tolist() == [[-9, -11], [127, -128]]


def test_render_table_shows_ratios():
    variant = {"accuracy_host": 0.976, "accuracy_device": 1.0, "device_samples": 100, "weights_bytes": 1000,
               "flash_bytes": 4000, "ram_bytes": 500, "instructions": 2000, "bit_exact": True}
    summary = {"board": "mps2-an386", "recipe": "r.toml", "blocks": {"dense": 1, "unified": 2, "pruned": 3},
               "variants": {"dense": variant, "compressed": {**variant, "weights_bytes": 320, "instructions": 1000,
                                                             "accuracy_host": 0.971}},
               "ratios": {"weights_bytes": 0.32, "flash_bytes": 1.0, "ram_bytes": 1.0, "instructions": 0.5}}
    table = render_table(summary)
    assert "0.32x" in table and "0.50x" in table and "-0.5 pt" in table
    assert "instructions" in table and "cycles" in table  # labelled as instructions, not cycles
