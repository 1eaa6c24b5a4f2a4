"""Run under `torchrun --nproc_per_node 2`: tiny ADMM + compression with DDP on gloo; each rank saves its state."""

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from toolchain import datasets, models
from toolchain.compress.admm import Admm
from toolchain.compress.api import compress
from toolchain.compress.layers import plan_layers
from toolchain.compress.recipe import parse_recipe
from toolchain.compress.train import sgd, train_epochs

RECIPE = {"max_batches": 10, "blocks": {"shape": [1, 4]}, "ratios": {"prune": 0.5, "unify": 0.25},
          "admm": {"iterations": 3, "rho0": 0.3, "rho_factor": 2.0, "lr": 0.05}, "retrain": {"epochs": 1}}


def main(out_dir: Path) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    train, test = datasets.loaders("digits", batch_size=32, seed=0, rank=rank, world_size=world)
    first_labels = next(iter(train))[1]
    model = models.mnist_cnn((1, 8, 8), 10, seed=0)
    train_epochs(model, train, sgd(model.parameters(), 0.05, 0.9), 1, max_batches=4)
    recipe = parse_recipe(RECIPE)
    admm = Admm(model, plan_layers(model, recipe), recipe.admm)
    history = admm.run(train, max_batches=recipe.max_batches)
    result = compress(model, train, test, recipe.replace(admm=recipe.admm.__class__(iterations=1)))
    torch.save({"labels": first_labels, "targets": admm.target, "duals": admm.dual,
                "residuals": [it.residual for it in history],
                "kinds": {n: torch.from_numpy(s.kinds) for n, s in result.structures.items()},
                "state": result.model.state_dict()}, out_dir / f"rank{rank}.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
