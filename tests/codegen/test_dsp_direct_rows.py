"""The DSP conv pixel quads' interior pixels read straight from the input (blocks_direct_rows) with every record
layout and block width, checked bit for bit on mps2-an386 (QEMU). A missing arm-none-eabi-gcc or
qemu-system-arm is an error, not a skip."""

import numpy as np
import pytest

from benchmarks.kernels import kernel_bench as kb
from toolchain.plan.kernels.dsp.kernels import layout_bi
from toolchain.plan.layers import inside_rows

pytestmark = pytest.mark.qemu

# (name, bi, record layout, kernel window): 3 x 3 on 6 x 6 SAME (16 interior pixels of 36) and 1 x 3 (one kernel
# row: the interior pixels take the one-run path)
CASES = [("table4", 4, "table", kb.Window(6, 6, 3, 3)), ("table8", 8, "table", kb.Window(6, 6, 3, 3)),
         ("wide4", 4, "wide", kb.Window(6, 6, 3, 3)), ("wide16", 16, "wide", kb.Window(6, 6, 3, 3)),
         ("bits16", 16, "bits", kb.Window(6, 6, 3, 3)), ("wide8_1x3", 8, "wide", kb.Window(6, 6, 1, 3)),
         ("bits8_1x3", 8, "bits", kb.Window(6, 6, 1, 3))]


def _reads_interior_rows(params: dict) -> bool:
    """The C condition of blocks_direct_rows, and pixels inside the input to take it."""
    whole_blocks = params["patch_row"] % layout_bi(True, 1, max(params["bi"], 4)) == 0
    return not params["pointwise"] and params["dil_h"] == params["dil_w"] == 1 and whole_blocks \
        and inside_rows(params) > 0


@pytest.fixture(scope="module")
def measured():
    rng = np.random.default_rng(20)
    cases = [kb.blocks_case(f"direct_{name}", rng, 12, window.kernel_h * window.kernel_w * 16, 1, bi,
                            mix=(0.3, 0.4, 0.3), window=window, cin=16, sign_bits=layout == "bits",
                            table=layout == "table")
             for name, bi, layout, window in CASES]
    for case in cases:
        assert _reads_interior_rows(case.layer.params), case.name
        assert case.layer.variant.startswith("conv_blocks_"), (case.name, case.layer.variant)
    return {r.name: r for r in kb.measure(cases)}


def test_interior_pixels_read_from_the_input_match_the_reference(measured):
    wrong = {name: r.wrong for name, r in measured.items() if r.wrong}
    assert not wrong, f"outputs differ from the numpy reference: {wrong}"
    assert len(measured) == len(CASES)
