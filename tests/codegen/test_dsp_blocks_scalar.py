"""The plain C path of the DSP block kernels (munify_dsp_blocks_scalar.h): on the host gcc it reads every
dsp-blocks layout that toolchain.plan.kernels.dsp.kernels.pack_blocks writes and sums exactly the matrix product; on the
Cortex-M4 (MUNIFY_DSP_SCALAR 1) the kernels built on it match the reference bit for bit. A missing gcc,
arm-none-eabi-gcc or qemu-system-arm is an error, not a skip."""

import shutil
import subprocess

import numpy as np
import pytest

from toolchain.plan.kernels.dsp import kernels as dsp
from toolchain.resources import templates_dir

from benchmarks.kernels import kernel_bench as kb

KERNELS = templates_dir() / "kernels" / "dsp"
ROLES = [("counts", "uint16_t"), ("dense_cols", "uint16_t"), ("dense_weights", "int8_t"),
         ("unified_records", "uint32_t"), ("unified_cols", "uint16_t"), ("unified_signs", "uint8_t"),
         ("unified_magnitudes", "int16_t"), ("tail_weights", "int8_t"), ("unified_bias", "int32_t"),
         ("row_stream", "uint32_t")]
# (rows, cols, bo, bi, sign bits, conv, dense16[, table]): every family's layout, odd rows and a partial last
# block
SHAPES = [(9, 44, 1, 4, False, False, False), (9, 44, 1, 4, True, True, False), (12, 70, 1, 8, False, True, False),
          (12, 70, 1, 8, True, False, False), (10, 70, 1, 16, False, False, True), (10, 70, 1, 16, True, False, False),
          (11, 76, 1, 16, False, True, False), (11, 76, 1, 16, True, True, False),
          (12, 70, 1, 8, False, True, True), (11, 76, 1, 16, False, True, True),  # conv quads, int16 dense
          (13, 54, 2, 4, False, False, False), (15, 44, 2, 8, True, False, False), (14, 40, 4, 8, False, False, False),
          (13, 70, 2, 16, True, True, False), (6, 2200, 1, 8, True, True, False),  # fillers
          # conv table records (dsp-blocks-table: int16 dense weights)
          (9, 44, 1, 4, False, True, True, True), (12, 70, 1, 8, False, True, True, True),
          (11, 76, 1, 16, False, True, True, True),
          # FC pair records (dsp-blocks-pairs): a partial last group of 8, 1 x 4 halves, 1 x 16 over two groups
          (9, 44, 1, 4, False, False, True, False, True), (12, 70, 1, 8, False, False, True, False, True),
          (10, 76, 1, 16, False, False, True, False, True)]


def _c_array(name: str, ctype: str, values) -> str:
    body = ", ".join(str(int(v)) for v in np.asarray(values).reshape(-1)) or "0"
    return f"static const {ctype} {name}[] __attribute__((aligned(4))) = {{{body}}};"


def _program(shape, rng) -> tuple[str, np.ndarray]:
    rows, cols, bo, bi, bits, conv, dense16, table, pairs = (*shape, False, False)[:9]
    sparse = cols > dsp.MAX_SIGN_RECORD_STEP * bi  # few unified blocks far apart: sign records need fillers
    matrix, blocks = kb.block_matrix(rng, rows, cols, bo, bi, (0.05, 0.02, 0.93) if sparse else (0.3, 0.4, 0.3))
    records = "table" if table else "pairs" if pairs else "masks"
    packed = dsp.pack_blocks(matrix, blocks, bits, conv=conv, dense16=dense16, records=records)
    if sparse:
        words = np.concatenate([packed["unified_records"], packed["row_stream"]])  # conv quads: the row stream
        assert (words == dsp.MAX_SIGN_RECORD_STEP << 8).any(), "no filler: pick another seed"
    x = rng.integers(-128, 128, cols).astype(np.int8)
    bias = rng.integers(-5000, 5000, rows).astype(np.int32)
    lines = ["#include <stdio.h>", '#include "munify_dsp_blocks_scalar.h"']
    lines += [_c_array(role, "int16_t" if role == "dense_weights" and dense16 else ctype, packed[role])
              for role, ctype in ROLES]
    lines += [_c_array("x", "int8_t", x), _c_array("bias", "int32_t", bias)]
    lists = ", ".join(f".{role} = (const int8_t *){role}" if role == "dense_weights" else f".{role} = {role}"
                      for role, _ in ROLES)
    lines += ["int main(void)", "{",
              f"    const munify_dsp_block_lists lists = {{{lists}}};",
              f"    const munify_dsp_block_shape shape = {{{bo}, {dsp.layout_bi(conv, bo, bi)}, {int(bits)}, "
              f"{int(dense16)}, "
              f"{int(bits and dsp.pixel_quads(conv, bo, bi))}, {int(table and dsp.pixel_quads(conv, bo, bi))}, "
              f"{int(pairs)}, {int(dsp.pixel_quads(conv, bo, bi))}}};",
              f"    int32_t acc[{rows}];",
              f"    munify_dsp_blocks_accumulate_scalar(&lists, shape, {rows}, {cols}, bias, x, acc);",
              f"    for (int i = 0; i < {rows}; ++i) printf(\"%ld\\n\", (long)acc[i]);",
              "    return 0;", "}"]
    expected = matrix.astype(np.int64) @ x.astype(np.int64) + bias
    return "\n".join(lines) + "\n", expected


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}_{s[2]}x{s[3]}{'_bits' if s[4] else ''}"
                                                         f"{'_conv' if s[5] else ''}{'_dense16' if s[6] else ''}"
                                                         f"{'_table' if s[7:] and s[7] else ''}"
                                                         f"{'_pairs' if s[8:] and s[8] else ''}")
def test_scalar_path_reads_the_packed_layout_exactly(shape, tmp_path):
    gcc = shutil.which("gcc")
    assert gcc, "gcc is not installed; run 'make setup'"
    source, expected = _program(shape, np.random.default_rng(sum(shape)))
    (tmp_path / "main.c").write_text(source)
    binary = tmp_path / "scalar"
    subprocess.run([gcc, "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", f"-I{KERNELS}", str(tmp_path / "main.c"),
                    "-o", str(binary)], check=True, capture_output=True, text=True)
    printed = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout.split()
    assert [int(v) for v in printed] == expected.tolist()


def test_scalar_path_on_the_cortex_m4_matches_the_reference():
    """The block kernels with MUNIFY_DSP_SCALAR 1 (every family: 1 x bi FC and conv quads, 2 x bi, bo x 16)."""
    rng = np.random.default_rng(5)
    window = kb.Window(5, 4, 3, 3)
    cases = [kb.blocks_case("sc_fc_1x8", rng, 12, 70, 1, 8, mix=(0.3, 0.4, 0.3), scalar=True),
             kb.blocks_case("sc_conv_1x4_bits", rng, 9, 72, 1, 4, sign_bits=True, window=window, cin=8, scalar=True),
             kb.blocks_case("sc_conv_1x8", rng, 10, 72, 1, 8, window=window, cin=8, scalar=True),
             kb.blocks_case("sc_conv_1x4_table", rng, 9, 72, 1, 4, window=window, cin=8, scalar=True, table=True),
             kb.blocks_case("sc_conv_1x8_table", rng, 10, 72, 1, 8, mix=(0.2, 0.6, 0.2), window=window, cin=8,
                            scalar=True, table=True),
             kb.blocks_case("sc_conv_1x16_bits", rng, 10, 72, 1, 16, sign_bits=True, window=window, cin=8, scalar=True),
             kb.blocks_case("sc_fc_1x4_pairs", rng, 9, 44, 1, 4, mix=(0.3, 0.4, 0.3), scalar=True, pairs=True),
             kb.blocks_case("sc_fc_2x8_bits", rng, 15, 44, 2, 8, sign_bits=True, scalar=True),
             kb.blocks_case("sc_fc_4x16", rng, 14, 70, 4, 16, mix=(0.3, 0.4, 0.3), scalar=True)]
    results = kb.measure(cases)
    assert all(r.instructions > 0 for r in results), results
    assert {r.name: r.wrong for r in results} == {c.name: 0 for c in cases}
