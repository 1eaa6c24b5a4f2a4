"""ADMM vs epoch-matched one-shot on the MNIST CNN at the 90% budget; writes docs/bench/ADMM.md.

    .venv/bin/python benchmarks/admm_study.py [--seeds 3] [--jobs 2] [--out /tmp/dscnn/admm]

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
    probe: bool = False  # log the projected accuracy after every ADMM iteration (a BatchNorm pass + a test pass)


ARMS = {
    "oneshot": Arm("one-shot + 12 retraining", 0, 12),
    "admm": Arm("ADMM 8 + 4 retraining (the study's schedule)", 8, 4, probe=True),
    "admm_short": Arm("ADMM 3 + 1 retraining (4 epochs in all)", 3, 1),
    "admm_long": Arm("ADMM 11 + 1 retraining", 11, 1),
    "admm_rho_low": Arm("ADMM 8 with rho0 0.03 + 4 retraining", 8, 4, rho0=0.03),
}


def study_recipe(seed: int):
    from toolchain.compress.recipe import RatiosConfig, load_recipe

    recipe = load_recipe(ROOT / "examples" / "mnist_cnn_1x8.toml")
    prune = round(BUDGET / 2, 4)
    return recipe.replace(seed=seed, source="admm-study", ratios=RatiosConfig(unify=BUDGET - prune, prune=prune))


def arm_recipe(arm: Arm, seed: int):
    from toolchain.compress.recipe import AdmmConfig, RetrainConfig

    recipe = study_recipe(seed)
    admm = AdmmConfig(**{**recipe.admm.__dict__, "iterations": arm.iterations, "rho0": arm.rho0})
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


def _run(args) -> dict:
    name, seed, out_dir = args
    return run_arm(name, seed, Path(out_dir))


def mean_std(values: list[float], scale: float = 100.0) -> str:
    pct = [scale * v for v in values]
    return f"{statistics.mean(pct):.1f} ± {statistics.pstdev(pct):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/dscnn/admm"))
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
    from toolchain.fsutil import atomic_write_text

    atomic_write_text(args.doc, render(results, seeds, args.arms))
    print(f"wrote {args.doc}")


def render(results: dict, seeds: list[int], arms: list[str]) -> str:
    rows = []
    for name in arms:
        rs = [results[(name, s)] for s in seeds]
        arm = ARMS[name]
        rows.append(f"| {arm.label} | {arm.iterations + arm.retrain} | {mean_std([r['int8'] for r in rs])} | "
                    f"{mean_std([r['float'] for r in rs])} | {mean_std([r['projected'] for r in rs])} | "
                    f"{mean_std([r['agreement_with_oneshot'] for r in rs])} | "
                    f"{' / '.join(f'{100 * v:.1f}' for v in (r['int8'] for r in rs))} |")
    curves = []
    for name in ("oneshot", "admm", "admm_long"):
        if name not in arms:
            continue
        rs = [results[(name, s)] for s in seeds]
        for phase in ("admm_curve", "retrain_curve"):
            length = len(rs[0][phase])
            if not length:
                continue
            means = [statistics.mean(100 * r[phase][i] for r in rs) for i in range(length)]
            curves.append(f"| {ARMS[name].label} | {phase.split('_')[0]} | "
                          + " ".join(f"{m:.1f}" for m in means) + " |")
    seconds = sum(r["seconds"] for r in results.values())
    return TEMPLATE.format(rows="\n".join(rows), curves="\n".join(curves), seeds=len(seeds),
                           seed_list=", ".join(map(str, seeds)), minutes=seconds / 60)


TEMPLATE = """\
# ADMM vs epoch-matched one-shot at the 90% budget (MNIST CNN, 1x8 blocks)

*Generated by `benchmarks/admm_study.py`; edit the prose there, not here.*

```
.venv/bin/python benchmarks/admm_study.py --seeds {seeds} --jobs 2 --out /tmp/dscnn/admm
```

Recipe: [examples/mnist_cnn_1x8.toml](../../examples/mnist_cnn_1x8.toml) with 45% of the blocks of each
compressed layer pruned and 45% unified (the first conv dense), dense model trained 8 epochs, ADMM iterations of
one epoch (rho0 0.3, x1.5 per iteration up to 10, lr 0.01), retraining at lr 0.02, all SGD with momentum 0.9,
batch 64, 4,000 MNIST training images. Seeds {seed_list} (the seed sets the initialisation and the batch order;
within a seed every arm starts from the same dense model and sees the same batches). Accuracy on the 1,000 test
images, mean ± standard deviation over the seeds; int8 is post-training quantization run by the integer
reference executor. "agreement" is the fraction of blocks whose kind (dense, unified, pruned) equals the
one-shot selection of the dense weights.

| arm | epochs after dense | int8 % | float % | right after projection % | agreement with one-shot mask % | int8 per seed |
|---|---|---|---|---|---|---|
{rows}

Float test accuracy after each ADMM iteration (the model projected onto the selection it would get now,
BatchNorm re-estimated) and after each retraining epoch (the first number: right after the hard projection),
mean over the seeds:

| arm | phase | accuracy % per iteration / epoch |
|---|---|---|
{curves}

The arms took {minutes:.0f} worker-minutes (2 worker processes of one torch thread each, on a machine shared
with other jobs); every arm is cached under `--out`.
"""

if __name__ == "__main__":
    main()
