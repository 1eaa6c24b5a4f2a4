"""Compression study on the built-in MNIST CNN; regenerates docs/COMPRESSION.md.

    .venv/bin/python benchmarks/compression_study.py [--seeds 3] [--jobs 2] [--out munify-out/study]

For block shapes 1x4, 1x8, 2x4, 4x4 at budgets of 50%, 75%, 90% of the blocks unified-or-pruned (half of the
budget pruned, half unified), each over several seeds: int8 test accuracy (integer reference on the exported
IR) and stored weight bytes relative to the dense int8 model. Ablation at 1x8 and equal total epochs: ADMM vs
one-shot projection + retraining vs unstructured magnitude pruning at equal stored bytes, with the accuracy
right after the hard projection (BatchNorm re-estimated). Every case is cached as JSON under --out, so an
interrupted study resumes; the dense models are cached like `munify compress` caches them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHAPES = ((1, 4), (1, 8), (2, 4), (4, 4))
BUDGETS = (0.5, 0.75, 0.9)
ABLATION_SHAPE = (1, 8)
BITMAP_BITS = 1  # unstructured baseline format: one presence bit per weight + one byte per kept weight


@dataclass(frozen=True)
class Case:
    method: str  # "admm" | "oneshot" | "unstructured" | "dense"
    shape: tuple[int, int]
    budget: float
    seed: int
    prune: float = 0.0  # unstructured only: fraction of weights pruned

    @property
    def key(self) -> str:
        prune = f"-p{self.prune:.4f}" if self.method == "unstructured" else ""
        return f"{self.method}-{self.shape[0]}x{self.shape[1]}-b{self.budget:.2f}-s{self.seed}{prune}"


def base_recipe(seed: int):
    from toolchain.compress.recipe import load_recipe

    return load_recipe(ROOT / "examples" / "mnist_cnn_1x8.toml").replace(seed=seed, source="study")


def case_recipe(case: Case):
    from toolchain.compress.recipe import AdmmConfig, BlocksConfig, RatiosConfig, RetrainConfig

    recipe = base_recipe(case.seed)
    admm, retrain = recipe.admm, recipe.retrain
    total_epochs = admm.iterations * admm.epochs + retrain.epochs
    if case.method == "unstructured":
        ratios = RatiosConfig(unify=0.0, prune=case.prune)
        return recipe.replace(blocks=BlocksConfig(shape=(1, 1)), ratios=ratios, admm=AdmmConfig(iterations=0),
                              retrain=RetrainConfig(total_epochs, retrain.lr, retrain.momentum))
    prune = round(case.budget / 2, 4)
    ratios = RatiosConfig(unify=round(case.budget - prune, 4), prune=prune)
    recipe = recipe.replace(blocks=BlocksConfig(shape=case.shape), ratios=ratios)
    if case.method == "oneshot":
        recipe = recipe.replace(admm=AdmmConfig(iterations=0),
                                retrain=RetrainConfig(total_epochs, retrain.lr, retrain.momentum))
    return recipe


def bitmap_bytes(structures, model) -> int:
    """Stored bytes of the unstructured layers in a bitmap format (presence bits + kept int8 weights)."""
    import numpy as np

    from toolchain.compress.structure import get_layer, torch_weight_matrix

    total = 0
    for name, s in structures.items():
        n = torch_weight_matrix(get_layer(model, name)).numel()
        total += -(-n * BITMAP_BITS // 8) + int(np.sum(s.kinds == 0))
    return total


def run_case(case: Case, out_dir: str) -> dict:
    import copy

    import torch

    from toolchain.compress.api import compress
    from toolchain.compress.pipeline import DEFAULT_CACHE, load_workload, train_dense
    from toolchain.compress.train import evaluate
    from toolchain.quantize import quantize_model
    from toolchain.summary import summarize

    path = Path(out_dir) / f"{case.key}.json"
    if path.is_file():
        return json.loads(path.read_text())
    torch.set_num_threads(1)
    start = time.monotonic()
    recipe = case_recipe(case) if case.method != "dense" else base_recipe(case.seed)
    dense = train_dense(load_workload(recipe), recipe, ROOT / DEFAULT_CACHE, progress=False)
    work = load_workload(recipe)
    if case.method == "dense":
        q = quantize_model(dense, {}, work.calib)
        result = {"float": evaluate(dense, work.test), "int8": q.accuracy(work.test),
                  "bytes": summarize(q.graph).weight_bytes}
    else:
        c = compress(copy.deepcopy(dense), work.train, work.test, recipe)
        q = c.quantize(work.calib)
        graph_bytes = summarize(q.graph).weight_bytes
        if case.method == "unstructured":
            structured = sum(summarize(q.graph).ops[i].weight_bytes for i, op in enumerate(q.graph.ops)
                             if op.name in c.structures)
            graph_bytes = graph_bytes - structured + bitmap_bytes(c.structures, c.model)
        result = {"float": c.history["accuracy"]["retrained"], "projected": c.history["accuracy"]["projected"],
                  "int8": q.accuracy(work.test), "bytes": graph_bytes,
                  "residual_last": {k: round(v, 4) for k, v in (c.history["admm"][-1]["residual"].items()
                                                                 if c.history["admm"] else [])}}
    result.update(key=case.key, method=case.method, shape=list(case.shape), budget=case.budget, seed=case.seed,
                  seconds=round(time.monotonic() - start, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    return result


def _run(args):
    return run_case(*args)


def run_all(cases: list[Case], out_dir: Path, jobs: int) -> list[dict]:
    if jobs == 1:
        return [run_case(c, str(out_dir)) for c in cases]
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        return pool.map(_run, [(c, str(out_dir)) for c in cases], chunksize=1)


def unstructured_prune_ratio(admm_result: dict, dense_bytes: int, first_layer_bytes: int, n_weights: int) -> float:
    """Fraction of the structured layers' weights to prune so a bitmap format stores as many bytes as ADMM."""
    budget = admm_result["bytes"] - first_layer_bytes
    keep = (budget - n_weights * BITMAP_BITS / 8) / n_weights
    return round(min(max(1.0 - keep, 0.0), 1.0), 4)


def mean_spread(values: list[float]) -> str:
    pct = [100 * v for v in values]
    spread = statistics.pstdev(pct) if len(pct) > 1 else 0.0
    return f"{statistics.mean(pct):.1f} ± {spread:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "munify-out" / "study")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "COMPRESSION.md")
    args = parser.parse_args()
    seeds = list(range(args.seeds))

    dense = {r["seed"]: r for r in run_all([Case("dense", (1, 1), 0.0, s) for s in seeds], args.out, args.jobs)}
    grid = [Case(m, shape, b, s) for m in ("admm",) for shape in SHAPES for b in BUDGETS for s in seeds]
    grid += [Case("oneshot", ABLATION_SHAPE, b, s) for b in BUDGETS for s in seeds]
    results = {r["key"]: r for r in run_all(grid, args.out, args.jobs)}

    first_bytes, n_weights = structured_layer_sizes()
    unstructured = [Case("unstructured", (1, 1), b, s, unstructured_prune_ratio(
        results[Case("admm", ABLATION_SHAPE, b, s).key], dense[s]["bytes"], first_bytes, n_weights))
        for b in BUDGETS for s in seeds]
    results.update({r["key"]: r for r in run_all(unstructured, args.out, args.jobs)})
    from toolchain.fsutil import atomic_write_text

    atomic_write_text(args.doc, render(dense, results, seeds, unstructured, args.jobs))
    print(f"wrote {args.doc}")


def structured_layer_sizes() -> tuple[int, int]:
    """(bytes of the first conv, which stays dense; weights of the compressed layers) of the MNIST CNN."""
    from toolchain.compress.layers import plan_layers
    from toolchain.compress.structure import get_layer
    from toolchain.models import mnist_cnn

    model = mnist_cnn()
    plans = plan_layers(model, base_recipe(0))
    n = sum(get_layer(model, p.name).weight.numel() for p in plans)
    total = sum(m.weight.numel() for m in model.modules() if hasattr(m, "weight") and m.weight is not None
                and m.weight.dim() > 1)
    return total - n, n


def render(dense, results, seeds, unstructured, jobs) -> str:
    from toolchain.compress.recipe import load_recipe

    recipe = load_recipe(ROOT / "examples" / "mnist_cnn_1x8.toml")
    d_int8 = [dense[s]["int8"] for s in seeds]
    d_bytes = dense[seeds[0]]["bytes"]
    rows = []
    for shape in SHAPES:
        for b in BUDGETS:
            rs = [results[Case("admm", shape, b, s).key] for s in seeds]
            delta = [r["int8"] - dense[s]["int8"] for r, s in zip(rs, seeds)]
            rows.append(f"| {shape[0]}x{shape[1]} | {b:.0%} | {mean_spread([r['int8'] for r in rs])} | "
                        f"{100 * statistics.mean(delta):+.1f} | "
                        f"{statistics.mean(r['bytes'] for r in rs) / d_bytes:.3f}x | "
                        f"{mean_spread([r['projected'] for r in rs])} |")
    ablation = []
    for b in BUDGETS:
        for label, cases in (("ADMM", [Case("admm", ABLATION_SHAPE, b, s) for s in seeds]),
                             ("one-shot + retrain", [Case("oneshot", ABLATION_SHAPE, b, s) for s in seeds]),
                             ("unstructured magnitude", [c for c in unstructured if c.budget == b])):
            rs = [results[c.key] for c in cases]
            extra = f" (prunes {100 * cases[0].prune:.0f}% of weights)" if label.startswith("unstructured") else ""
            ablation.append(f"| {b:.0%} | {label}{extra} | {mean_spread([r['int8'] for r in rs])} | "
                            f"{statistics.mean(r['bytes'] for r in rs) / d_bytes:.3f}x | "
                            f"{mean_spread([r['projected'] for r in rs])} |")
    admm, retrain = recipe.admm, recipe.retrain
    top = BUDGETS[-1]

    def mean_of(method: str, field: str, cases=None) -> float:
        cases = cases or [Case(method, ABLATION_SHAPE, top, s) for s in seeds]
        return 100 * statistics.mean(results[c.key][field] for c in cases)

    top_unstructured = [c for c in unstructured if c.budget == top]
    return TEMPLATE.format(
        top=f"{top:.0%}", admm_projected=mean_of("admm", "projected"),
        oneshot_projected=mean_of("oneshot", "projected"),
        admm_vs_oneshot=mean_of("admm", "int8") - mean_of("oneshot", "int8"),
        admm_vs_unstructured=mean_of("admm", "int8") - mean_of("", "int8", top_unstructured),
        worker_minutes=sum(r["seconds"] for r in results.values()) / 60,
        dense_float=mean_spread([dense[s]["float"] for s in seeds]), dense_int8=mean_spread(d_int8),
        dense_bytes=d_bytes, seeds=len(seeds), rows="\n".join(rows), ablation="\n".join(ablation),
        train_epochs=recipe.train.epochs, iterations=admm.iterations, admm_epochs=admm.epochs, rho0=admm.rho0,
        rho_factor=admm.rho_factor, rho_max=admm.rho_max, lr=admm.lr, retrain=retrain.epochs,
        retrain_lr=retrain.lr, calib=recipe.quantize.calib_batches * recipe.batch_size,
        total=admm.iterations * admm.epochs + retrain.epochs, jobs=jobs)


TEMPLATE = """\
# Compression: ADMM micro-structured weight unification and pruning

*Generated by `benchmarks/compression_study.py`; edit the prose there, not here.*

munify compresses a trained PyTorch model by tiling each weight matrix into small blocks and making most blocks
either **pruned** (all zero) or **unified** (every weight keeps its sign, all share one magnitude), following
Lin et al., *Micro-structured weight unification and pruning* (arXiv 2106.08301). The torch side lives in
`toolchain/compress/`; `toolchain/quantize/` turns the result into an int8 IR (`.mun`) whose
`BlockStructure`s the code generator exploits.

```
munify compress --recipe examples/mnist_cnn_1x8.toml -o munify-out/mnist_cnn_1x8.mun --json munify-out/report.json
```

## Blocks

A weight is viewed as a matrix `[out, reduction]` with the reduction axis in deployment order `(kh, kw, cin)`,
the order the IR stores it in (`toolchain.compress.structure.torch_weight_matrix` equals
`toolchain.ir.weight_matrix` of the exported tensor):

| layer | torch weight | matrix |
|---|---|---|
| `Conv2d` | `[O, I, KH, KW]` | `permute(0, 2, 3, 1).reshape(O, KH*KW*I)` |
| depthwise `Conv2d` (groups = in = out) | `[C, 1, KH, KW]` | `[C, KH*KW]` |
| `Linear` | `[O, I]` | as is |

A block is `bo x bi` (bo in 1, 2, 4; bi in 2, 4, 8, 16) with bi contiguous along the reduction axis, i.e. along
the input channels of one kernel tap when `cin` is a multiple of bi.

**Depthwise convolutions** have a single input channel per output, so their blocks run along the kernel taps of
one channel: a 3x3 depthwise filter is a row of 9 taps, a 1x8 block covers taps 0..7 and tap 8 is an edge weight.
*Alternative (not implemented):* block across channels instead, i.e. view the filter as `[KH*KW, C]` with bi
consecutive channels of the same tap. That suits SIMD kernels that process several channels per tap, and gives
full blocks when C is a multiple of bi, but the matrix rows are then taps, not output channels, so per-channel
quantization and BN folding would scale the columns of a block differently and break unification after
folding. The tap layout keeps one output channel per row, which is what the IR's per-row magnitudes assume.

**Edge policy.** Blocks that do not fill a whole `bo x bi` tile at the right or bottom edge of a matrix always
stay dense (the IR refuses anything else). The recipe's `blocks.edge` decides what happens to a layer whose
matrix is not a multiple of the block shape: `"dense"` (the default) compresses its full blocks and keeps the
edge blocks dense; `"skip"` leaves the whole layer dense; `"error"` refuses the recipe naming the layer.
Ratios count the full blocks of a layer only.

## Projections and block selection

For a block with weights w (n = bo * bi):

* pruned: w -> 0, squared distance `||w||^2`;
* unified: w_i -> sign(w_i) * s with s = mean|w| (the Euclidean projection: for fixed signs the best shared
  magnitude is the mean of the magnitudes), squared distance `n * Var(|w|)`. A zero weight takes the + sign,
  as the IR encodes it.

Per layer, with target ratios p (pruned) and u (unified) of its full blocks: prune the round(p N) blocks with
the lowest L2 norm, then unify, among the rest, the round(u N) blocks with the lowest unification cost. With
`ratios.scope = "global"`, layers that share the block shape and the default ratios are ranked together
instead, so small layers can give up more blocks than large ones. Ratios are global with per-layer
overrides (`[ratios.layers."<module name>"]`, which may also set `shape`), and the first/last weighted layer
can be excluded (`exclude_first` defaults to true: the first conv of an image model has few weights and
a single input channel).

The mean is taken by pairwise summation, so a block of equal magnitudes averages to exactly that magnitude and
projecting twice changes no bit (`enforce_structure_`, used by QAT after every optimizer step, relies on it).

## ADMM

minimise loss(W) subject to W_l in S_l (S_l: the layer's set at its ratios), in scaled form:

* W-step: `epochs` epochs of SGD with momentum on `loss + sum_l rho/2 ||W_l - Z_l + U_l||^2`;
* Z-step: `Z_l = Proj_S(W_l + U_l)`, selecting the blocks afresh;
* U-step: `U_l += W_l - Z_l`;
* rho *= `rho_factor` per iteration up to `rho_max`; the scaled dual U is divided by the same factor so the
  unscaled dual rho * U is unchanged (without this the dual jumps with rho and the residual can grow).
* `freeze_after = k` (default 0: never) keeps the block selection of the k-th Z-step: later Z-steps project
  onto it and it is the final selection.

The primal residual `||W_l - Z_l|| / ||W_l||` is logged per layer per iteration (`history["admm"]`, and the
JSON report's `admm`). Use SGD with momentum: Adam normalises the penalty gradient and stalls; rho0 in 0.1..10
works, 1e-3..1e-2 diverged in a probe. After the last iteration the weights are projected hard onto a final
selection, and BatchNorm statistics are re-estimated on the training data (exact averages): without that, a
probe read 12% instead of 80%. Then the model is retrained with the structure fixed
(`torch.nn.utils.parametrize`): a unified block is one learnable magnitude times its fixed sign pattern, pruned
blocks are exactly zero, dense weights train freely. After retraining the structure holds bit for bit.

**Scaling out.** The same code runs under `torchrun` with DistributedDataParallel on any backend: each rank
trains on its shard (`toolchain.datasets.loaders(..., rank, world_size)`), gradients (loss and penalty) are
all-reduced by DDP, and Z and U are computed from the synchronised weights, so they are identical on every rank
without communication. BatchNorm buffers are broadcast from rank 0 after each training phase.
`tests/compress/test_compress_ddp.py` runs 2 CPU processes on gloo and checks that W, Z, U, the block kinds and
the residuals agree exactly across ranks while the ranks see different data.

## BatchNorm folding and int8

The exporter folds each BatchNorm into the conv before it: `w'_o = a_o * w_o` per output row o. Scaling a row
keeps a unified block row unified (magnitude |a_o| s, all signs flipped when a_o < 0) and a pruned block zero.
A block with bo > 1 spans rows with different factors, so after folding each row of a unified block has its own
magnitude; the IR stores magnitudes per block row for exactly this reason (and per-channel int8 quantization
needs it anyway). Symmetric per-channel rounding is odd, so unified rows stay one int8 magnitude with their
signs; a unified row whose magnitude rounds to 0 is exported as pruned.

## Recipes

TOML, validated on load (unknown keys, ratios outside [0, 1], unify + prune > 1, unsupported block shapes,
shapes that do not divide a layer under `edge = "error"`, entry points that cannot be imported, unsupported
layers, loaders with the wrong shape: each a one-line error naming the key and the fix, exit code 2, no output
file). See `examples/*.toml` and `toolchain/compress/recipe.py` for every field. `model` and `data` are
built-in names (`mnist_cnn`, `ds_cnn`, `mlp`; `mnist`, `digits`, `fsdd`: spoken digits as MFCC maps,
[docs/bench/DSCNN.md](bench/DSCNN.md)) or `module:function` (searched beside the
recipe first); a data function may take `batch_size` and `seed` and returns `(train_loader, test_loader)` of
float images `[N, C, H, W]` and int labels. A model that flattens a `C x H x W` map with H*W > 1 into a
Linear must use `toolchain.models.FlattenNHWC` so the Linear's columns are in deployment order.
`munify compress` trains the dense model first (cached under `munify-out/cache/`, keyed by model, data, seed
and schedule) and reports dense float, dense int8 and compressed int8 accuracy, exact stored bytes
(`BlockStructure.stored_bytes` of the exported int8 weights), MACs and remaining multiplies per layer.
Results are bit-identical for the same recipe, seed and `--threads` (default 1).

## Budgets

A recipe may ask for a budget instead of ratios ([examples/mnist_cnn_budget.toml](../examples/mnist_cnn_budget.toml)):

```toml
board = "mps2-an386"     # the board the instructions are predicted for (boards/*.toml)
[budget]
instructions = 0.5       # at most this fraction of the dense int8 model's predicted instructions on the board
weights_bytes = 0.3      # at most this fraction of its stored weight bytes (either budget, or both)
optimize = "balanced"    # the planner mode the instructions are predicted with (build and run with the same)
```

`toolchain/compress/budget.py` picks the per-layer prune and unify ratios after the dense model is trained and
quantized to int8. For every layer the recipe may compress (the layers `[ratios]` would compress: exclusions,
per-layer block shapes and the edge policy apply) and every candidate pair on a grid (prune 0, 0.05, ..., 0.95;
unify 0, 0.2, ..., 1 - prune; 65 pairs), it selects the blocks with the selection of ADMM's Z-step on the
dequantized, BatchNorm-folded weights and records three numbers:

- **instructions**: `LayerPlan.cost` of `make_plan` on the graph with those blocks, i.e. the kernel the code
  generator will pick on the board and the cost the planner ranked it by (no cost numbers are copied);
- **weight bytes**: `BlockStructure.stored_bytes`, the figure the compress report counts;
- **loss proxy**: the projection's relative error `||W - P(W)||^2 / ||W||^2` (0 dense, 1 all pruned), so a
  small and a large layer weigh the same.

The allocation takes one candidate per layer with the least total loss proxy whose predicted totals (the
layers the budget may not compress counted dense) meet every budget: a Lagrangian relaxation (each layer picks
least loss + price x resource on its own; the price is bisected until the budgets hold; with two budgets, the
best of 11 mixes of the two prices), then the budget left over is spent greedily on the one-layer change that
lowers the loss most. Pruning lowers instructions and bytes, unification mostly bytes, so an instruction budget
buys pruning in the layers that hold the time and a bytes budget buys unification in the layers that hold the
bytes. It is deterministic (ties go to the candidate listed first). The grid costs one `make_plan` per pair:
8 s for the MNIST CNN (measured on a shared 2-core machine).

The chosen ratios become per-layer overrides of an ordinary recipe (`Allocation.resolved_recipe`) and ADMM
runs as usual: the allocation fixes how many blocks of each layer are pruned or unified, ADMM which ones. The
compress table prints the budget, the chosen ratios and the prediction; the JSON report carries them under
`budget` (`targets`, `dense`, `predicted`, per-layer `prune`/`unify`/`instructions`/`weights_bytes`/
`loss_proxy`, and `compressed`: the plan's prediction for the exported model). `toolchain.compress(...)`
resolves a budget the same way, calibrating on the first `quantize.calib_batches` training batches.

Rules, each a one-line recipe error: budgets are numbers in (0, 1]; `[budget]` needs `instructions` or
`weights_bytes`; `instructions` needs `board`, a built-in board name; with a `[budget]`, `ratios.unify`,
`ratios.prune`, `ratios.scope` and per-layer `unify`/`prune` are refused (the budget decides them), while
`ratios.exclude_first`, `ratios.exclude_last` and `ratios.layers."<name>".shape` still say which layers may be
compressed and how; a budget that cannot be met even at 95% pruning everywhere names the reachable fraction
and the part in layers it may not compress; a budget with no layer to compress is refused before training.

**Predicted vs measured.** `munify run` prints the plan's predicted instructions beside the measured (and
exact) ones per layer, with the deviation, and a line with the totals; `--json` has `layers[].predicted` and
`prediction` (totals, deviation, layers within 5%, the furthest layer). On the budget example,
`benchmarks/budget_mnist.py --baseline` (results: [docs/budget_mnist.md](budget_mnist.md)) measured, on
mps2-an386 with exact QEMU instruction counts: ratios prune 0.85 / 0.7 / 0 and unify 0 / 0.2 / 0 for layers
4 / 8 / 13, 1,198,009 instructions = 1.046 of the 1,144,962 budget and 0.507 of the measured dense model
(2,361,105), compressed int8 accuracy 97.2% (dense 97.2%). The compressed layers agree with their prediction
within 5% but for layer 4 (`conv_blocks_bits_dsp` at 85% pruned 1x8 blocks, 12.2% below); the layers a budget
cannot touch are predicted low: the first conv (`conv_dense_dsp` with one input channel) by 14.9%,
`maxpool_generic` by 35-37% and the FC 432->10 (`fc_dense_dsp`) by 21.4%, about 89k instructions (7.8% of the
budget) in all. `--baseline` compresses the same layers with one prune ratio (0.85, the smallest on the grid
that meets the budget by prediction): 1,112,834 instructions (0.471 of dense) at 96.0% int8 accuracy, 1.2 pt
below the allocation (one seed, 1,000 test images). With both budgets,
[examples/mnist_cnn_budget_flash.toml](../examples/mnist_cnn_budget_flash.toml) (`instructions = 0.5`,
`weights_bytes = 0.3`; `benchmarks/budget_mnist.py --recipe examples/mnist_cnn_budget_flash.toml`) gets prune
0.75 / 0.75 / 0.05 and unify 0.2 / 0.2 / 0: 6,801 weight bytes (0.297 of dense) and int8 accuracy 97.1%, but
1,236,229 instructions, 1.080 of the budget (0.524 of dense): its compressed layers are within 5% of their
prediction (-1.7%, +4.9%), the same 89k under-predicted instructions in the layers it cannot touch miss it.

## Study: the MNIST CNN

`mnist_cnn` (conv-BN-ReLU-maxpool x3, 16/32/48 channels, FC 432->10; 22,896 weights, {dense_bytes:,} bytes
int8) on the built-in MNIST subset (4,000 train / 1,000 test images). Dense training: {train_epochs} epochs
SGD. ADMM: {iterations} iterations x {admm_epochs} epoch, rho0 {rho0}, x{rho_factor} per iteration up to
{rho_max}, lr {lr}, momentum 0.9; then {retrain} retraining epochs at lr {retrain_lr} ({total} epochs after
dense training in all). The first conv stays dense; half of each budget is pruned, half unified. int8 is
post-training quantization calibrated on {calib} training images. Accuracy is the integer reference executor
on the exported IR over the 1,000 test images, mean ± standard deviation over {seeds} seeds (the seed sets the
initialisation and the data order). Stored bytes are `BlockStructure.stored_bytes` of the int8 weights (dense
weights one byte each, a unified block row one magnitude byte plus its sign bits, a 2-bit kind per block).

Dense float: **{dense_float}%**, dense int8: **{dense_int8}%**.

| blocks | unified-or-pruned | int8 accuracy % | vs dense int8 (pt) | stored weights vs dense int8 | accuracy right after projection % |
|---|---|---|---|---|---|
{rows}

### Ablation at 1x8, equal total epochs

ADMM ({iterations} x {admm_epochs} epochs + {retrain} retraining) against one-shot projection of the dense model
followed by {total} retraining epochs, and against unstructured magnitude pruning (one-shot, {total}
retraining epochs) with as many stored bytes as ADMM's model, counting a bitmap format for it (one presence bit
per weight + one int8 byte per kept weight; the first conv dense in both).

| unified-or-pruned | method | int8 accuracy % | stored weights vs dense int8 | accuracy right after projection % |
|---|---|---|---|---|
{ablation}

At {top}, right after the hard projection (BatchNorm re-estimated), ADMM's model reads {admm_projected:.1f}%
against {oneshot_projected:.1f}% for one-shot projection of the dense model: ADMM has already moved the
weights onto the structure before it is imposed (but after {iterations} x {admm_epochs}
epochs of ADMM, against none: why the lead vanishes
at equal epochs is in [docs/bench/ADMM.md](bench/ADMM.md)). After retraining with equal total epochs, ADMM minus
one-shot is {admm_vs_oneshot:+.1f} pt (compare with the spreads in the table). At equal stored bytes, 1x8
unification/pruning minus unstructured magnitude pruning is {admm_vs_unstructured:+.1f} pt; unlike scattered
zeros, the blocks are what the kernels skip or share multiplies over (`munify inspect` shows the multiplies left
per layer).

The cases took {worker_minutes:.0f} worker-minutes ({jobs} worker processes of one torch thread each, on a
machine shared with other jobs); every case is cached under `munify-out/study/`.
"""

if __name__ == "__main__":
    main()
