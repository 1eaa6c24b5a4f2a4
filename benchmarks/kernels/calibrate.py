"""Fit the DSP cost model (toolchain/plan/dsp.py) to retired instructions measured on mps2-an386 in QEMU.

    .venv/bin/python benchmarks/kernels/calibrate.py

Runs a sweep of layer shapes and block mixes through kernel_bench, then least-squares fits, per kernel
family, instructions = sum(coefficient * feature) over the features the plan's LayerFacts carry. Prints the
coefficients and the worst relative error; the constants in dsp.py are these numbers, rounded.
"""

from __future__ import annotations

import numpy as np

import kernel_bench as kb
from toolchain.ir import BlockKind


def block_features(blocks, rows: int, cols: int) -> dict[str, float]:
    kinds = blocks.weight_kinds()
    full = (rows // blocks.bo) * (cols // blocks.bi)
    unified_rows = np.repeat(blocks.kinds == BlockKind.UNIFIED, blocks.bo, axis=0)[:rows]
    return {"dense_weights": float(np.sum(kinds == BlockKind.DENSE)),
            "unified_weights": float(np.sum(kinds == BlockKind.UNIFIED)),
            "unified_rows": float(np.sum(unified_rows)),
            "listed_blocks": float(full - np.sum(blocks.kinds == BlockKind.PRUNED)),
            "rows": float(rows), "cols": float(cols)}


def sweep(rng: np.random.Generator):
    """(family, case, positions, features per position)."""
    out = []
    for rows, cols in [(16, 64), (64, 64), (128, 256), (32, 640), (640, 128), (12, 64), (128, 128)]:
        case = kb.fc_case(f"fc_{rows}x{cols}", rng, rows, cols)
        out.append(("fc_dense", case, 1, {"macs": rows * cols, "rows": rows, "cols": cols}))
    conv_shapes = [(kb.Window(5, 5, 1, 1, pad="VALID"), 64, 64), (kb.Window(8, 8, 1, 1, pad="VALID"), 16, 32),
                   (kb.Window(8, 8, 3, 3), 16, 16), (kb.Window(8, 8, 3, 3), 32, 32),
                   (kb.Window(16, 10, 10, 4, stride=2), 1, 64)]
    for i, (window, cin, cout) in enumerate(conv_shapes):
        k = window.kernel_h * window.kernel_w * cin
        out.append(("conv_dense", kb.conv_case(f"conv{i}", rng, window, cin, cout), window.out_h * window.out_w,
                    {"macs": cout * k, "rows": cout, "cols": k}))
    for i, (window, channels) in enumerate([(kb.Window(5, 5, 3, 3), 64), (kb.Window(8, 8, 3, 3), 16),
                                            (kb.Window(12, 12, 3, 3, stride=2), 8), (kb.Window(6, 6, 5, 5), 32),
                                            (kb.Window(10, 4, 3, 3), 128)]):
        taps = window.kernel_h * window.kernel_w
        out.append(("depthwise", kb.depthwise_case(f"dw{i}", rng, window, channels), window.out_h * window.out_w,
                    {"macs": channels * taps, "rows": channels, "cols": taps}))
    mixes = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.5, 0.0, 0.5), (0.2, 0.3, 0.5), (0.1, 0.1, 0.8)]
    for bits in (False, True):
        for bi in (4, 8, 16):
            for j, mix in enumerate(mixes):
                rows, cols = (96, 256) if j % 2 else (48, 320)
                case = kb.blocks_case(f"bl{int(bits)}_{bi}_{j}", rng, rows, cols, 1, bi, mix=mix, sign_bits=bits)
                matrix, blocks = case.blocks
                out.append((f"blocks_{'bits' if bits else 'wide'}", case, 1, block_features(blocks, rows, cols)))
    for bits in (False, True):
        for bi in (4, 8, 16):
            for j, mix in enumerate(mixes):
                window, cin, rows = (kb.Window(6, 6, 3, 3), 16, 32) if j % 2 else (kb.Window(5, 5, 1, 1, pad="VALID"), 64, 48)
                cols = window.kernel_h * window.kernel_w * cin
                case = kb.blocks_case(f"cbl{int(bits)}_{bi}_{j}", rng, rows, cols, 1, bi, mix=mix, sign_bits=bits,
                                      window=window, cin=cin)
                family = f"conv_blocks_{'bits' if bits else 'wide'}{'_1x16' if bi == 16 else ''}"
                out.append((family, case, window.out_h * window.out_w,
                            block_features(case.blocks[1], rows, cols)))
    for bo, bi in ((2, 4), (2, 8), (4, 8), (2, 16)):
        for bits in (False, True):
            for j, mix in enumerate(mixes):
                rows, cols = (96, 256) if j % 2 else (48, 320)
                case = kb.blocks_case(f"blbo{bo}_{bi}_{int(bits)}_{j}", rng, rows, cols, bo, bi, mix=mix,
                                      sign_bits=bits)
                family = f"blocks_{'bits' if bits else 'wide'}_{'bo2' if bo == 2 and bi <= 8 else 'tiles'}"
                out.append((family, case, 1, block_features(case.blocks[1], rows, cols)))
    return out


def fit(rows: list[tuple[dict, int, int]]) -> tuple[dict[str, float], float]:
    names = sorted(rows[0][0])
    a = np.array([[features[n] * positions for n in names] for features, positions, _ in rows])
    y = np.array([measured for _, _, measured in rows], float)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    worst = float(np.max(np.abs(a @ coef - y) / y))
    return dict(zip(names, coef)), worst


def main() -> None:
    rng = np.random.default_rng(3)
    entries = sweep(rng)
    results = {r.name: r for r in kb.measure([case for _, case, _, _ in entries])}
    families: dict[str, list] = {}
    for family, case, positions, features in entries:
        result = results[case.name]
        if result.wrong:
            raise SystemExit(f"{case.name}: {result.wrong} outputs differ from the reference")
        families.setdefault(family, []).append((features, positions, result.instructions))
    for family, rows in families.items():
        coef, worst = fit(rows)
        terms = ", ".join(f"{name} {value:.2f}" for name, value in coef.items())
        print(f"{family:12s} {terms}   (worst error {worst:.1%} over {len(rows)} layers)")


if __name__ == "__main__":
    main()
