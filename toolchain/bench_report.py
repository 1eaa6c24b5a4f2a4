"""docs/BENCHMARKS.md and its plots, rendered from the JSON document `munify bench` measured."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

ANCHOR_BOARD = "mps2-an386"


def _fmt(n) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _rows(doc: dict, board: str | None = None, variant: str | None = None) -> list[dict]:
    return [r for r in doc["rows"] if (board is None or r["board"] == board)
            and (variant is None or r["variant"] == variant)]


def _accuracy(r: dict) -> str:
    acc = r["accuracy"]
    if "test_top1" in acc:
        return f"{100 * acc['test_top1']:.1f}% test"
    if "top1_agreement_random_inputs" in acc:
        return f"{100 * acc['top1_agreement_random_inputs']:.0f}% agree"
    return "as imported"


def anchor_table(doc: dict) -> str:
    rows = []
    for model, anchor in doc["anchors"]["tflm_cmsis_nn_m4"].items():
        mine = [r for r in _rows(doc, ANCHOR_BOARD, "dense") if r["model"] == model]
        if not mine:
            continue
        r = mine[0]
        m = r["memory"]
        rows.append([model, anchor["instructions"], r["instructions"],
                     f"**{r['instructions'] / anchor['instructions']:.2f}x**", r["instructions_per_mac"],
                     anchor["arena_bytes"], m["arena_bytes"], f"{m['arena_bytes'] / anchor['arena_bytes']:.2f}x",
                     anchor["flash_bytes"], m["flash_bytes"], f"{m['flash_bytes'] / anchor['flash_bytes']:.2f}x",
                     "yes" if r["bit_exact"] else "NO"])
    return _table(["model", "TFLM+CMSIS-NN instructions", "munify instructions", "ratio", "munify instr/MAC",
                   "TFLM arena B", "munify arena B", "ratio", "TFLM flash B", "munify flash B", "ratio",
                   "bit-exact"], rows)


# issue 8's whole-model targets on the anchor board: compressed MNIST CNN against its dense build
MNIST_TARGETS = {"admm75": 0.55, "admm90": 0.45}
SPEED_SUFFIX = "-speed"  # the label of a model toolchain.bench also builds with --optimize speed
# issue 9's targets against CMSIS-NN's Helium kernels: dense, compressed
MVE_TARGETS = {"dense": 0.9, "compressed": 0.5}


def _dense_row(doc: dict, board: str, model: str, label: str = "dense") -> dict | None:
    return next((r for r in _rows(doc, board, label) if r["model"] == model), None)


def _fixed_share(compressed: dict, dense: dict) -> float:
    """The dense model's share spent in layers the compressed model keeps without blocks (first conv, pools)."""
    fixed = sum(layer["instructions"] for layer in compressed["layers"] if layer["blocks"] in ("", "dense"))
    return fixed / dense["instructions"]


def _same_mode_dense(doc: dict, variant: str) -> dict | None:
    """The dense MNIST row built with the same --optimize as `variant`."""
    label = "dense" + SPEED_SUFFIX if variant.endswith(SPEED_SUFFIX) else "dense"
    return _dense_row(doc, ANCHOR_BOARD, "mnist_cnn", label)


def _mnist_verdict(variant: str, vs_dense: float, also: str, target: float, fixed: float, rest: float) -> str:
    """The whole model against issue 8's target, then the bound the issue names: the layers without blocks
    (the dense first conv, pools) cost the same in both models, so the layers with blocks are judged on their own."""
    return (f"- `{variant}`: {vs_dense:.3f}x of dense{also} (target <= {target}: "
            f"{'met' if vs_dense <= target else 'NOT met'}); the layers without blocks (the dense first conv and "
            f"any pool not fused into a conv) are {fixed:.3f} of the dense model, the layers with blocks run at {rest:.3f}x of their dense "
            f"cost ({'within' if rest <= target else 'above'} the target); the whole model needs them at "
            f"{(target - fixed) / (1 - fixed):.3f}x.")


def mnist_headline(doc: dict) -> str:
    anchor = doc["anchors"].get("tflm_cmsis_nn_m4_mnist")
    if anchor is None or _dense_row(doc, ANCHOR_BOARD, "mnist_cnn") is None:
        return ""
    rows, verdicts = [], []
    for r in (r for r in _rows(doc, ANCHOR_BOARD) if r["model"] == "mnist_cnn"):
        dense = _same_mode_dense(doc, r["variant"])
        if dense is None:
            continue
        vs_dense = r["instructions"] / dense["instructions"]
        rows.append([r["variant"], _accuracy(r), r["weights_bytes_stored"], r["instructions"], f"{vs_dense:.3f}x",
                     anchor["instructions"], f"**{r['instructions'] / anchor['instructions']:.2f}x**",
                     "yes" if r["bit_exact"] else "NO"])
        target = MNIST_TARGETS.get(r["variant"].removesuffix(SPEED_SUFFIX))
        if target is not None:
            fixed = _fixed_share(r, dense)
            rest = (r["instructions"] / dense["instructions"] - fixed) / (1 - fixed)
            default_build = _dense_row(doc, ANCHOR_BOARD, "mnist_cnn")
            also = (f" ({r['instructions'] / default_build['instructions']:.3f}x of the default, balanced, dense "
                    "build)" if dense is not default_build else "")
            verdicts.append(_mnist_verdict(r["variant"], vs_dense, also, target, fixed, rest))
    table = _table(["variant", "accuracy", "stored weight B", "munify instructions", "vs munify dense (same mode)",
                    "TFLM+CMSIS-NN instructions", "munify / TFLM", "bit-exact"], rows)
    return "\n".join([
        f"## Compressed MNIST CNN against TFLite Micro + CMSIS-NN ({ANCHOR_BOARD})", "",
        f"TFLM + CMSIS-NN (the build above) ran the MNIST CNN exported by `munify export` "
        f"({', '.join(anchor['measured_variants'])}) in {anchor['instructions']:,} instructions each: it runs unified "
        "and pruned blocks as plain int8 weights, so its figure is the dense one for every variant (measured out of "
        "tree on the dense and the two compressed exports, see `TFLM_MNIST_ANCHOR` in toolchain/bench.py). munify "
        "runs its own kernels with the default `--optimize balanced`; `-speed` rows are the same models built with "
        "`--optimize speed` (the fastest kernel per layer whatever its bytes, -O3) and compare with `dense-speed`.", "",
        table, "", *verdicts, ""])


def mve_anchor_table(doc: dict) -> str:
    anchor = doc["anchors"].get("cmsis_nn_mve")
    if anchor is None:
        return ""
    board, rows = anchor["board"], []
    for model, theirs in anchor["instructions"].items():
        for r in (r for r in _rows(doc, board) if r["model"] == model):
            kind = "dense" if r["variant"] == "dense" else "compressed"
            rows.append([model, r["variant"], theirs, r["instructions"], f"**{r['instructions'] / theirs:.2f}x**",
                         f"<= {MVE_TARGETS[kind]}", "yes" if r["bit_exact"] else "NO"])
    if not rows:
        return ""
    return "\n".join([
        f"## Against TFLite Micro + CMSIS-NN Helium kernels (Cortex-M55, {board})", "",
        "CMSIS-NN (MVE) figures measured out of tree in this QEMU (`-icount shift=0`) by an earlier session and "
        "quoted in issue 9 (`CMSIS_NN_MVE_ANCHORS` in toolchain/bench.py). `pt25` / `pt50` use 1x8 blocks, which "
        "the M55 expands per call and runs dense (they buy bytes there, not time); `pt80-4x16` uses the Helium "
        "tile shape, where pruned tiles are skipped at every pixel (docs/bench/HELIUM.md).", "",
        _table(["model", "variant", "CMSIS-NN MVE instructions", "munify instructions", "ratio", "issue 9 target",
                "bit-exact"], rows), ""])


def all_rows_table(doc: dict) -> str:
    rows = []
    for r in doc["rows"]:
        m = r["memory"]
        rows.append([r["model"], r["variant"], r["board"], r["macs"], r["weights_bytes_stored"], _accuracy(r),
                     r["instructions"], r["instructions_per_mac"], m["flash_bytes"], m["arena_bytes"],
                     m["stack_bytes"], "yes" if r["bit_exact"] else "NO"])
    return _table(["model", "variant", "board", "MACs", "stored weight B", "accuracy", "instructions", "instr/MAC",
                   "flash B", "arena B", "stack B", "bit-exact"], rows)


def per_layer_table(doc: dict, model: str, variant: str) -> str:
    dense = [r for r in _rows(doc, ANCHOR_BOARD, "dense") if r["model"] == model]
    comp = [r for r in _rows(doc, ANCHOR_BOARD, variant) if r["model"] == model]
    if not dense or not comp:
        return ""
    comp_layers = {layer["name"]: layer for layer in comp[0]["layers"]}
    rows = []
    for d in dense[0]["layers"]:
        c = comp_layers.get(d["name"])
        if c is None or not d["instructions"]:
            continue
        rows.append([d["name"], d["op"], c["blocks"] or "-", d["kernel"], d["instructions"], c["kernel"],
                     c["instructions"], f"{c['instructions'] / d['instructions']:.2f}x"])
    return _table(["layer", "op", "blocks (compressed)", "dense kernel", "dense instructions", "compressed kernel",
                   "compressed instructions", "ratio"], rows)


def host_cost_table(doc: dict) -> str:
    rows = []
    for r in _rows(doc, ANCHOR_BOARD):
        h = r["host_seconds"]
        rows.append([r["model"], r["variant"], r["parameters"], r["macs"], h.get("import", h.get("compress", "-")),
                     h["plan"], h["generate"], h["build"]])
    return _table(["model", "variant", "parameters", "MACs", "import / compress s", "plan s", "generate s",
                   "build s"], rows)


def _growth(slope) -> str:
    if slope is None:
        return "not enough distinct sizes to fit"
    if slope < 0.3:
        return f"exponent {slope}: nearly flat (fixed costs dominate)"
    if slope < 0.85:
        return f"exponent {slope}: sub-linear"
    if slope <= 1.15:
        return f"exponent {slope}: about linear"
    return f"exponent {slope}: super-linear"


def scaling_section(doc: dict) -> str:
    s = doc["scaling"]
    lines = [
        f"- Instructions against MACs (dense models, {ANCHOR_BOARD}): {_growth(s['instructions_vs_macs'])}.",
        f"- Flash against parameters: {_growth(s['flash_vs_parameters'])} (the firmware and harness are a fixed "
        "base; weights add one byte per stored weight).",
    ]
    for stage in ("plan", "generate", "build"):
        lines.append(f"- Host {stage} time against parameters: {_growth(s[f'{stage}_seconds_vs_parameters'])}.")
    return "\n".join(lines)


KERNEL_SWEEP = Path("bench") / "DSP-UNIFIED.md"  # benchmarks/unified_sweep.py, relative to docs/
KERNEL_SWEEP_TARGETS = "Issue 8 kernel targets"


def kernel_sweep_section(md_dir: Path) -> str:
    """Issue 8's kernel targets as the sweep (benchmarks/unified_sweep.py) last measured them: its summary lines,
    quoted with their source; empty when the sweep has not been run."""
    path = md_dir / KERNEL_SWEEP
    if not path.exists():
        return ""
    lines = path.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(KERNEL_SWEEP_TARGETS)), None)
    if start is None:
        return ""
    rest = lines[start + 1:]
    first = next((i for i, line in enumerate(rest) if line.startswith("- ")), len(rest))
    summary = list(itertools.takewhile(lambda line: line.startswith("- "), rest[first:]))
    return "\n".join([
        f"## Unified and pruned blocks per kernel ({ANCHOR_BOARD})", "",
        f"One layer per shape, instructions relative to its dense DSP kernel against the fraction of 1 x 4 / 1 x 8 / "
        f"1 x 16 blocks unified and pruned: [{KERNEL_SWEEP.as_posix()}]({KERNEL_SWEEP.as_posix()}), generated by "
        "`python -m benchmarks.unified_sweep` (not by this command; quoted from that file). "
        f"{lines[start].rstrip(':')}:", "", *summary, ""])


def render_markdown(doc: dict, img_dir: Path, md_dir: Path) -> str:
    rel = Path(os.path.relpath(img_dir, md_dir))
    machine = doc["machine"]
    compressed = [v for v in ("admm75", "pt50", "pt25") if any(r["variant"] == v for r in doc["rows"])]
    layer_model = "mnist_cnn" if compressed and compressed[0].startswith("admm") else "kws_ref_model"
    parts = [
        "# Benchmarks",
        "",
        f"Regenerated by `{doc['command']}` at git revision `{doc['git_revision']}` in {doc['seconds']} s.",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['platform']}, Python {machine['python']}; "
        f"{machine['qemu']}; {machine['arm_gcc']}.",
        "",
        "Latency is **retired instructions** per inference under QEMU `-icount shift=0` (deterministic), not cycles; "
        "cycles come only from real hardware (DWT). Every row is checked bit-exact against munify's integer "
        "reference, which matches TFLite Micro on the imported models (`munify verify`).",
        "",
        "## Against TFLite Micro + CMSIS-NN (Cortex-M4, mps2-an386, dense models as imported)",
        "",
        "The TFLM rows are anchors measured out of tree with TFLite Micro + CMSIS-NN kernels in the same QEMU "
        "(`-icount shift=0`; re-measured 2026-12-03 with tflite-micro 90b983c2 + CMSIS-NN 4ab83cc3 within 0.03%, "
        "see `TFLM_ANCHORS` in toolchain/bench.py); TFLM flash is its runtime (116,122 B) plus the model. Ratios are munify / TFLM "
        "(lower is better).",
        "",
        anchor_table(doc),
        "",
        f"![munify vs TFLM]({rel / 'bench_vs_tflm.png'})",
        "",
        mnist_headline(doc),
        kernel_sweep_section(md_dir),
        mve_anchor_table(doc),
        "## Every model, variant and board",
        "",
        "Variants: `dense` as imported or trained; `pt25` / `pt50`: post-training unification + pruning of 25% / "
        "50% of the 1x8 blocks of the middle CONV_2D / FC layers, no retraining (accuracy proxy: top-1 agreement "
        "with the dense model on seeded random inputs; without retraining accuracy drops, which is why munify "
        "compresses with ADMM when the training pipeline is at hand); `admm50` / `admm75` / `admm90`: the MNIST "
        "CNN compressed with ADMM (1x8 blocks, 50 / 75 / 90% of the blocks of each compressed layer unified or "
        "pruned) and retrained, real test accuracy on 1,000 images. On the Helium board only: `pt80-4x16`, 50% of "
        "the 4x16 blocks pruned and 30% unified post-training (the MVE tile shape), and `admm70-4x16`, the MNIST "
        "CNN trained by examples/mnist_cnn_4x16.toml (50% pruned, 20% unified). On the anchor board only: the MNIST "
        "variants with `-speed` are built with `--optimize speed`.",
        "",
        all_rows_table(doc),
        "",
        f"![instructions vs MACs]({rel / 'bench_scaling.png'})",
        "",
    ]
    if compressed:
        parts += [f"## Per layer: dense against `{compressed[0]}` ({layer_model}, {ANCHOR_BOARD})", "",
                  per_layer_table(doc, layer_model, compressed[0]), "",
                  f"![per-layer]({rel / 'bench_layers.png'})", ""]
    if doc.get("failures"):
        parts += ["## Failed measurements", "",
                  _table(["model", "variant", "board", "error"],
                         [[f["model"], f["variant"], f["board"], f["error"]] for f in doc["failures"]]), ""]
    parts += ["## Scaling", "", scaling_section(doc), "", "### Host-side costs", "", host_cost_table(doc), "",
              "Raw figures: `docs/benchmarks.json`.", ""]
    return "\n".join(parts)


def write_plots(doc: dict, img_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = {"Software": None}
    fig, ax = plt.subplots(figsize=(6, 4))
    for board in sorted({r["board"] for r in doc["rows"]}):
        dense = _rows(doc, board, "dense")
        ax.scatter([r["macs"] for r in dense], [r["instructions"] for r in dense], label=f"munify {board}")
    anchors = doc["anchors"]["tflm_cmsis_nn_m4"]
    macs = {r["model"]: r["macs"] for r in doc["rows"]}
    ax.scatter([macs[m] for m in anchors if m in macs], [a["instructions"] for m, a in anchors.items() if m in macs],
               marker="x", color="black", label="TFLM + CMSIS-NN (M4)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("MACs per inference")
    ax.set_ylabel("instructions per inference")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(img_dir / "bench_scaling.png", dpi=110, metadata=meta)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    models = [m for m in anchors if any(r["model"] == m for r in _rows(doc, ANCHOR_BOARD, "dense"))]
    metrics = (("instructions", "instructions"), ("arena_bytes", "arena"), ("flash_bytes", "flash"))
    for i, (key, label) in enumerate(metrics):
        ratios = []
        for m in models:
            r = [r for r in _rows(doc, ANCHOR_BOARD, "dense") if r["model"] == m][0]
            value = r["instructions"] if key == "instructions" else r["memory"][key]
            ratios.append(value / anchors[m][key])
        ax.bar([j + 0.27 * (i - 1) for j in range(len(models))], ratios, 0.27, label=label)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(models)), models, fontsize=8)
    ax.set_ylabel("munify / TFLM+CMSIS-NN")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(img_dir / "bench_vs_tflm.png", dpi=110, metadata=meta)
    plt.close(fig)

    compressed = [v for v in ("admm75", "pt50", "pt25") if any(r["variant"] == v for r in doc["rows"])]
    if not compressed:
        return
    model = "mnist_cnn" if compressed[0].startswith("admm") else "kws_ref_model"
    dense = [r for r in _rows(doc, ANCHOR_BOARD, "dense") if r["model"] == model]
    comp = [r for r in _rows(doc, ANCHOR_BOARD, compressed[0]) if r["model"] == model]
    if not dense or not comp:
        return
    names = [layer["name"] for layer in dense[0]["layers"]]
    comp_counts = {layer["name"]: layer["instructions"] for layer in comp[0]["layers"]}
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(names)), 4))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [layer["instructions"] for layer in dense[0]["layers"]], 0.4, label="dense")
    ax.bar([x + 0.2 for x in xs], [comp_counts.get(n, 0) for n in names], 0.4, label=compressed[0])
    ax.set_xticks(list(xs), names, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("instructions")
    ax.set_title(f"{model} per layer, {ANCHOR_BOARD}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(img_dir / "bench_layers.png", dpi=110, metadata=meta)
    plt.close(fig)
