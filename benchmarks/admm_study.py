"""ADMM vs epoch-matched one-shot on the MNIST CNN at the 90% budget; writes docs/bench/ADMM.md.

    .venv/bin/python benchmarks/admm_study.py [--seeds 3] [--jobs 2] [--out munify-out/admm-study]

The recipe is examples/mnist_cnn_1x8.toml at 90% of the blocks unified-or-pruned (45% pruned, 45% unified,
the first conv dense), as in docs/COMPRESSION.md's ablation. Every arm starts from the same dense model of its
seed with the same batch order and spends the same number of epochs after dense training (12, or 4 for the
short arm). The float test accuracy is logged after every ADMM iteration (the model projected onto the
current selection, BatchNorm re-estimated, on a copy) and after every retraining epoch; the final figure is
int8 (post-training quantization, integer reference executor, 1,000 test images). Each arm of each seed is
cached as JSON under --out, so a rerun resumes.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUDGET = 0.9
TOTAL_EPOCHS = 12


@dataclass(frozen=True)
class Arm:
    label: str
    iterations: int  # ADMM iterations of one epoch each (0: one-shot projection of the dense model)
    retrain: int  # retraining epochs with the structure fixed
    rho0: float = 0.3
    lr: float = 0.01  # of the ADMM W-step (retraining: the recipe's 0.02)
    probe: bool = False  # log the projected accuracy after every ADMM iteration (a BatchNorm pass + a test pass)


ARMS = {
    "oneshot": Arm("one-shot + 12 retraining", 0, 12),
    "admm": Arm("ADMM 8 + 4 retraining (the study's schedule)", 8, 4, probe=True),
    "admm_short": Arm("ADMM 3 + 1 retraining (4 epochs in all)", 3, 1),
    "admm_long": Arm("ADMM 11 + 1 retraining", 11, 1),
    "admm_rho_low": Arm("ADMM 8 with rho0 0.03 + 4 retraining", 8, 4, rho0=0.03),
    "admm_lr": Arm("ADMM 8 at lr 0.02 + 4 retraining", 8, 4, lr=0.02),
}


def study_recipe(seed: int):
    from toolchain.compress.recipe import RatiosConfig, load_recipe

    recipe = load_recipe(ROOT / "examples" / "mnist_cnn_1x8.toml")
    prune = round(BUDGET / 2, 4)
    return recipe.replace(seed=seed, source="admm-study", ratios=RatiosConfig(unify=BUDGET - prune, prune=prune))


def arm_recipe(arm: Arm, seed: int):
    from toolchain.compress.recipe import AdmmConfig, RetrainConfig

    recipe = study_recipe(seed)
    admm = AdmmConfig(**{**recipe.admm.__dict__, "iterations": arm.iterations, "rho0": arm.rho0,
                         "lr": arm.lr})
    return recipe.replace(admm=admm, retrain=RetrainConfig(arm.retrain, recipe.retrain.lr, recipe.retrain.momentum))


def projected_accuracy(model, structures, work) -> float:
    """Float accuracy of a copy of `model` projected onto `structures`, BatchNorm re-estimated."""
    from toolchain.compress.structure import enforce_structure_
    from toolchain.compress.train import evaluate, reestimate_batchnorm

    probe = copy.deepcopy(model)
    enforce_structure_(probe, structures)
    reestimate_batchnorm(probe, work.train)
    return evaluate(probe, work.test)


def kinds_of(structures) -> dict[str, list]:
    return {name: s.kinds.tolist() for name, s in structures.items()}


def agreement(a: dict[str, list], b: dict[str, list]) -> float:
    """Fraction of blocks whose kind is the same in two selections."""
    import numpy as np

    same = sum(int(np.sum(np.asarray(a[k]) == np.asarray(b[k]))) for k in a)
    return same / sum(np.asarray(a[k]).size for k in a)


def run_arm(name: str, seed: int, out_dir: Path) -> dict:
    import torch

    from toolchain.compress.admm import Admm, select_structures
    from toolchain.compress.layers import plan_layers
    from toolchain.compress.pipeline import load_workload, train_dense
    from toolchain.compress.retrain import attach, bake
    from toolchain.compress.structure import enforce_structure_
    from toolchain.compress.train import evaluate, reestimate_batchnorm, sgd, train_epochs
    from toolchain.quantize import quantize_model

    path = out_dir / f"{name}-s{seed}.json"
    if path.is_file():
        return json.loads(path.read_text())
    arm = ARMS[name]
    torch.set_num_threads(1)
    start = time.monotonic()
    recipe = arm_recipe(arm, seed)
    dense = train_dense(load_workload(recipe), recipe, out_dir / "cache", progress=False)
    work = load_workload(recipe)  # the same batch order for every arm
    model = copy.deepcopy(dense)
    plans = plan_layers(model, recipe)
    oneshot_kinds = kinds_of(select_structures(model, plans, recipe.ratios.scope))

    admm = Admm(model, plans, recipe.admm, recipe.ratios.scope)
    admm_curve: list[float] = []
    changed: list[float] = []  # blocks whose kind differs from the one-shot selection, after each iteration

    def log_iteration(_: int) -> None:
        changed.append(1.0 - agreement(kinds_of(admm.final_structures()), oneshot_kinds))
        if arm.probe:
            admm_curve.append(projected_accuracy(model, admm.final_structures(), work))

    admm.run(work.train, after_iteration=log_iteration)
    structures = admm.final_structures()
    enforce_structure_(model, structures)
    reestimate_batchnorm(model, work.train)
    retrain_curve = [evaluate(model, work.test)]
    attach(model, structures)
    optimizer = sgd(model.parameters(), recipe.retrain.lr, recipe.retrain.momentum)
    for epoch in range(arm.retrain):  # one epoch at a time: the same steps as retrain() with the curve logged
        train_epochs(model, work.train, optimizer, 1, epoch_offset=epoch)
        retrain_curve.append(evaluate(model, work.test))
    bake(model, structures)
    quantized = quantize_model(model.eval(), structures, work.calib)
    result = {"arm": name, "seed": seed, "int8": quantized.accuracy(work.test), "float": retrain_curve[-1],
              "projected": retrain_curve[0], "admm_curve": admm_curve, "retrain_curve": retrain_curve,
              "residual_last": admm.history[-1].residual if admm.history else {},
              "agreement_with_oneshot": agreement(kinds_of(structures), oneshot_kinds), "changed": changed,
              "seconds": round(time.monotonic() - start, 1)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    return result


def dense_accuracy(seed: int, out_dir: Path) -> dict:
    """Float and int8 test accuracy of a seed's dense model (the one every arm starts from)."""
    import torch

    from toolchain.compress.pipeline import load_workload, train_dense
    from toolchain.compress.train import evaluate
    from toolchain.quantize import quantize_model

    path = out_dir / f"dense-s{seed}.json"
    if path.is_file():
        return json.loads(path.read_text())
    torch.set_num_threads(1)
    recipe = study_recipe(seed)
    dense = train_dense(load_workload(recipe), recipe, out_dir / "cache", progress=False)
    work = load_workload(recipe)
    result = {"float": evaluate(dense, work.test), "int8": quantize_model(dense, {}, work.calib).accuracy(work.test)}
    path.write_text(json.dumps(result))
    return result


def _run(args) -> dict:
    name, seed, out_dir = args
    return run_arm(name, seed, Path(out_dir))


def mean_std(values: list[float], scale: float = 100.0) -> str:
    pct = [scale * v for v in values]
    return f"{statistics.mean(pct):.1f} ± {statistics.pstdev(pct):.1f}"


def paired(results: dict, name: str, seeds: list[int], field: str = "int8") -> list[float]:
    """Per seed: the arm's figure minus one-shot's (same dense model, same batches)."""
    return [results[(name, s)][field] - results[("oneshot", s)][field] for s in seeds]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "munify-out" / "admm-study")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "bench" / "ADMM.md")
    parser.add_argument("--arms", nargs="*", default=list(ARMS), choices=list(ARMS))
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    # seed by seed, so a worker that trains a seed's dense model caches it before the other needs it
    tasks = [(name, seed, str(args.out)) for seed in seeds for name in args.arms]
    if args.jobs == 1:
        done = [_run(t) for t in tasks]
    else:
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            done = pool.map(_run, tasks, chunksize=1)
    results = {(r["arm"], r["seed"]): r for r in done}
    dense = [dense_accuracy(seed, args.out) for seed in seeds]
    from toolchain.fsutil import atomic_write_text

    atomic_write_text(args.doc, render(results, dense, seeds, args.arms, args.out))
    print(f"wrote {args.doc}")


def render(results: dict, dense: list[dict], seeds: list[int], arms: list[str], out: Path) -> str:
    rows = []
    for name in arms:
        rs = [results[(name, s)] for s in seeds]
        arm = ARMS[name]
        versus = "-" if name == "oneshot" else f"{mean_std(paired(results, name, seeds))}"
        rows.append(f"| {arm.label} | {arm.iterations + arm.retrain} | {mean_std([r['int8'] for r in rs])} | "
                    f"{versus} | {mean_std([r['float'] for r in rs])} | {mean_std([r['projected'] for r in rs])} | "
                    f"{mean_std([r['agreement_with_oneshot'] for r in rs])} | "
                    f"{' / '.join(f'{100 * v:.1f}' for v in (r['int8'] for r in rs))} |")
    oneshot = [results[("oneshot", s)]["retrain_curve"] for s in seeds]
    admm = [results[("admm", s)]["admm_curve"] for s in seeds]
    matched, oneshot_ahead = [], 0
    for k in range(1, len(admm[0]) + 1):
        diff = [a[k - 1] - o[k] for a, o in zip(admm, oneshot)]
        oneshot_ahead += statistics.mean(diff) < 0
        matched.append(f"| {k} | {mean_std([o[k] for o in oneshot])} | {mean_std([a[k - 1] for a in admm])} | "
                       f"{mean_std(diff)} |")
    short = ARMS["admm_short"].iterations + ARMS["admm_short"].retrain
    default_rho = [results[(n, s)] for n in arms for s in seeds if ARMS[n].rho0 == 0.3 and ARMS[n].iterations]
    logged = [c for r in default_rho for c in r.get("changed", [])]
    diffs = [100 * statistics.mean(paired(results, n, seeds)) for n in arms if n != "oneshot"]
    best = max((n for n in arms if n != "oneshot"), key=lambda n: statistics.mean(paired(results, n, seeds)))
    seconds = sum(r["seconds"] for r in results.values())
    return TEMPLATE.format(
        out=out.resolve().relative_to(ROOT) if out.resolve().is_relative_to(ROOT) else out,
        dense_float=mean_std([d["float"] for d in dense]), dense_int8=mean_std([d["int8"] for d in dense]),
        rows="\n".join(rows), matched="\n".join(matched), seeds=len(seeds), seed_list=", ".join(map(str, seeds)),
        minutes=seconds / 60, trainings=len(results),
        oneshot_at_short=mean_std([o[short] for o in oneshot]), short=short,
        short_iterations=ARMS["admm_short"].iterations, oneshot_ahead=oneshot_ahead, iterations=len(admm[0]),
        default_agreement=min(r["agreement_with_oneshot"] for r in default_rho), default_changed=max(logged),
        changed_text=(f"no block changed kind in any of the {len(logged)} iterations where it was logged"
                      if max(logged) == 0 else f"at most {max(logged):.1%} of the blocks changed kind in one of "
                      f"the {len(logged)} iterations where it was logged"),
        behind=f"{-max(diffs):.1f} to {-min(diffs):.1f}" if max(diffs) < 0 else "",
        runs=len(results), n_arms=len(arms), rho_low_vs=mean_std(paired(results, "admm_rho_low", seeds)),
        best_label=ARMS[best].label, best_vs=mean_std(paired(results, best, seeds)),
        oneshot_epochs=", ".join(f"{k}: {statistics.mean(100 * o[k] for o in oneshot):.1f}%" for k in range(4)),
        admm_short_float=mean_std([results[("admm_short", s)]["float"] for s in seeds]),
        rho_low_changed=max(max(results[("admm_rho_low", s)]["changed"]) for s in seeds),
        rho_low_final=1 - statistics.mean(results[("admm_rho_low", s)]["agreement_with_oneshot"] for s in seeds))


TEMPLATE = """\
# ADMM vs epoch-matched one-shot at the 90% budget (MNIST CNN, 1x8 blocks)

*Generated by `benchmarks/admm_study.py`; edit the prose there, not here.*

```
.venv/bin/python benchmarks/admm_study.py --seeds {seeds} --jobs 2 --out {out}
```

Recipe: [examples/mnist_cnn_1x8.toml](../../examples/mnist_cnn_1x8.toml) with 45% of the blocks of each
compressed layer pruned and 45% unified (the first conv dense), dense model trained 8 epochs, ADMM iterations of
one epoch (rho0 0.3, x1.5 per iteration up to 10, lr 0.01 unless the arm says otherwise), retraining at lr 0.02,
all SGD with momentum 0.9, batch 64, 4,000 MNIST training images. Seeds {seed_list} (the seed sets the
initialisation and the batch order; within a seed every arm starts from the same dense model and sees the same
batches, so "vs one-shot" is a paired difference per seed). Accuracy on the 1,000 test images, mean ± standard
deviation over the seeds (1 test image = 0.1 pt); int8 is post-training quantization run by the integer
reference executor. "agreement" is the fraction of blocks whose kind (dense, unified, pruned) after the last
ADMM iteration equals the one-shot selection of the dense weights. The dense models: float {dense_float}%,
int8 {dense_int8}%.

| arm | epochs after dense | int8 % | vs one-shot (pt) | float % | right after projection % | agreement with one-shot mask % | int8 per seed |
|---|---|---|---|---|---|---|---|
{rows}

## Why ADMM's lead right after projection vanishes

**The lead compares 8 epochs with none.** docs/COMPRESSION.md's "right after projection" figure for ADMM is
taken after 8 ADMM epochs, for one-shot after 0. At equal epochs, one-shot projection followed by k retraining
epochs is ahead of ADMM's model projected after k iterations for {oneshot_ahead} of the {iterations} values of k
(float accuracy, BatchNorm re-estimated after the projection in both; mean over the seeds):

| epochs after dense (k) | one-shot + k retraining % | ADMM, k iterations, then projected % | ADMM minus one-shot (pt) |
|---|---|---|---|
{matched}

**ADMM picks the same mask.** At rho0 0.3 the Z-step's selection is the one-shot selection of the dense weights:
at the end of every ADMM arm at rho0 0.3, in every seed, {default_agreement:.0%} of the blocks have the same kind,
and {changed_text} (the penalty pulls each weight towards its block's projection from the first iteration on, so the blocks that
are cheapest to prune or unify stay the cheapest). So both methods end in the same constraint set; ADMM gets
there by a penalty, while one-shot retraining optimises the loss inside it directly (unified magnitudes
learnable, pruned blocks zero), and the second is the faster route per epoch. A tenfold weaker penalty
(rho0 0.03) lets the selection move, at most {rho_low_changed:.1%} of the blocks in one iteration and
{rho_low_final:.1%} at the end; its int8 accuracy is {rho_low_vs} pt against one-shot.

**Retraining recovers one-shot at this model size.** One-shot's float accuracy after 0, 1, 2, 3 retraining
epochs ({oneshot_epochs}): the projection's loss is back within a few epochs, after which
both methods sit on the same plateau, where the differences between arms are a few test images.

## Trying to make ADMM better at 90%

- *Fewer epochs* ({short} in all: ADMM {short_iterations} + 1 retraining): float {admm_short_float}% against
  {oneshot_at_short}% for one-shot after {short} retraining epochs: a short budget does not favour ADMM either.
- *Longer ADMM* (11 iterations, rho up to 10, + 1 retraining), *a weaker penalty* (rho0 0.03) and *the W-step
  at the retraining learning rate* (0.02): see the table. The best of all the ADMM arms against one-shot is
  "{best_label}": {best_vs} pt int8 (paired per seed, mean ± std).
- *Mask freezing* (`admm.freeze_after`, toolchain/compress/admm.py) is implemented but not measured as an arm:
  with the selection already fixed from the first iteration at rho0 0.3, freezing it changes nothing.

Result: on this model and data ADMM is not better than one-shot + retraining at equal epochs; every ADMM arm
is behind it on average, by {behind} pt int8, some by more than their spread over the seeds. ADMM's selection would have to differ from the magnitude selection, i.e. a
model and budget where the dense weights rank the blocks badly, for its penalty phase to pay.

The {runs} runs ({n_arms} arms x {seeds} seeds; each seed's dense training counted in its first run) took {minutes:.0f} worker-minutes (2 worker processes of one torch thread each, on a
machine shared with other jobs); every arm is cached under `--out`.
"""

if __name__ == "__main__":
    main()
