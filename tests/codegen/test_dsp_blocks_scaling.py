"""Acceptance of the DSP block kernels on the Cortex-M4 (mps2-an386 under QEMU -icount: retired instructions,
not time): a layer's instruction count falls at least in proportion to its pruned blocks, and unified blocks
are cheaper than the same weights dense. One 3x3 convolution, 1 x 8 (and 1 x 4) blocks, all bit-exact."""


import numpy as np
import pytest

from benchmarks.kernels import kernel_bench as kb

WINDOW, CIN, COUT = kb.Window(6, 6, 3, 3), 64, 64
PRUNED_HALF, UNIFIED_HALF = (0.5, 0.0, 0.5), (0.5, 0.5, 0.0)  # dense / unified / pruned shares of the blocks
ALL_UNIFIED = (0.0, 1.0, 0.0)


@pytest.fixture(scope="module")
def counts() -> dict[str, int]:
    rng = np.random.default_rng(11)
    k = WINDOW.kernel_h * WINDOW.kernel_w * CIN
    cases = [kb.conv_case("dense", rng, WINDOW, CIN, COUT)]
    for layout, bits in (("wide", False), ("bits", True)):
        for name, mix in (("pruned", PRUNED_HALF), ("unified", UNIFIED_HALF)):
            cases.append(kb.blocks_case(f"{name}_{layout}", rng, COUT, k, 1, 8, mix=mix, sign_bits=bits,
                                        window=WINDOW, cin=CIN))
    for bi in (4, 8):  # mask bytes: unified records in the combined row pass
        cases.append(kb.blocks_case(f"all_unified_1x{bi}", rng, COUT, k, 1, bi, mix=ALL_UNIFIED, window=WINDOW,
                                    cin=CIN))
    results = kb.measure(cases)
    wrong = {r.name: r.wrong for r in results if r.wrong}
    assert not wrong, f"outputs differ from the reference: {wrong}"
    return {r.name: r.instructions for r in results}


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
