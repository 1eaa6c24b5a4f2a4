"""The CONV_2D pixel quads' row stream (row_stream: every row's dense blocks, then its records, one pointer over
all rows; the row heads' flags pick the path): rows with dense blocks and records, dense blocks only, records
only and neither, in every record layout, checked bit for bit on mps2-an386 (QEMU) over 25 pixels (six quads and
a last one of one pixel, blocks_rows_single). A missing arm-none-eabi-gcc or qemu-system-arm is an error, not a
skip."""

import numpy as np
import pytest

from benchmarks.kernels import kernel_bench as kb
from toolchain.plan.kernels.dsp.kernels import pack_blocks, row_columns_bytes

pytestmark = pytest.mark.qemu

WINDOW = kb.Window(5, 5, 1, 1, pad="VALID")
ROWS = 64
MIX = (0.3, 0.3, 0.4)
# (name, bi, sign bits, table records, input channels): mask bytes and table records (int16 dense weights), sign
# bits (int8 dense weights, the row's column halfwords first), 1 x 16 as two 1 x 8
LAYOUTS = [("wide8", 8, False, False, 16), ("wide4", 4, False, False, 8), ("wide16", 16, False, False, 32),
           ("bits4", 4, True, False, 8), ("bits8", 8, True, False, 16), ("table8", 8, False, True, 16),
           ("table4", 4, False, True, 8)]


def _row_kinds(case) -> set[tuple[bool, bool]]:
    matrix, blocks = case.blocks
    counts = pack_blocks(matrix, blocks, False, conv=True)["counts"].reshape(-1, 2)
    return {(bool(dense), bool(unified)) for dense, unified in counts}


@pytest.fixture(scope="module")
def cases():
    rng = np.random.default_rng(21)
    return [kb.blocks_case(f"rs_{name}", rng, ROWS, cin, 1, bi, mix=MIX, sign_bits=bits, window=WINDOW,
                           cin=cin, table=table) for name, bi, bits, table, cin in LAYOUTS]


def test_every_case_has_rows_of_all_four_kinds(cases):
    """Else the kernel test below proves less: pick another seed."""
    for case in cases:
        assert _row_kinds(case) == {(True, True), (True, False), (False, True), (False, False)}, case.name


def test_int8_rows_take_no_more_bytes_than_the_separate_lists(cases):
    """int8 dense weights: a row's column halfwords lead its stream, padded to a word (row_columns_bytes)."""
    matrix, blocks = cases[4].blocks  # bits8
    quads = pack_blocks(matrix, blocks, True, conv=True)
    dense = quads["counts"][0::2].astype(int)
    unified = quads["counts"][1::2].astype(int)
    expected = sum(row_columns_bytes(n) for n in dense) + dense.sum() * 8 + unified.sum() * 4
    assert quads["row_stream"].nbytes == expected
    assert quads["dense_cols"].size == quads["dense_weights"].size == quads["unified_records"].size == 0


def test_rows_of_every_kind_match_the_reference(cases):
    results = kb.measure(cases)
    assert {r.name: r.wrong for r in results} == {c.name: 0 for c in cases}
    assert all(r.instructions > 0 for r in results), results


def test_inputs_off_word_boundaries_widen_bit_exact():
    """1 x 8 widening loads a block's two input words with one LDRD only from word-aligned sources
    (blocks_words_aligned): 1x1 over 10 channels (every other pixel starts off a word) and 4x4 kernel rows of
    2 channels read straight from the input (8 inputs a row, rows 2 bytes apart from a word)."""
    rng = np.random.default_rng(22)
    cases = [kb.blocks_case("rs_pointwise10", rng, 16, 10, 1, 8, mix=(0.3, 0.5, 0.2), window=WINDOW, cin=10),
             kb.blocks_case("rs_direct4x4", rng, 16, 32, 1, 8, mix=(0.3, 0.5, 0.2), window=kb.Window(7, 7, 4, 4),
                            cin=2)]
    assert cases[1].layer.params["patch_row"] == 8, "the 4x4 case should read kernel rows from the input"
    assert all(_row_kinds(case) & {(True, True), (False, True)} for case in cases), "no unified blocks: no copies"
    results = kb.measure(cases)
    assert {r.name: r.wrong for r in results} == {c.name: 0 for c in cases}
