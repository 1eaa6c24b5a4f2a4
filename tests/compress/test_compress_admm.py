import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from toolchain import compress, datasets, models
from toolchain.compress.admm import Admm, select_structures
from toolchain.compress.layers import plan_layers
from toolchain.compress.project import is_feasible, to_tiles
from toolchain.compress.recipe import parse_recipe
from toolchain.compress.structure import torch_weight_matrix
from toolchain.compress.train import evaluate, reestimate_batchnorm
from toolchain.ir import BlockKind, load


def state_bytes(model: torch.nn.Module) -> list[bytes]:
    return [v.numpy().tobytes() for v in model.state_dict().values()]


RECIPE = {"blocks": {"shape": [1, 8]}, "ratios": {"unify": 0.25, "prune": 0.5},
          "admm": {"iterations": 4, "epochs": 1, "rho0": 0.3, "rho_factor": 1.5, "lr": 0.01},
          "retrain": {"epochs": 2}}


def test_admm_primal_residual_falls(trained_digits_cnn, digits_loaders):
    train, _ = digits_loaders
    recipe = parse_recipe(RECIPE)
    admm = Admm(trained_digits_cnn, plan_layers(trained_digits_cnn, recipe), recipe.admm)
    history = admm.run(train)
    assert [round(it.rho, 6) for it in history] == [0.3, 0.45, 0.675, 1.0125]
    for name in history[0].residual:
        residuals = [it.residual[name] for it in history]
        assert residuals[-1] < 0.5 * residuals[0], (name, residuals)


def test_structure_is_exact_after_retraining(trained_digits_cnn, digits_loaders):
    train, test = digits_loaders
    result = compress(trained_digits_cnn, train, test, parse_recipe(RECIPE))
    assert set(result.structures) == {"4", "8", "13"}  # first conv excluded by default
    assert result.history["accuracy"]["retrained"] > 0.8
    for name, s in result.structures.items():
        matrix = torch_weight_matrix(result.model.get_submodule(name)).detach()
        assert is_feasible(matrix, s.kinds, s.bo, s.bi), name
        counts = s.counts()
        assert counts["pruned"] == round(0.5 * s.kinds.size) and counts["unified"] == round(0.25 * s.kinds.size)
        tiles = to_tiles(matrix, s.bo, s.bi)
        unified = tiles[torch.from_numpy(s.kinds == BlockKind.UNIFIED)]
        assert torch.all(unified.abs() == unified.abs()[:, :1]) and torch.all(unified.abs() > 0)
        assert not isinstance(result.model.get_submodule(name).weight, torch.nn.utils.parametrize.ParametrizationList)
    assert not any(n.startswith("parametrizations") for n, _ in result.model.named_parameters())


def test_retraining_trains_unified_magnitudes(trained_digits_cnn, digits_loaders):
    train, test = digits_loaders
    no_retrain = dict(RECIPE, retrain={"epochs": 0})
    projected = compress(models.mnist_cnn((1, 8, 8), 10, 0).eval(), train, test, parse_recipe(no_retrain))
    base = models.mnist_cnn((1, 8, 8), 10, 0)
    base.load_state_dict(projected.model.state_dict())
    retrained = compress(base, train, test, parse_recipe(dict(RECIPE, admm={"iterations": 0})))
    s = retrained.structures["8"]
    before = torch_weight_matrix(projected.model.get_submodule("8")).detach()
    after = torch_weight_matrix(retrained.model.get_submodule("8")).detach()
    unified = torch.from_numpy(np.repeat(s.kinds, s.bi, axis=1) == BlockKind.UNIFIED)
    assert not torch.equal(before[unified], after[unified])


def test_compression_is_deterministic(trained_digits_cnn_state):
    recipe = parse_recipe(dict(RECIPE, admm={"iterations": 1}, retrain={"epochs": 1}))
    runs = []
    for _ in range(2):
        train, test = datasets.loaders("digits", batch_size=64, seed=0)
        model = models.mnist_cnn((1, 8, 8), 10, seed=0)
        model.load_state_dict(trained_digits_cnn_state)
        result = compress(model, train, test, recipe)
        runs.append((state_bytes(result.model), [s.kinds.tobytes() for s in result.structures.values()]))
    assert runs[0] == runs[1]


def test_batchnorm_reestimation_averages_over_the_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 3, 4, 4, generator=g) * 2 + 1
    model = nn.Sequential(nn.Conv2d(3, 2, 1, bias=False), nn.BatchNorm2d(2))
    loader = DataLoader(TensorDataset(x, torch.zeros(96, dtype=torch.int64)), batch_size=32)
    reestimate_batchnorm(model, loader)
    with torch.no_grad():
        y = model[0](x)
    assert torch.allclose(model[1].running_mean, y.mean((0, 2, 3)), atol=1e-5)
    assert model[1].momentum == 0.1 and not model.training


def test_built_in_models_evaluate_after_compression_in_eval_mode(digits_loaders):
    train, test = digits_loaders
    model = models.ds_cnn((1, 8, 8), 10, seed=0, width=8)
    recipe = parse_recipe({"blocks": {"shape": [1, 4]}, "ratios": {"unify": 0.5, "prune": 0.25},
                           "admm": {"iterations": 1}, "retrain": {"epochs": 1}, "max_batches": 2})
    result = compress(model, train, test, recipe)
    kinds = {name: s.op_type for name, s in result.structures.items()}
    assert "DEPTHWISE_CONV_2D" in kinds.values() and "CONV_2D" in kinds.values()
    assert not result.model.training
    assert 0.0 <= evaluate(result.model, test) <= 1.0


def test_export_writes_the_structure_into_the_ir(trained_digits_cnn, digits_loaders, tmp_path):
    train, test = digits_loaders
    recipe = parse_recipe(dict(RECIPE, admm={"iterations": 1}, retrain={"epochs": 1},
                               quantize={"calib_batches": 2, "mode": "qat", "qat_epochs": 1}))
    result = compress(trained_digits_cnn, train, test, recipe)
    quantized = result.export(tmp_path / "m.mun")
    graph = load(tmp_path / "m.mun")
    by_name = {op.name: graph.weight_of(op) for op in graph.ops if graph.weight_of(op) is not None}
    for name, s in result.structures.items():
        blocks = by_name[name].blocks
        assert (blocks.bo, blocks.bi) == (s.bo, s.bi)
        exported, planned = blocks.kinds, s.kinds
        assert np.array_equal(exported == BlockKind.DENSE, planned == BlockKind.DENSE)
        assert np.all(exported[planned == BlockKind.PRUNED] == BlockKind.PRUNED)
    assert by_name["0"].blocks is None
    assert quantized.accuracy(test) > 0.7 and "qat_loss" in quantized.history


def test_global_scope_pools_the_layers_that_share_shape_and_ratios():
    model = models.mnist_cnn()
    recipe = parse_recipe({"ratios": {"prune": 0.5, "unify": 0.25, "scope": "global",
                                      "layers": {"13": {"prune": 0.1}}}})
    structures = select_structures(model, plan_layers(model, recipe), recipe.ratios.scope)
    pooled = [structures[n] for n in ("4", "8")]
    total = sum(s.kinds.size for s in pooled)
    assert sum(s.counts()["pruned"] for s in pooled) == total // 2
    assert sum(s.counts()["unified"] for s in pooled) == total // 4
    assert structures["13"].counts()["pruned"] == round(0.1 * structures["13"].kinds.size)
    # layer 8 has the larger fan-in, hence the smaller initial weights: pooled ranking prunes it more
    assert structures["8"].counts()["pruned"] > structures["8"].kinds.size // 2


def _selections_with_new_weights_after_iteration_1(model, loader, freeze_after: int) -> list[dict]:
    """Run 3 ADMM iterations; after the first, replace the weights by random ones (a new block ranking)."""
    recipe = parse_recipe(dict(RECIPE, admm=dict(RECIPE["admm"], iterations=3, freeze_after=freeze_after)))
    admm = Admm(model, plan_layers(model, recipe), recipe.admm)
    generator = torch.Generator().manual_seed(1)
    selections = []

    def after(iteration: int) -> None:
        selections.append({name: s.kinds.copy() for name, s in admm.selection.items()})
        if iteration == 0:
            with torch.no_grad():
                for layer in admm.layers.values():
                    layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator))

    admm.run(loader, max_batches=2, after_iteration=after)
    selections.append({name: s.kinds for name, s in admm.final_structures().items()})
    return selections


def test_freeze_after_keeps_the_selection_of_that_iteration(trained_digits_cnn_state, digits_loaders):
    train, _ = digits_loaders
    runs = {}
    for freeze_after in (0, 1):
        model = models.mnist_cnn((1, 8, 8), 10, seed=0)
        model.load_state_dict(trained_digits_cnn_state)
        runs[freeze_after] = _selections_with_new_weights_after_iteration_1(model, train, freeze_after)
    frozen, free = runs[1], runs[0]
    for name, first in frozen[0].items():
        assert all(np.array_equal(later[name], first) for later in frozen[1:]), name  # later Z-steps and final
    assert not all(np.array_equal(free[-1][name], free[0][name]) for name in free[0])  # without: it moves
