"""Fit the per-window costs of the Helium and NEON dense CONV_2D kernels fused with their 2x2 / stride 2 max pool
(toolchain.plan.fusion; munify_mve_matrix.h MVE_POOL_FUSED, munify_neon_dense.h munify_neon_conv_dense_pool_s8)
to exact per-layer instruction counts (QEMU TCG plugin: instructions, not cycles): mps3-an547 (qemu-system-arm),
aarch64-linux and aarch64-linux-dotprod (qemu-aarch64), each in the boards' build (-O2, balanced) and -O3 (speed).

    .venv/bin/python -m benchmarks.kernels.simd_pool_fusion measure counts.jsonl   # ~2 min
    .venv/bin/python -m benchmarks.kernels.simd_pool_fusion fit counts.jsonl       # coefficients, every layer

`fit` prints, per kernel family and build, the coefficients of the fused cost's terms (the constants in
toolchain/plan/kernels/{mve,neon}/kernels.py are these, rounded) and then each layer's planned cost against its
count.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.kernels import kernel_bench as kb
from benchmarks.kernels.fit import fit_relative
from toolchain.boards import load_board
from toolchain.ir import save
from toolchain.plan import fusion, layers, make_plan
from toolchain.plan.kernels.mve.kernels import LAYER_CALL as MVE_LAYER_CALL, mve_window_terms
from toolchain.plan.kernels.neon.kernels import CONV_DENSE, SPEED_BUILD, neon_window_terms
from toolchain.run import run_model

BOARDS = ("mps3-an547", "aarch64-linux", "aarch64-linux-dotprod")
# (window, cin, cout): the MNIST CNN's three convs and other shapes (1 x 1, RGB, wide, a gathered 3-channel patch)
SHAPES = [(kb.Window(28, 28, 3, 3), 1, 16), (kb.Window(14, 14, 3, 3), 16, 32), (kb.Window(7, 7, 3, 3), 32, 48),
          (kb.Window(12, 12, 3, 3), 8, 24), (kb.Window(10, 10, 1, 1, pad="VALID"), 16, 12),
          (kb.Window(16, 16, 3, 3), 3, 8), (kb.Window(8, 8, 3, 3), 64, 64), (kb.Window(9, 10, 5, 5), 4, 10)]


def _graph(index: int, window: kb.Window, cin: int, cout: int):
    """A dense conv + pool whose weights avoid -128 (the NEON kernel's int16 pair sums) and whose requantization
    shifts right (so it fuses)."""
    for seed in range(index * 100, index * 100 + 50):
        case = kb.with_max_pool(kb.conv_case(f"simd_pool{index}", np.random.default_rng(seed), window, cin, cout,
                                             activation="NONE"))
        graph = case.graph
        conv = graph.ops[0]
        w = graph.tensor(conv.inputs[1])
        graph = graph.with_tensor(dataclasses.replace(w, data=np.maximum(w.data, -127).astype(np.int8)))
        if make_plan(graph, load_board(BOARDS[0]).features).layers[0].params["pool_fused"]:
            return graph
    raise RuntimeError(f"no seed of shape {index} fuses")


def _fused_facts(graph, optimize: str):
    conv, pool = (layers.build(graph, op, optimize) for op in graph.ops)
    return fusion.fuse(conv, pool).facts


def measure(out_path: Path) -> None:
    with out_path.open("w") as out, tempfile.TemporaryDirectory() as tmp:
        for index, shape in enumerate(SHAPES):
            graph = _graph(index, *shape)
            path = Path(tmp) / f"{graph.name}.mun"
            save(graph, path)
            for board_name in BOARDS:
                board = load_board(board_name)
                for optimize in ("balanced", "speed"):
                    plan = make_plan(graph, board.features, optimize, cpu=board.cpu)
                    assert plan.layers[0].params["pool_fused"], (board_name, graph.name)
                    report = run_model(path, board, Path(tmp) / f"{graph.name}-{board_name}-{optimize}", 1, 0,
                                       layers=True, optimize=optimize, exact_counts=True)
                    assert report.bit_exact, (board_name, graph.name, optimize)
                    layer = report.layers[0]
                    facts = dataclasses.asdict(_fused_facts(graph, optimize))
                    facts["kinds"] = sorted(int(k) for k in facts["kinds"])
                    out.write(json.dumps({"board": board_name, "optimize": optimize, "name": graph.name,
                                          "kernel": layer.kernel, "exact": layer.instructions_exact,
                                          "facts": facts}) + "\n")
                    print(board_name, optimize, graph.name, layer.kernel, layer.instructions_exact,
                          f"planned {plan.layers[0].cost:,.0f}", flush=True)


def _terms(row: dict) -> list[float]:
    f = row["facts"]
    if row["board"] == "mps3-an547":
        return mve_window_terms(f["rows"], f["cols"], f["patch_row"], f["pool_windows"], f["inside_windows"],
                                f["patch_copies"])
    build = SPEED_BUILD if row["optimize"] == "speed" else "O2"
    unrolled = CONV_DENSE[build][row["board"] == "aarch64-linux-dotprod"].unrolled_trips
    return neon_window_terms(f["rows"], f["cols"], f["patch_row"], f["pool_windows"], f["patch_copies"], unrolled)


def _call(row: dict) -> float:
    """The cost model's per-call constant (outside the fit)."""
    if row["board"] == "mps3-an547":
        return MVE_LAYER_CALL
    return CONV_DENSE[SPEED_BUILD if row["optimize"] == "speed" else "O2"][row["board"] == "aarch64-linux-dotprod"].call


def _planned(row: dict) -> float:
    """The fused conv's cost in today's plan of the row's layer (the graphs are seeded)."""
    index = int(row["name"].removeprefix("simd_pool"))
    board = load_board(row["board"])
    return make_plan(_graph(index, *SHAPES[index]), board.features, row["optimize"], cpu=board.cpu).layers[0].cost


def fit(rows: list[dict]) -> None:
    for board in BOARDS:
        for optimize in ("balanced", "speed"):
            group = [r for r in rows if r["board"] == board and r["optimize"] == optimize]
            coef, errors = fit_relative(np.array([_terms(r) for r in group]), np.array([r["exact"] for r in group]),
                                        np.array([_call(r) for r in group]), nonnegative=True)
            print(f"{board} {optimize}: coefficients {np.round(coef, 2).tolist()}")
            for r, e in zip(group, errors):
                print(f"  {r['name']:12s} {r['kernel']:16s} exact {r['exact']:>9,} fit {e:+.1%} "
                      f"planned now {_planned(r) / r['exact'] - 1:+.1%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("measure", "fit"))
    parser.add_argument("counts", type=Path)
    args = parser.parse_args()
    if args.action == "measure":
        measure(args.counts)
    else:
        fit([json.loads(line) for line in args.counts.read_text().splitlines()])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
