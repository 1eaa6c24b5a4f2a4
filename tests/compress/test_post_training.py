import numpy as np
import pytest

from toolchain.compress.post_training import compress_graph
from toolchain.errors import MunifyError
from toolchain.ir import WEIGHTED_OPS, BlockKind, reference, weight_matrix
from toolchain.inputs import draw_inputs


def test_zero_ratios_leave_the_model_unchanged(imported_model):
    graph = imported_model("kws")
    same = compress_graph(graph, 1, 8, 0.0, 0.0)
    for op in graph.ops:
        if op.type in WEIGHTED_OPS:
            assert np.array_equal(graph.weight_of(op).data, same.weight_of(op).data)
    (x,) = draw_inputs(graph, 1, 0)
    assert np.array_equal(reference.run(graph, x)[0], reference.run(same, x)[0])


def test_structure_is_exact_and_ratios_hold(imported_model):
    graph = imported_model("ad01")
    out = compress_graph(graph, 1, 8, 0.3, 0.3)
    out.validate()  # checks every block structure against the int8 values
    middle = [op for op in out.ops if op.type in WEIGHTED_OPS][1:-1]
    for op in middle:
        blocks = out.weight_of(op).blocks
        counts = blocks.counts()
        total = sum(counts.values())
        assert counts["pruned"] >= round(0.3 * total)  # unified blocks rounded to 0 count as pruned
        assert counts["pruned"] + counts["unified"] == round(0.3 * total) + round(0.3 * total)
    first = [op for op in out.ops if op.type in WEIGHTED_OPS][0]
    assert out.weight_of(first).blocks is None
    # multipliers unchanged: same scales
    for op in middle:
        assert np.array_equal(out.weight_of(op).quant.scale, graph.weight_of(op).quant.scale)


def test_unified_rows_share_one_magnitude(imported_model):
    out = compress_graph(imported_model("kws"), 1, 4, 0.0, 0.5)
    op = [op for op in out.ops if op.type == "CONV_2D"][1]
    w = out.weight_of(op)
    m = weight_matrix(op.type, w.data)
    kinds = w.blocks.weight_kinds()
    r, c = np.argwhere(kinds == BlockKind.UNIFIED)[0]
    block = m[r, (c // 4) * 4:(c // 4) * 4 + 4]
    assert len(set(np.abs(block).tolist())) == 1


@pytest.mark.parametrize("args", [(3, 8, 0.1, 0.1), (1, 8, 0.7, 0.5), (1, 8, -0.1, 0.0)])
def test_bad_arguments_are_refused(imported_model, args):
    with pytest.raises(MunifyError):
        compress_graph(imported_model("ad01"), *args)
