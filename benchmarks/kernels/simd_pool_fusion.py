"""Fit the costs of the Helium and NEON CONV_2D kernels fused with their 2x2 / stride 2 max pool
(toolchain.plan.fusion; munify_mve_matrix.h MVE_POOL_FUSED, munify_neon_dense.h munify_neon_conv_dense_pool_s8,
munify_neon_blocks.h munify_neon_blocks_pool_s8) to exact per-layer instruction counts (QEMU TCG plugin:
instructions, not cycles): mps3-an547 (qemu-system-arm), aarch64-linux and aarch64-linux-dotprod (qemu-aarch64),
each in the boards' build (-O2, balanced) and -O3 (speed).

    .venv/bin/python -m benchmarks.kernels.simd_pool_fusion measure counts.jsonl [MODEL.mun ...]   # ~3 min
    .venv/bin/python -m benchmarks.kernels.simd_pool_fusion fit counts.jsonl

`measure`: dense conv + pool layers of several shapes as planned, block-structured ones (1x8, 2x8, 1x16) with each
NEON block kernel forced, and the fused convs of the given models as planned (the MNIST CNN: dense, admm75,
admm90). `fit` prints, per kernel family, board and build, the coefficients of the fused cost's terms (dense:
mve_window_terms / neon_window_terms; blocks: the saving per window and row against the unfused pass model; the
constants in toolchain/plan/kernels/{mve,neon}/kernels.py are these, rounded), then every layer's fit and its
cost in today's plan against its count.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np

import toolchain.codegen as codegen
from benchmarks.kernels import kernel_bench as kb
from benchmarks.kernels.fit import fit_relative
from toolchain.boards import load_board
from toolchain.ir import BlockKind, load, save
from toolchain.plan import fusion, layers, make_plan
from toolchain.plan.kernels.mve.kernels import LAYER_CALL as MVE_LAYER_CALL, mve_window_terms
from toolchain.plan.kernels.neon import kernels as neon
from toolchain.plan.variant import LayerFacts
from toolchain.run import run_model

BOARDS = ("mps3-an547", "aarch64-linux", "aarch64-linux-dotprod")
OPTIMIZE = ("balanced", "speed")
# (window, cin, cout): the MNIST CNN's three convs and other shapes (1 x 1, RGB, wide, a gathered 3-channel patch)
SHAPES = [(kb.Window(28, 28, 3, 3), 1, 16), (kb.Window(14, 14, 3, 3), 16, 32), (kb.Window(7, 7, 3, 3), 32, 48),
          (kb.Window(12, 12, 3, 3), 8, 24), (kb.Window(10, 10, 1, 1, pad="VALID"), 16, 12),
          (kb.Window(16, 16, 3, 3), 3, 8), (kb.Window(8, 8, 3, 3), 64, 64), (kb.Window(9, 10, 5, 5), 4, 10)]
# (window, cin, cout, bo, bi): block-structured convs for the NEON block kernels
BLOCK_SHAPES = [(kb.Window(14, 14, 3, 3), 16, 32, 1, 8), (kb.Window(7, 7, 3, 3), 32, 48, 1, 8),
                (kb.Window(12, 12, 3, 3), 8, 24, 1, 8), (kb.Window(8, 8, 3, 3), 64, 64, 1, 8),
                (kb.Window(10, 10, 3, 3), 16, 16, 2, 8), (kb.Window(12, 10, 3, 3), 16, 20, 1, 16)]
BLOCK_KERNELS = ("blocks", "blocks_tables")
# Checked, not fitted: the block shapes whose unfused layers the pass model already misses by 5-15% (8 input
# channels, 2 x 8 and 1 x 16 blocks; the pass model was fitted on real models' 1 x 8 layers)
UNFITTED_BLOCK_SHAPES = {2, 4, 5}


def _fusing(seeds: range, make):
    """The first seed's graph (`make(rng)`) whose conv fuses on mps3-an547, its weights kept off -128 (the NEON
    kernels' int16 pair sums)."""
    for seed in seeds:
        graph = make(np.random.default_rng(seed))
        w = graph.tensor(graph.ops[0].inputs[1])
        graph = graph.with_tensor(dataclasses.replace(w, data=np.maximum(w.data, -127).astype(np.int8)))
        if make_plan(graph, load_board(BOARDS[0]).features).layers[0].params["pool_fused"]:
            return graph
    raise RuntimeError("no seed fuses")


def _dense_graph(index: int):
    window, cin, cout = SHAPES[index]
    return _fusing(range(index * 100, index * 100 + 50), lambda rng: kb.with_max_pool(
        kb.conv_case(f"simd_pool{index}", rng, window, cin, cout, activation="NONE")).graph)


def _blocks_graph(index: int):
    window, cin, cout, bo, bi = BLOCK_SHAPES[index]
    return _fusing(range(index * 100, index * 100 + 50), lambda rng: kb.with_max_pool(
        kb.blocks_case(f"simd_pool_blocks{index}", rng, cout, window.kernel_h * window.kernel_w * cin, bo, bi,
                       window=window, cin=cin, activation="NONE")).graph)


def _graph(source: list):
    kind, value = source
    return _dense_graph(value) if kind == "dense" else _blocks_graph(value) if kind == "blocks" else load(value)


def _fused_facts(graph, conv: int, optimize: str) -> dict:
    specs = [layers.build(graph, graph.ops[i], optimize) for i in (conv, conv + 1)]
    facts = dataclasses.asdict(fusion.fuse(*specs).facts)
    facts["kinds"] = sorted(int(k) for k in facts["kinds"])
    return facts


def _plan(graph, board, optimize: str, force: dict):
    return make_plan(graph, board.features, optimize, force=force, cpu=board.cpu)


def _cases(models: list[Path]):
    """(source, board, optimize, force) of every measurement."""
    for board in BOARDS:
        for optimize in OPTIMIZE:
            for i in range(len(SHAPES)):
                yield ["dense", i], board, optimize, {}
            for i in range(len(BLOCK_SHAPES)):
                for kernel in BLOCK_KERNELS if board != BOARDS[0] else ():
                    if kernel == "blocks_tables" and BLOCK_SHAPES[i][4] != 8:
                        continue
                    suffix = "sdot" if board == "aarch64-linux-dotprod" else "neon"
                    yield ["blocks", i], board, optimize, {f"simd_pool_blocks{i}": f"conv_{kernel}_{suffix}"}
            for model in models:
                yield ["model", str(model)], board, optimize, {}


def measure(out_path: Path, models: list[Path]) -> None:
    force: dict[str, str] = {}
    plan = codegen.make_plan  # the build path has no option to force a kernel
    codegen.make_plan = lambda graph, features, optimize="balanced", cpu=None: plan(graph, features, optimize,
                                                                                     force=force, cpu=cpu)
    try:
        with out_path.open("w") as out, tempfile.TemporaryDirectory() as tmp:
            for n, (source, board_name, optimize, forced) in enumerate(_cases(models)):
                graph, board = _graph(source), load_board(board_name)
                force.clear()
                force.update(forced)
                path = Path(tmp) / f"{n}.mun"
                save(graph, path)
                planned = _plan(graph, board, optimize, force)
                report = run_model(path, board, Path(tmp) / f"build{n}", 1, 0, layers=True, optimize=optimize,
                                   exact_counts=True)
                assert report.bit_exact, (source, board_name, optimize, forced)
                measured = {layer.name: layer for layer in report.layers}
                for index, layer in enumerate(planned.layers):
                    if not layer.params.get("pool_fused"):
                        continue
                    count = measured[layer.name].instructions_exact
                    out.write(json.dumps({"source": source, "board": board_name, "optimize": optimize, "force": forced,
                                          "layer": index, "kernel": layer.variant, "exact": count,
                                          "facts": _fused_facts(graph, index, optimize)}) + "\n")
                    print(board_name, optimize, source, layer.name, layer.variant, count, flush=True)
    finally:
        codegen.make_plan = plan


def _family(row: dict) -> str:
    return "blocks" if "_blocks" in row["kernel"] else "dense"


def _build(row: dict) -> str:
    return neon.SPEED_BUILD if row["optimize"] == "speed" else "O2"


def _sdot(row: dict) -> bool:
    return row["board"] == "aarch64-linux-dotprod"


def _terms(row: dict) -> list[float]:
    f = row["facts"]
    if _family(row) == "blocks":
        return [-f["pool_windows"] * f["rows"]]
    if row["board"] == BOARDS[0]:
        return mve_window_terms(f["rows"], f["cols"], f["patch_row"], f["pool_windows"], f["inside_windows"],
                                f["patch_copies"])
    unrolled = neon.CONV_DENSE[_build(row)][_sdot(row)].unrolled_trips
    return neon.neon_window_terms(f["rows"], f["cols"], f["patch_row"], f["pool_windows"], f["patch_copies"],
                                  unrolled)


def _fixed(row: dict) -> float:
    """The cost outside the fit: the per-call constant, or (blocks) the unfused pass model of the pixels run."""
    if _family(row) == "blocks":
        facts = LayerFacts(**{**row["facts"], "kinds": frozenset(BlockKind(k) for k in row["facts"]["kinds"])})
        tables = "tables" in row["kernel"]
        costs = (neon.TABLE_PASS if tables else neon.BLOCK_PASS)[_build(row)][_sdot(row)]
        return neon._pass_cost(facts, costs, neon.TABLE_PIXELS if tables else neon.block_pixels(1, _sdot(row)))
    if row["board"] == BOARDS[0]:
        return MVE_LAYER_CALL
    return neon.CONV_DENSE[_build(row)][_sdot(row)].call


def _planned(row: dict) -> float:
    """The fused conv's cost in today's plan of the row's layer (the graphs are seeded)."""
    board = load_board(row["board"])
    return _plan(_graph(row["source"]), board, row["optimize"], row["force"]).layers[row["layer"]].cost


def fit(rows: list[dict]) -> None:
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        kernel = row["kernel"].replace("conv_as_", "conv_")
        groups.setdefault((kernel, row["board"], row["optimize"]), []).append(row)
    for (kernel, board, optimize), group in sorted(groups.items()):
        fitted = [r for r in group if _fitted(r)]
        if fitted:
            coef, _ = fit_relative(np.array([_terms(r) for r in fitted]), np.array([r["exact"] for r in fitted]),
                                   np.array([_fixed(r) for r in fitted]), nonnegative=True)
            print(f"{kernel} {board} {optimize}: coefficients {np.round(coef, 2).tolist()}")
        else:
            print(f"{kernel} {board} {optimize}: not fitted")
        for r in group:
            name = Path(r["source"][1]).stem if r["source"][0] == "model" else f"{r['source'][0]}{r['source'][1]}"
            fit_error = f"{(np.dot(_terms(r), coef) + _fixed(r)) / r['exact'] - 1:+.1%}" if _fitted(r) else "check"
            print(f"  {name:16s} layer {r['layer']:2d} {r['kernel']:24s} exact {r['exact']:>9,} fit {fit_error:>6s} "
                  f"planned now {_planned(r) / r['exact'] - 1:+.1%}")


def _fitted(row: dict) -> bool:
    """conv_unpack_mve (the dense kernel after its expansion) and UNFITTED_BLOCK_SHAPES are only checked."""
    return "_unpack_" not in row["kernel"] and not (row["source"][0] == "blocks"
                                                    and row["source"][1] in UNFITTED_BLOCK_SHAPES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("measure", "fit"))
    parser.add_argument("counts", type=Path)
    parser.add_argument("models", type=Path, nargs="*", help="measure: models whose fused convs to count as planned")
    args = parser.parse_args()
    if args.action == "measure":
        measure(args.counts, args.models)
    else:
        fit([json.loads(line) for line in args.counts.read_text().splitlines()])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
