import itertools

import numpy as np
import pytest
import torch
from torch import nn

from toolchain.compress.project import (block_costs, is_feasible, project_fixed, select_kinds,
                                        select_kinds_pooled, to_tiles)
from toolchain.compress.structure import (LayerStructure, enforce_structure_, op_type_of,
                                          set_torch_weight_from_matrix, torch_weight_matrix)
from toolchain.ir import BlockKind, weight_matrix
from toolchain.ir.blocks import full_block_mask

SHAPES = [(1, 2), (1, 4), (1, 8), (1, 16), (2, 4), (4, 4), (2, 8), (4, 16)]


def random_matrix(seed: int, rows: int = 12, cols: int = 37) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(rows, cols, generator=g)
    m[0, :3] = 0.0  # zeros must project to +s in unified blocks
    return m


@pytest.mark.parametrize("bo,bi", SHAPES)
def test_projection_is_idempotent_and_feasible(bo, bi):
    m = random_matrix(bo * 100 + bi)
    kinds = select_kinds(m, bo, bi, prune_ratio=0.3, unify_ratio=0.4)
    p = project_fixed(m, kinds, bo, bi)
    assert is_feasible(p, kinds, bo, bi)
    assert torch.equal(project_fixed(p, kinds, bo, bi), p)  # bit for bit
    assert np.array_equal(select_kinds(p, bo, bi, 0.3, 0.4) == BlockKind.PRUNED, kinds == BlockKind.PRUNED)
    per_weight = np.repeat(np.repeat(kinds, bo, 0), bi, 1)[: m.shape[0], : m.shape[1]]
    assert torch.all(p[torch.from_numpy(per_weight == BlockKind.PRUNED)] == 0)
    assert torch.equal(p[torch.from_numpy(per_weight == BlockKind.DENSE)], m[torch.from_numpy(per_weight == 0)])
    tiles, src = to_tiles(p, bo, bi), to_tiles(m, bo, bi)
    full = torch.from_numpy(kinds[: tiles.shape[0], : tiles.shape[1]].astype(np.int64))
    unified_tiles, unified_src = tiles[full == BlockKind.UNIFIED], src[full == BlockKind.UNIFIED]
    assert torch.all(unified_tiles.abs() == unified_tiles.abs()[:, :1])  # one magnitude per block
    assert torch.all((unified_tiles < 0) == (unified_src < 0))  # signs kept, zeros become +s
    assert torch.allclose(unified_tiles.abs()[:, 0], unified_src.abs().mean(1))


@pytest.mark.parametrize("bo,bi", [(1, 8), (2, 4), (4, 4)])
def test_edge_blocks_stay_dense(bo, bi):
    m = random_matrix(7, rows=10, cols=21)
    kinds = select_kinds(m, bo, bi, prune_ratio=0.5, unify_ratio=0.5)
    assert np.all(kinds[~full_block_mask(10, 21, bo, bi)] == BlockKind.DENSE)
    assert np.all(kinds[full_block_mask(10, 21, bo, bi)] != BlockKind.DENSE)


def test_unified_projection_is_optimal_against_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(20):
        w = rng.normal(size=4)
        p = project_fixed(torch.tensor(w[None, :]), np.array([[BlockKind.UNIFIED]]), 1, 4).numpy()[0]
        best = np.sum((p - w) ** 2)
        assert best == pytest.approx(4 * np.var(np.abs(w)))
        for signs in itertools.product((-1.0, 1.0), repeat=4):
            for s in np.linspace(0.0, 3.0, 601):
                assert np.sum((np.array(signs) * s - w) ** 2) >= best - 1e-12


def test_block_costs_are_the_projection_distances():
    m = random_matrix(5, rows=8, cols=16).double()
    prune, unify = block_costs(m, 2, 4)
    for kind, cost in ((BlockKind.PRUNED, prune), (BlockKind.UNIFIED, unify)):
        kinds = np.full((4, 4), kind, np.uint8)
        dist = (to_tiles(project_fixed(m, kinds, 2, 4) - m, 2, 4) ** 2).sum(-1)
        assert torch.allclose(dist, cost)


@pytest.mark.parametrize("prune,unify", [(0.0, 0.0), (0.5, 0.25), (0.25, 0.5), (0.9, 0.0), (0.0, 1.0), (0.3, 0.7)])
def test_selection_obeys_ratios_and_costs(prune, unify):
    m = random_matrix(11, rows=16, cols=64)
    kinds = select_kinds(m, 1, 8, prune, unify)
    n = kinds.size
    assert np.sum(kinds == BlockKind.PRUNED) == int(np.floor(prune * n + 0.5))
    assert np.sum(kinds == BlockKind.UNIFIED) == int(np.floor(unify * n + 0.5))
    prune_cost, unify_cost = (c.numpy() for c in block_costs(m, 1, 8))
    pruned, unified, dense = (kinds == k for k in (BlockKind.PRUNED, BlockKind.UNIFIED, BlockKind.DENSE))
    if pruned.any() and (~pruned).any():
        assert prune_cost[pruned].max() <= prune_cost[~pruned].min()
    if unified.any() and dense.any():
        assert unify_cost[unified].max() <= unify_cost[dense].min()


def test_pooled_selection_obeys_ratios_over_all_layers():
    mats = [random_matrix(1, 8, 32), random_matrix(2, 16, 64) * 3]
    kinds = select_kinds_pooled(mats, 1, 8, 0.5, 0.25)
    total = sum(k.size for k in kinds)
    assert sum(np.sum(k == BlockKind.PRUNED) for k in kinds) == total // 2
    assert sum(np.sum(k == BlockKind.UNIFIED) for k in kinds) == total // 4
    assert np.mean(kinds[0] == BlockKind.PRUNED) > np.mean(kinds[1] == BlockKind.PRUNED)  # smaller weights


@pytest.mark.parametrize("module,to_ir", [
    (nn.Conv2d(6, 5, 3), lambda w: w.permute(0, 2, 3, 1)),
    (nn.Conv2d(6, 6, 3, groups=6), lambda w: w.permute(1, 2, 3, 0)),
    (nn.Linear(7, 3), lambda w: w),
])
def test_weight_matrix_matches_the_ir_view(module, to_ir):
    ir_matrix = weight_matrix(op_type_of(module), to_ir(module.weight.detach()).numpy())
    assert np.array_equal(torch_weight_matrix(module).detach().numpy(), ir_matrix)
    doubled = torch_weight_matrix(module).detach() * 2
    set_torch_weight_from_matrix(module, doubled)
    assert torch.equal(torch_weight_matrix(module), doubled)


def test_enforce_structure_keeps_fixed_kinds_and_current_signs():
    model = nn.Sequential(nn.Conv2d(8, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3, groups=4))
    structures = {}
    for name in ("0", "2"):
        module = model.get_submodule(name)
        m = torch_weight_matrix(module).detach()
        bo, bi = (2, 4) if name == "0" else (1, 4)
        structures[name] = LayerStructure(name, op_type_of(module), bo, bi, select_kinds(m, bo, bi, 0.3, 0.3))
    enforce_structure_(model, structures)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.sign(torch.randn(p.shape, generator=torch.Generator().manual_seed(0))))
    before = {n: torch_weight_matrix(model.get_submodule(n)).detach().clone() for n in structures}
    enforce_structure_(model, structures)
    for name, s in structures.items():
        after = torch_weight_matrix(model.get_submodule(name)).detach()
        assert is_feasible(after, s.kinds, s.bo, s.bi)
        assert torch.equal(after, project_fixed(before[name], s.kinds, s.bo, s.bi))
