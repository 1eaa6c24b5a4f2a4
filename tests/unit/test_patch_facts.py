"""The im2col facts of the DSP conv pixel quads' cost: kernel rows of interior pixels (read straight from the
input) and the copies left for the others."""

from toolchain.plan.kernels.dsp.kernels import quad_patch_copies
from toolchain.plan.layers import inside_rows, patch_copies


def _geometry(size=14, kernel=3, pad=1, stride=1, dilation=1):
    out = (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
    return {"in_h": size, "in_w": size, "out_h": out, "out_w": out, "kh": kernel, "kw": kernel,
            "stride_h": stride, "stride_w": stride, "pad_top": pad, "pad_left": pad, "dil_h": dilation,
            "dil_w": dilation}


def test_interior_pixels_count_their_kernel_rows():
    assert inside_rows(_geometry()) == 12 * 12 * 3 / (14 * 14)
    assert inside_rows(_geometry(pad=0)) == 3.0  # VALID: every pixel inside
    assert inside_rows(_geometry(stride=2)) == 6 * 6 * 3 / (7 * 7)


def test_dilated_kernels_have_no_direct_rows():
    assert inside_rows(_geometry(dilation=2)) == 0.0


def test_direct_rows_leave_only_the_border_copies_when_rows_are_whole_blocks():
    g = _geometry()
    copies, rows = patch_copies(g), inside_rows(g)
    assert quad_patch_copies(copies, rows, 3 * 16, 8) == copies - rows
    assert quad_patch_copies(copies, rows, 3 * 6, 8) == copies  # 18 inputs a row: blocks would span rows
    assert quad_patch_copies(copies, rows, 3 * 4, 4) == copies - rows
    assert quad_patch_copies(copies, rows, 3 * 4, 16) == copies  # 1 x 16 runs as 1 x 8: 12 % 8
    assert quad_patch_copies(copies, rows, 0, 8) == copies
