"""Fit the DSP cost model (toolchain/plan/kernels/dsp/kernels.py) to retired instructions measured on mps2-an386 in QEMU.

    .venv/bin/python -m benchmarks.kernels.calibrate [FAMILY ...]

Runs a sweep of layer shapes and block mixes through kernel_bench, then least-squares fits, per kernel
family, instructions = sum(coefficient * feature) over the features the plan's LayerFacts carry. Prints the
coefficients and the worst relative error; the constants in kernels.py are these numbers, rounded.
"""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.kernels import kernel_bench as kb
from benchmarks.kernels.fit import fit_relative
from toolchain.ir import BlockKind
from toolchain.plan.kernels.dsp.kernels import CONV_COPY, LAYER_CALL, quad_patch_copies
from toolchain.plan.layers import inside_rows, patch_copies
from toolchain.plan.fusion import inside_windows


def block_features(blocks, rows: int, cols: int, tables: bool = False) -> dict[str, float]:
    """The BlockCosts terms; `tables`: the conv pixel quads' tables (table records), per input when the layer
    has unified blocks."""
    kinds = blocks.weight_kinds()
    extra = {"tables": float(cols if np.any(kinds == BlockKind.UNIFIED) else 0)} if tables else {}
    full = (rows // blocks.bo) * (cols // blocks.bi)
    unified_rows = np.repeat(blocks.kinds == BlockKind.UNIFIED, blocks.bo, axis=0)[:rows]
    return {"dense_weights": float(np.sum(kinds == BlockKind.DENSE)),
            "unified_weights": float(np.sum(kinds == BlockKind.UNIFIED)),
            "unified_rows": float(np.sum(unified_rows)),
            "listed_blocks": float(full - np.sum(blocks.kinds == BlockKind.PRUNED)),
            "rows": float(rows), "cols": float(cols), **extra}


def fc_dense_features(rows: int, cols: int) -> dict[str, float]:
    """dsp.fc_dense_cost's terms: MACs of the rows in groups of 4 and of the rows % 4 last ones (inputs padded
    to a multiple of 4), rows, inputs."""
    padded = -(-cols // 4) * 4
    return {"macs4": rows // 4 * 4 * padded, "macs1": rows % 4 * padded, "rows": rows, "cols": cols}


def conv_dense_features(case: kb.Case) -> dict[str, float]:
    """dsp.conv_dense_cost's terms: MACs over the reduction padded to a multiple of 4, outputs, inputs and the
    im2col copies of a pixel (from the geometry the planner gave the layer)."""
    params = case.layer.params
    rows, k = params["cout"], params["k"]
    return {"macs": rows * -(-k // 4) * 4, "rows": rows, "cols": k,
            "copies": 0.0 if params["pointwise"] else patch_copies(params)}


CONV_BLOCK_SHAPES = [(kb.Window(5, 5, 1, 1, pad="VALID"), 64, 48), (kb.Window(6, 6, 3, 3), 16, 32),
                     (kb.Window(14, 14, 3, 3), 16, 32), (kb.Window(7, 7, 3, 3), 32, 48),
                     (kb.Window(6, 6, 3, 3), 64, 64), (kb.Window(25, 5, 1, 1, pad="VALID"), 64, 64)]


def sweep(rng: np.random.Generator):
    """(family, case, positions, features per position)."""
    out = []
    for rows, cols in [(16, 64), (64, 64), (128, 256), (32, 640), (640, 128), (12, 64), (128, 128), (10, 432),
                       (13, 100), (6, 200), (3, 64)]:
        case = kb.fc_case(f"fc_{rows}x{cols}", rng, rows, cols)
        out.append(("fc_dense", case, 1, fc_dense_features(rows, cols)))
    conv_shapes = [(kb.Window(5, 5, 1, 1, pad="VALID"), 64, 64), (kb.Window(8, 8, 1, 1, pad="VALID"), 16, 32),
                   (kb.Window(8, 8, 3, 3), 16, 16), (kb.Window(8, 8, 3, 3), 32, 32),
                   (kb.Window(16, 10, 10, 4, stride=2), 1, 64), (kb.Window(28, 28, 3, 3), 1, 16),
                   (kb.Window(14, 14, 3, 3), 16, 32), (kb.Window(7, 7, 3, 3), 32, 48),
                   (kb.Window(12, 12, 5, 5, pad="VALID"), 3, 8)]
    for i, (window, cin, cout) in enumerate(conv_shapes):
        case = kb.conv_case(f"conv{i}", rng, window, cin, cout)
        out.append(("conv_dense", case, window.out_h * window.out_w, conv_dense_features(case)))
    for i, (window, cout) in enumerate([(kb.Window(28, 28, 3, 3), 16), (kb.Window(28, 28, 3, 3), 8),
                                        (kb.Window(14, 14, 3, 3), 32), (kb.Window(32, 32, 3, 3), 16),
                                        (kb.Window(20, 20, 3, 3, pad="VALID"), 24), (kb.Window(16, 16, 2, 2), 16)]):
        case = kb.conv_case(f"c1ch{i}", rng, window, 1, cout, kernel="conv1ch_dense_dsp")
        out.append(("conv_1ch", case, window.out_h * window.out_w,
                    {"rows": cout, "pixel": 1.0, "copies": patch_copies(case.layer.params)}))
    for i, (window, cout) in enumerate([(kb.Window(28, 28, 3, 3), 16), (kb.Window(14, 14, 3, 3), 32),
                                        (kb.Window(20, 20, 3, 3, pad="VALID"), 24), (kb.Window(16, 16, 2, 2), 16)]):
        # the requantization fused into the channel loop (requant_folds_offset), no clamp
        case = kb.conv_case(f"c1fused{i}", rng, window, 1, cout, kernel="conv1ch_dense_dsp", activation="NONE")
        out.append(("conv_1ch_fused", case, window.out_h * window.out_w,
                    {"rows": cout, "pixel": 1.0, "copies": patch_copies(case.layer.params)}))
    for i, (window, cout) in enumerate([(kb.Window(28, 28, 3, 3), 16), (kb.Window(14, 14, 3, 3), 32),
                                        (kb.Window(20, 20, 3, 3, pad="VALID"), 24), (kb.Window(16, 16, 2, 2), 16),
                                        (kb.Window(11, 13, 3, 3), 8)]):
        # fused with a 2x2 / stride 2 max pool (munify_dsp_conv_1ch_pool_s8), folded requantization, no clamp:
        # per pool output (a window's channel) the pass over four pixels; the taps of a 3x3 window from its
        # 4 x 4 input block (inside the input, or gathered at the border), of other kernels pixel by pixel
        case = kb.with_max_pool(kb.conv_case(f"c1pool{i}", rng, window, 1, cout, kernel="conv1ch_dense_dsp",
                                             activation="NONE"))
        params = case.layer.params
        windows = params["pool_out_h"] * params["pool_out_w"]
        three = (params["kh"], params["kw"]) == (3, 3)
        inside = inside_windows(params) if three else 0
        out.append(("conv_1ch_pool", case, 4 * windows,
                    {"window_outputs": cout / 4, "inside_windows": inside / (4 * windows),
                     "border_windows": (windows - inside) / (4 * windows) if three else 0.0,
                     "other_pixels": 0.0 if three else 1.0}))
    for i, (window, cin, cout) in enumerate(CONV_BLOCK_SHAPES + [(kb.Window(8, 8, 3, 3), 32, 32),
                                                                 (kb.Window(10, 10, 3, 3), 8, 24)]):
        # dense weights as 1 x 8 blocks on the pixel quads (conv_dense_quads_dsp), no clamp
        case = kb.conv_case(f"cdq{i}", rng, window, cin, cout, kernel="conv_dense_quads_dsp", activation="NONE")
        params = case.layer.params
        rows, cols = cout, params["k"]
        copies = quad_patch_copies(patch_copies(params), inside_rows(params), params["patch_row"], 8)
        full = rows * (cols // 8)
        out.append(("conv_dense_quads", case, window.out_h * window.out_w,
                    {"dense_weights": float(rows * cols), "listed_blocks": float(full), "rows": float(rows),
                     "cols": float(cols), "copies": copies}))
    for i, (window, channels) in enumerate([(kb.Window(5, 5, 3, 3), 64), (kb.Window(8, 8, 3, 3), 16),
                                            (kb.Window(12, 12, 3, 3, stride=2), 8), (kb.Window(6, 6, 5, 5), 32),
                                            (kb.Window(10, 4, 3, 3), 128)]):
        taps = window.kernel_h * window.kernel_w
        out.append(("depthwise", kb.depthwise_case(f"dw{i}", rng, window, channels), window.out_h * window.out_w,
                    {"macs": channels * taps, "rows": channels, "cols": taps}))
    mixes = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.5, 0.0, 0.5), (0.2, 0.3, 0.5), (0.1, 0.1, 0.8)]
    for bits in (False, True):
        for bi in (4, 8, 16):
            for j, mix in enumerate(mixes + [(0.4, 0.3, 0.3)]):  # the last on the MNIST CNN's FC shape
                rows, cols = (10, 432) if j == len(mixes) else (96, 256) if j % 2 else (48, 320)
                case = kb.blocks_case(f"bl{int(bits)}_{bi}_{j}", rng, rows, cols, 1, bi, mix=mix, sign_bits=bits)
                matrix, blocks = case.blocks
                out.append((f"blocks_{'bits' if bits else 'wide'}", case, 1, block_features(blocks, rows, cols)))
    for bi in (4, 8, 16):  # FC pair records: the pair table per input when the layer has unified blocks
        for j, mix in enumerate(mixes + [(0.3, 0.4, 0.3), (0.0, 0.5, 0.5), (0.1, 0.2, 0.7), (0.0, 0.1, 0.9),
                                         (0.6, 0.2, 0.2), (0.0, 0.8, 0.2)]):
            rows, cols = ((96, 256), (48, 320), (128, 512), (16, 128), (10, 576))[j % 5]
            case = kb.blocks_case(f"blpairs_{bi}_{j}", rng, rows, cols, 1, bi, mix=mix, pairs=True)
            out.append((f"blocks_pairs_1x{bi}", case, 1,
                        block_features(case.blocks[1], rows, cols, tables=True)))
    for name, bits, table in (("wide", False, False), ("bits", True, False), ("table", False, True)):
        for bi in (4, 8, 16):
            for j, mix in enumerate(mixes + [(0.3, 0.4, 0.3), (0.0, 0.5, 0.5), (0.2, 0.0, 0.8)]):
                window, cin, rows = CONV_BLOCK_SHAPES[j % len(CONV_BLOCK_SHAPES)]
                cols = window.kernel_h * window.kernel_w * cin
                # no clamp, as a ReLU with output zero point -128 (the models' convolutions): the pixel quads'
                # four-pixel requantization
                case = kb.blocks_case(f"cbl{name}_{bi}_{j}", rng, rows, cols, 1, bi, mix=mix, sign_bits=bits,
                                      window=window, cin=cin, table=table, activation="NONE")
                family = f"conv_blocks_{name}{'_1x16' if bi == 16 else ''}"
                params = case.layer.params
                copies = quad_patch_copies(patch_copies(params), inside_rows(params), params["patch_row"], bi)
                out.append((family, case, window.out_h * window.out_w,
                            {**block_features(case.blocks[1], rows, cols, tables=table), "copies": copies}))
    for bo, bi in ((2, 4), (2, 8), (4, 8), (2, 16)):
        for bits in (False, True):
            for j, mix in enumerate(mixes):
                rows, cols = (96, 256) if j % 2 else (48, 320)
                case = kb.blocks_case(f"blbo{bo}_{bi}_{int(bits)}_{j}", rng, rows, cols, bo, bi, mix=mix,
                                      sign_bits=bits)
                family = f"blocks_{'bits' if bits else 'wide'}_{'bo2' if bo == 2 and bi <= 8 else 'tiles'}"
                out.append((family, case, 1, block_features(case.blocks[1], rows, cols)))
    # table records where they pay, the ResNet-8 and DS-CNN 64 -> 64 shapes (drawn last: the other families'
    # cases stay as they were)
    for bi in (8, 16):
        for j, mix in enumerate([(0.0, 1.0, 0.0), (0.25, 0.75, 0.0), (0.5, 0.5, 0.0), (0.3, 0.4, 0.3)]):
            for window, cin, rows in CONV_BLOCK_SHAPES[4:]:
                cols = window.kernel_h * window.kernel_w * cin
                case = kb.blocks_case(f"cbltable64_{bi}_{j}_{window.kernel_h}", rng, rows, cols, 1, bi, mix=mix,
                                      window=window, cin=cin, table=True, activation="NONE")
                params = case.layer.params
                copies = quad_patch_copies(patch_copies(params), inside_rows(params), params["patch_row"], bi)
                out.append((f"conv_blocks_table{'_1x16' if bi == 16 else ''}", case, window.out_h * window.out_w,
                            {**block_features(case.blocks[1], rows, cols, tables=True), "copies": copies}))
    # the bench's post-training variants (pt50: 50% dense, 30% unified, 20% pruned 1 x 8 blocks) on the 64 -> 64
    # DS-CNN / ResNet-8 shapes (drawn last, as above)
    for name, bits in (("wide", False), ("bits", True)):
        for window, cin, rows in CONV_BLOCK_SHAPES[4:]:
            cols = window.kernel_h * window.kernel_w * cin
            case = kb.blocks_case(f"cblpt50{name}_{window.kernel_h}", rng, rows, cols, 1, 8, mix=(0.5, 0.3, 0.2),
                                  sign_bits=bits, window=window, cin=cin, activation="NONE")
            params = case.layer.params
            copies = quad_patch_copies(patch_copies(params), inside_rows(params), params["patch_row"], 8)
            out.append((f"conv_blocks_{name}", case, window.out_h * window.out_w,
                        {**block_features(case.blocks[1], rows, cols), "copies": copies}))
    return out


# Terms not fitted: the pixel quads' im2col copies are the dense conv's (munify_dsp_conv_patch); fitted with the
# inputs they would come out negative (the sweep's copies grow with its inputs).
FIXED = {"copies": CONV_COPY}


def fit(rows: list[tuple[dict, int, int]]) -> tuple[dict[str, float], np.ndarray]:
    """Least squares of the relative error (every layer counts the same), with the call's fixed cost
    dsp.LAYER_CALL and the FIXED terms taken off first; the coefficients and each layer's relative error."""
    names = sorted(n for n in rows[0][0] if n not in FIXED)
    a = np.array([[features[n] * positions for n in names] for features, positions, _ in rows])
    fixed = np.array([sum(features.get(n, 0.0) * c for n, c in FIXED.items()) * positions
                      for features, positions, _ in rows])
    coef, errors = fit_relative(a, np.array([measured for _, _, measured in rows], float), LAYER_CALL + fixed)
    return dict(zip(names, coef)), errors


def main() -> None:
    wanted = sys.argv[1:]  # family names to fit (default: all)
    rng = np.random.default_rng(3)
    entries = [e for e in sweep(rng) if not wanted or e[0] in wanted]
    results = {r.name: r for r in kb.measure([case for _, case, _, _ in entries])}
    families: dict[str, list] = {}
    names: dict[str, list] = {}
    for family, case, positions, features in entries:
        names.setdefault(family, []).append(case.name)
        result = results[case.name]
        if result.wrong:
            raise SystemExit(f"{case.name}: {result.wrong} outputs differ from the reference")
        families.setdefault(family, []).append((features, positions, result.instructions))
    for family, rows in families.items():
        coef, errors = fit(rows)
        terms = ", ".join(f"{name} {value:.3f}" for name, value in coef.items())
        worst = int(np.argmax(np.abs(errors)))
        print(f"{family:12s} {terms}   (worst error {errors[worst]:+.1%} of {names[family][worst]}, "
              f"over {len(rows)} layers)")


if __name__ == "__main__":
    main()
