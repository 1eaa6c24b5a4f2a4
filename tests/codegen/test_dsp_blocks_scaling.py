"""Acceptance of the DSP block kernels on the Cortex-M4 (mps2-an386 under QEMU -icount: retired instructions,
not time): a layer's instruction count falls at least in proportion to its pruned blocks, and unified blocks
are cheaper than the same weights dense. One 3x3 convolution, 1 x 8 (and 1 x 4) blocks, all bit-exact."""


import numpy as np
import pytest

from benchmarks.kernels import kernel_bench as kb

WINDOW, CIN, COUT = kb.Window(6, 6, 3, 3), 64, 64
PRUNED_HALF, UNIFIED_HALF = (0.5, 0.0, 0.5), (0.5, 0.5, 0.0)  # dense / unified / pruned shares of the blocks
ALL_UNIFIED = (0.0, 1.0, 0.0)


FEW_ROWS = 8  # too few unified rows per input for the tables to pay


@pytest.fixture(scope="module")
def measured() -> dict[str, tuple[int, float]]:
    """Case name -> (instructions measured, instructions the plan predicts for the forced kernel)."""
    rng = np.random.default_rng(11)
    k = WINDOW.kernel_h * WINDOW.kernel_w * CIN
    cases = [kb.conv_case("dense", rng, WINDOW, CIN, COUT)]
    for layout, bits in (("wide", False), ("bits", True)):
        for name, mix in (("pruned", PRUNED_HALF), ("unified", UNIFIED_HALF)):
            cases.append(kb.blocks_case(f"{name}_{layout}", rng, COUT, k, 1, 8, mix=mix, sign_bits=bits,
                                        window=WINDOW, cin=CIN))
    for bi in (4, 8):  # mask bytes: unified records in the combined row pass, USAD8 or table records
        for suffix, table in (("", False), ("_table", True)):
            cases.append(kb.blocks_case(f"all_unified_1x{bi}{suffix}", rng, COUT, k, 1, bi, mix=ALL_UNIFIED,
                                        window=WINDOW, cin=CIN, table=table))
            cases.append(kb.blocks_case(f"few_rows_1x{bi}{suffix}", rng, FEW_ROWS, k, 1, bi, mix=(0.2, 0.5, 0.3),
                                        window=WINDOW, cin=CIN, table=table))
    results = kb.measure(cases)
    wrong = {r.name: r.wrong for r in results if r.wrong}
    assert not wrong, f"outputs differ from the reference: {wrong}"
    return {r.name: (r.instructions, case.layer.cost) for r, case in zip(results, cases)}


@pytest.fixture(scope="module")
def counts(measured) -> dict[str, int]:
    return {name: instructions for name, (instructions, _) in measured.items()}


@pytest.mark.parametrize("layout", ["wide", "bits"])
def test_half_pruned_takes_at_most_0_6_of_dense(counts, layout):
    assert counts[f"pruned_{layout}"] <= 0.6 * counts["dense"], counts


@pytest.mark.parametrize("layout", ["wide", "bits"])
def test_half_unified_is_cheaper_than_dense(counts, layout):
    """Mask bytes (--optimize speed) and sign bits (balanced, size): USAD8 sums beat the dense SMLAD kernel."""
    assert counts[f"unified_{layout}"] < counts["dense"], counts


def test_all_unified_1x8_takes_at_most_0_7_of_dense(counts):
    """One LDM per unified record, four pixels per record: 18 instructions per 32 MACs in the inner loop."""
    assert counts["all_unified_1x8"] <= 0.7 * counts["dense"], counts


def test_all_unified_1x4_is_cheaper_than_dense(counts):
    assert counts["all_unified_1x4"] < 0.95 * counts["dense"], counts


@pytest.mark.parametrize("bi", [4, 8])
def test_table_records_beat_usad_records_on_64_rows(counts, bi):
    """The tables of signed sums cost per input and pixel quad; 64 rows of unified blocks pay for them."""
    assert counts[f"all_unified_1x{bi}_table"] < counts[f"all_unified_1x{bi}"], counts


@pytest.mark.parametrize("rows", ["all_unified", "few_rows"])
@pytest.mark.parametrize("bi", [4, 8])
def test_cost_model_ranks_tables_and_usad_records_as_measured(measured, rows, bi):
    """The planner takes the table records only where they are faster: its predicted order of the two
    speed kernels is the measured one, on 64 rows (tables win) and on 8 rows (USAD8 records win)."""
    usad, table = measured[f"{rows}_1x{bi}"], measured[f"{rows}_1x{bi}_table"]
    assert (table[0] < usad[0]) == (table[1] < usad[1]), measured
