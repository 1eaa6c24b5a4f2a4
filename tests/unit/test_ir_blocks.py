import numpy as np
import pytest

from toolchain.errors import IRError
from toolchain.ir import BlockKind, BlockStructure, Graph, Op, Quant, Tensor, load, save, weight_matrix


def _structured_matrix(rng, rows=8, cols=20, bo=2, bi=4):
    m = rng.integers(-127, 128, size=(rows, cols)).astype(np.int8)
    gr, gc = -(-rows // bo), -(-cols // bi)
    kinds = rng.integers(0, 3, size=(gr, gc)).astype(np.uint8)
    kinds[:, -1] = BlockKind.DENSE  # 20 = 5 * 4: last column block is full, keep some dense anyway
    for r in range(gr):
        for c in range(gc):
            tile = m[r * bo:(r + 1) * bo, c * bi:(c + 1) * bi]
            if kinds[r, c] == BlockKind.PRUNED:
                tile[...] = 0
            elif kinds[r, c] == BlockKind.UNIFIED:
                mags = rng.integers(1, 128, size=(tile.shape[0], 1))
                signs = np.where(rng.random(tile.shape) < 0.5, -1, 1)
                tile[...] = (signs * mags).astype(np.int8)
    return m, kinds


def test_structure_roundtrip_and_check():
    rng = np.random.default_rng(0)
    m, kinds = _structured_matrix(rng)
    bs = BlockStructure.from_matrix(m, kinds, 2, 4)
    bs.check(m, "w")
    unified = bs.weight_kinds() == BlockKind.UNIFIED
    assert np.array_equal(bs.unified_values()[unified], m[unified])


def test_check_refuses_broken_unified_block():
    rng = np.random.default_rng(1)
    m, kinds = _structured_matrix(rng)
    bs = BlockStructure.from_matrix(m, kinds, 2, 4)
    r, c = np.argwhere(bs.weight_kinds() == BlockKind.UNIFIED)[0]
    broken = m.copy()
    broken[r, c] = -broken[r, c] if broken[r, c] != 0 else 5
    with pytest.raises(IRError, match="breaks its unified block"):
        bs.check(broken, "w")


def test_check_refuses_nonzero_pruned_block_and_partial_edge_block():
    m = np.zeros((4, 6), np.int8)
    kinds = np.array([[BlockKind.PRUNED, BlockKind.DENSE]] * 4, np.uint8)
    bs = BlockStructure.from_matrix(m, kinds, 1, 4)
    m[0, 1] = 3
    with pytest.raises(IRError, match="pruned block"):
        bs.check(m, "w")
    kinds[0, 1] = BlockKind.PRUNED  # columns 4..5 only: a partial edge block
    with pytest.raises(IRError, match="edge block"):
        BlockStructure.from_matrix(np.zeros((4, 6), np.int8), kinds, 1, 4).check(np.zeros((4, 6), np.int8), "w")


def test_stored_bytes_minimal_format():
    m = np.zeros((2, 16), np.int8)
    m[0, :8] = [3, -3, 3, 3, -3, 3, 3, 3]  # row 0 block 0 unified
    m[1, :8] = [5] * 8  # row 1 block 0 unified
    m[:, 8:] = 7  # dense
    kinds = np.array([[BlockKind.UNIFIED, BlockKind.DENSE], [BlockKind.UNIFIED, BlockKind.DENSE]], np.uint8)
    bs = BlockStructure.from_matrix(m, kinds, 1, 8)
    bs.check(m)
    # 16 dense weights + 2 unified rows x (1 magnitude + 1 sign byte) + kind map (4 blocks x 2 bits = 1 byte)
    assert bs.stored_bytes() == 16 + 4 + 1


def _tiny_graph(rng):
    w, kinds = _structured_matrix(rng, rows=4, cols=8, bo=1, bi=4)
    q = Quant([0.05], [-3])
    tensors = {
        "x": Tensor("x", (1, 8), "int8", q),
        "w": Tensor("w", (4, 8), "int8", Quant(np.full(4, 0.01), np.zeros(4), axis=0), w,
                    BlockStructure.from_matrix(w, kinds, 1, 4)),
        "b": Tensor("b", (4,), "int32", Quant(np.full(4, 0.0005), np.zeros(4), axis=0),
                    rng.integers(-100, 100, 4).astype(np.int32)),
        "y": Tensor("y", (1, 4), "int8", Quant([0.1], [2])),
    }
    op = Op("fc", "FULLY_CONNECTED", ("x", "w", "b"), ("y",), {"activation": "RELU"})
    return Graph("tiny", tensors, (op,), ("x",), ("y",))


def test_mun_roundtrip_is_byte_identical(tmp_path):
    g = _tiny_graph(np.random.default_rng(2))
    save(g, tmp_path / "a.mun")
    g2 = load(tmp_path / "a.mun")
    save(g2, tmp_path / "b.mun")
    assert (tmp_path / "a.mun").read_bytes() == (tmp_path / "b.mun").read_bytes()
    assert np.array_equal(g2.tensors["w"].data, g.tensors["w"].data)
    assert np.array_equal(g2.tensors["w"].blocks.kinds, g.tensors["w"].blocks.kinds)
    assert g2.ops[0].attr("activation") == "RELU"


def test_weight_matrix_views():
    conv = np.arange(2 * 3 * 3 * 4).reshape(2, 3, 3, 4)
    assert weight_matrix("CONV_2D", conv).shape == (2, 36)
    assert weight_matrix("CONV_2D", conv)[0, 1] == conv[0, 0, 0, 1]  # cin fastest
    dw = np.arange(1 * 3 * 3 * 5).reshape(1, 3, 3, 5)
    assert weight_matrix("DEPTHWISE_CONV_2D", dw).shape == (5, 9)


def test_saved_files_get_the_usual_permissions(tmp_path):
    import os

    save(_tiny_graph(np.random.default_rng(3)), tmp_path / "p.mun")
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(tmp_path / "p.mun").st_mode & 0o777 == 0o666 & ~mask
