"""munify_kernels.h against toolchain.ir.arith on edge and random values: the C fixed-point helpers every
generic kernel uses (high multiply, rounding shift, requantization, reciprocal) are bit-exact."""

import subprocess

import numpy as np

from toolchain.ir import arith
from toolchain.resources import templates_dir
from toolchain.host_build import compiler

PROGRAM = r"""
#include <stdio.h>
#include "munify_kernels.h"
int main(void)
{
    long a, b, c;
    char op;
    while (scanf(" %c %ld %ld %ld", &op, &a, &b, &c) == 4) {
        int32_t bits = 0;
        int32_t scale = 0;
        switch (op) {
        case 'h': printf("%ld\n", (long)munify_srdhm((int32_t)a, (int32_t)b)); break;
        case 'd': printf("%ld\n", (long)munify_rdbpot((int32_t)a, (int32_t)b)); break;
        case 'q': printf("%ld\n", (long)munify_requantize((int32_t)a, (int32_t)b, (int32_t)c)); break;
        default:
            scale = munify_reciprocal((int32_t)a, (int32_t)b, &bits);
            printf("%ld %ld\n", (long)scale, (long)bits);
            break;
        }
    }
    return 0;
}
"""

EDGES = [arith.INT32_MIN, arith.INT32_MIN + 1, -(1 << 30) - 1, -(1 << 30), -(1 << 30) + 1, -1, 0, 1,
         (1 << 30) - 1, 1 << 30, (1 << 30) + 1, arith.INT32_MAX - 1, arith.INT32_MAX]


def _run(tmp_path, lines: list[str]) -> list[str]:
    source = tmp_path / "fixed_point.c"
    source.write_text(PROGRAM)
    exe = tmp_path / "fixed_point"
    subprocess.run([compiler(), "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(templates_dir()),
                    str(source), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True, check=True)
    return out.stdout.split("\n")[:-1]


def test_c_fixed_point_matches_arith(tmp_path):
    rng = np.random.default_rng(0)
    randoms = rng.integers(arith.INT32_MIN, arith.INT32_MAX, size=400, endpoint=True)
    pairs = [(a, b) for a in EDGES for b in EDGES] + list(zip(randoms[:200], randoms[200:]))
    lines, expected = [], []
    for a, b in pairs:
        lines.append(f"h {a} {b} 0")
        expected.append(str(int(arith.saturating_rounding_doubling_high_mul(a, b))))
    for x in list(EDGES) + list(randoms[:100]):
        for exponent in (0, 1, 5, 13, 30, 31):
            lines.append(f"d {x} {exponent} 0")
            expected.append(str(int(arith.rounding_divide_by_pot(x, exponent))))
    multipliers, shifts = arith.quantize_multipliers(rng.uniform(1e-6, 40.0, size=60))
    accumulators = list(EDGES) + list(rng.integers(-(1 << 20), 1 << 20, size=40))
    for m, s in zip(multipliers, shifts):
        for acc in accumulators:
            lines.append(f"q {acc} {m} {s}")
            expected.append(str(int(arith.multiply_by_quantized_multiplier(acc, m, s))))
    for x in [1, 2, 3, 1 << 19, (1 << 19) + 12345, 1 << 24, arith.INT32_MAX] + list(rng.integers(1, 1 << 28, size=50)):
        lines.append(f"r {x} 12 0")
        scale, bits = arith.reciprocal(x, 12)
        expected.append(f"{int(scale)} {int(bits)}")
    got = _run(tmp_path, lines)
    mismatches = [(line, e, g) for line, e, g in zip(lines, expected, got) if e != g]
    assert len(got) == len(expected) and not mismatches, mismatches[:5]
