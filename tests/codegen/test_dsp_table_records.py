"""The CONV_2D 1 x 8 table records two to an LDM (dsp-blocks-table: [offsets, offsets', m | m' << 16], an odd
count's first record alone), and the last pixel of a layer run alone (blocks_rows_single, blocks_tables_ab: 25
pixels), checked bit for bit on mps2-an386 (QEMU) over rows of 1 to 4 records. A missing
arm-none-eabi-gcc or qemu-system-arm is an error, not a skip."""

import numpy as np
import pytest

from benchmarks.kernels import kernel_bench as kb
from toolchain.plan.kernels.dsp.kernels import pack_blocks, table_block_bytes

pytestmark = pytest.mark.qemu

WINDOW = kb.Window(5, 5, 1, 1, pad="VALID")  # 25 pixels: 6 quads and a last one of one pixel
CIN = 32  # 4 blocks of 8 a row


def _case(name: str, rng, mix, bi: int = 8):
    return kb.blocks_case(name, rng, 24, CIN, 1, bi, mix=mix, window=WINDOW, cin=CIN, table=True)


@pytest.fixture(scope="module")
def cases():
    rng = np.random.default_rng(8)
    return [_case("table8_mixed", rng, (0.3, 0.5, 0.2)), _case("table8_unified", rng, (0.0, 1.0, 0.0)),
            _case("table4_mixed", rng, (0.3, 0.5, 0.2), bi=4)]


def test_rows_take_lone_and_paired_records(cases):
    """The mixed case has rows with an odd and an even count of unified records (else the test proves less)."""
    matrix, blocks = cases[0].blocks
    counts = pack_blocks(matrix, blocks, False, True, True, "table")["counts"][1::2]
    assert {1, 2, 3, 4} <= set(counts.tolist()), counts


def test_paired_records_pack_two_offsets_then_both_magnitudes(cases):
    """Four unified records a row: in the row stream their count, then two LDM groups of three words, the
    magnitudes as int16 halves."""
    matrix, blocks = cases[1].blocks
    packed = pack_blocks(matrix, blocks, False, True, True, "table")
    assert packed["unified_records"].size == 0 and packed["row_stream"].size == 24 * (1 + 2 * 3)
    rows = packed["row_stream"].reshape(24, 7)
    assert (rows[:, 0] == 4).all()
    magnitudes = rows[:, 1:].reshape(24, 2, 3)[:, :, 2]
    low = (magnitudes & 0xFFFF).astype(np.uint16).view(np.int16)
    high = (magnitudes >> 16).astype(np.uint16).view(np.int16)
    expected = np.abs(matrix.reshape(24, 4, 8)).max(axis=2)
    assert np.array_equal(np.abs(np.stack([low, high], axis=2)).reshape(24, 4), expected)


def test_cases_read_every_table_entry(cases):
    """blocks_tables computes every entry with its own instruction: the bit-exact check covers them all only if
    the records read all 16 + 8 entries of a 1 x 8 block and all 8 of a 1 x 4 block."""
    def records(case):
        matrix, blocks = case.blocks
        return _stream_records(pack_blocks(matrix, blocks, False, True, True, "table"), blocks.bi)

    offsets = records(cases[1]).reshape(-1, 3)[:, :2].reshape(-1)  # every row: two pairs of records
    block8 = table_block_bytes(8)
    assert set((offsets & 0xFFFF) % block8 // 8) == set(range(16))
    assert set(((offsets >> 16) % block8 - 16 * 8) // 8) == set(range(8))
    assert set((records(cases[2]) & 0xFFFF) % table_block_bytes(4) // 8) == set(range(8))


def _stream_records(packed, bi: int) -> np.ndarray:
    """The table records of every row of the row stream (int16 dense blocks: a column word and bi / 2 weight
    words each; then, when the row has records, their count and the records: 1 x 4 one word, 1 x 8 an odd count's
    first record two words, then three per two)."""
    stream, at, out = packed["row_stream"], 0, []
    for dense, unified in packed["counts"].reshape(-1, 2).astype(int):
        at += dense * (1 + bi // 2)
        if unified:
            assert stream[at] == unified
            words = unified if bi == 4 else unified % 2 * 2 + unified // 2 * 3
            out.append(stream[at + 1:at + 1 + words])
            at += 1 + words
    assert at == stream.size
    return np.concatenate(out).astype(np.uint32)


def test_table_records_match_the_reference(cases):
    results = kb.measure(cases)
    assert {r.name: r.wrong for r in results} == {c.name: 0 for c in cases}
    assert all(r.instructions > 0 for r in results), results
