"""ADMM for  min loss(W)  s.t.  W_l in S_l  (S_l: the layer's blocks at its unify/prune ratios).

  W-step: SGD+momentum epochs on loss + sum_l rho/2 ||W_l - Z_l + U_l||^2
  Z-step: Z_l = Proj_S(W_l + U_l), selecting the blocks afresh
  U-step: U_l += W_l - Z_l
rho grows by `rho_factor` per iteration up to `rho_max` (the scaled dual U is rescaled with it). With
`freeze_after` = k > 0 the block selection of the k-th Z-step is kept: later Z-steps only project onto it, and
it is the final selection. The primal residual ||W_l - Z_l|| / ||W_l|| is logged per layer per iteration. Z and
U are computed from the (DDP-synchronised) weights, so they are identical on every rank without communication.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from .layers import LayerPlan
from .project import project_fixed, select_kinds, select_kinds_pooled
from .recipe import AdmmConfig
from .structure import LayerStructure, get_layer, torch_weight_matrix
from .train import sgd, train_epochs


@dataclass
class AdmmIteration:
    iteration: int
    rho: float
    loss: float
    residual: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"iteration": self.iteration, "rho": self.rho, "loss": self.loss, "residual": self.residual}


def select_structures(model: nn.Module, plans: list[LayerPlan], scope: str = "layer",
                      offsets: dict[str, torch.Tensor] | None = None) -> dict[str, LayerStructure]:
    """Choose block kinds for every planned layer from its weights (+ offsets, e.g. the ADMM dual U).

    With scope "global" the ratios hold over all layers of the same block shape and default ratios pooled
    together; layers with their own ratios are always selected alone.
    """
    matrices = {}
    for plan in plans:
        matrix = torch_weight_matrix(get_layer(model, plan.name)).detach()
        matrices[plan.name] = matrix + offsets[plan.name] if offsets else matrix
    kinds: dict[str, np.ndarray] = {}
    if scope == "global":
        groups: dict[tuple, list[LayerPlan]] = {}
        for plan in plans:
            groups.setdefault((plan.bo, plan.bi, plan.unify, plan.prune), []).append(plan)
        for (bo, bi, unify, prune), members in groups.items():
            pooled = select_kinds_pooled([matrices[p.name] for p in members], bo, bi, prune, unify)
            kinds.update({p.name: k for p, k in zip(members, pooled)})
    else:
        for plan in plans:
            kinds[plan.name] = select_kinds(matrices[plan.name], plan.bo, plan.bi, plan.prune, plan.unify)
    return {p.name: LayerStructure(p.name, p.op_type, p.bo, p.bi, kinds[p.name]) for p in plans}


class Admm:
    def __init__(self, model: nn.Module, plans: list[LayerPlan], config: AdmmConfig, scope: str = "layer"):
        self.model, self.plans, self.config, self.scope = model, plans, config, scope
        self.layers = {p.name: get_layer(model, p.name) for p in plans}
        self.rho = config.rho0
        self.dual = {p.name: torch.zeros_like(self._weight(p.name)) for p in plans}
        self.frozen: dict[str, LayerStructure] | None = None
        self.selection: dict[str, LayerStructure] = {}  # the block kinds of the last Z-step
        self.target = self._project()
        self.history: list[AdmmIteration] = []

    def _weight(self, name: str) -> torch.Tensor:
        return torch_weight_matrix(self.layers[name])

    def _project(self) -> dict[str, torch.Tensor]:
        structures = self.frozen or select_structures(self.model, self.plans, self.scope, self.dual)
        self.selection = structures
        return {name: project_fixed(self._weight(name).detach() + self.dual[name], s.kinds, s.bo, s.bi)
                for name, s in structures.items()}

    def penalty(self) -> torch.Tensor:
        total = torch.zeros(())
        for name in self.layers:
            total = total + (self._weight(name) - self.target[name] + self.dual[name]).pow(2).sum()
        return 0.5 * self.rho * total

    @torch.no_grad()
    def residuals(self) -> dict[str, float]:
        out = {}
        for name in self.layers:
            w = self._weight(name)
            out[name] = float((w - self.target[name]).norm() / w.norm().clamp_min(1e-12))
        return out

    @torch.no_grad()
    def _grow_rho(self) -> None:
        """rho *= factor (capped); the scaled dual U = y / rho shrinks by the same factor so y is kept."""
        new_rho = min(self.rho * self.config.rho_factor, self.config.rho_max)
        for dual in self.dual.values():
            dual.mul_(self.rho / new_rho)
        self.rho = new_rho

    def final_structures(self) -> dict[str, LayerStructure]:
        """The selection to impose after the last iteration: the frozen one, else chosen afresh from W."""
        return self.frozen or select_structures(self.model, self.plans, self.scope)

    def run(self, loader: DataLoader, max_batches: int = 0, progress: bool = False,
            after_iteration: Callable[[int], None] | None = None) -> list[AdmmIteration]:
        optimizer = sgd(self.model.parameters(), self.config.lr, self.config.momentum)
        for iteration in range(self.config.iterations):
            loss = train_epochs(self.model, loader, optimizer, self.config.epochs, penalty=self.penalty,
                                max_batches=max_batches, desc=f"admm {iteration + 1}/{self.config.iterations}",
                                progress=progress, epoch_offset=iteration * self.config.epochs)
            with torch.no_grad():
                self.target = self._project()
                for name in self.layers:
                    self.dual[name] += self._weight(name) - self.target[name]
            if iteration + 1 == self.config.freeze_after:
                self.frozen = self.selection
            self.history.append(AdmmIteration(iteration, self.rho, loss, self.residuals()))
            self._grow_rho()
            if after_iteration is not None:
                after_iteration(iteration)
        return self.history
