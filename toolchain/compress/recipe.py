"""Compression recipes: a TOML file naming the model, the data, the block shape, the ratios and the schedules.

Every field is checked on load, type and range, before anything trains; a mistake is a one-line RecipeError
naming the key and the fix. Checks that need the model (layer names, supported layers, block shapes that do
not divide a layer) live in `plan_layers`. A model or data entry point that raises (or does not import) is a
RecipeError naming it, with its error and the line of the user's code (`resolve_entry_point`).

    seed = 0                       # 0 .. 2^32-1
    model = "mnist_cnn"            # built-in name or "module:function" returning an nn.Module
    data = "mnist"                 # built-in name or "module:function(batch_size, seed) -> (train, test)"
    batch_size = 64                # 1 .. 65536
    max_batches = 0                # batches per epoch, 0 = the whole training set (epochs, iterations and
                                   # batch counts are at most 10^6)
    board = "mps2-an386"           # the board a [budget] of instructions is planned for (boards/*.toml)
    [train]    epochs, lr, momentum              dense pre-training (munify compress caches it)
    [blocks]   shape = [bo, bi], edge = "dense" | "skip" | "error"
    [ratios]   unify, prune, scope = "layer" | "global", exclude_first, exclude_last
    [ratios.layers."<module name>"]  unify, prune, shape   per-layer overrides (also re-include an
                                                          excluded first/last layer)
    [admm]     iterations, epochs, rho0, rho_factor, rho_max, lr, momentum, freeze_after (iterations after which
               the block selection stays fixed; 0 = select afresh at every Z-step)
    [retrain]  epochs, lr, momentum
    [quantize] mode = "ptq" | "qat", qat_epochs, calib_batches
    [budget]   instructions, weights_bytes (fractions of dense, in (0, 1]), optimize
               munify picks the per-layer ratios (toolchain.compress.budget); [ratios] may then only say
               which layers may be compressed (exclude_first, exclude_last, ratios.layers.<name>.shape)
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import re
import sys
import traceback
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..boards import board_names
from ..errors import MunifyError
from ..plan.registry import OPTIMIZE_MODES

SUPPORTED_BO = (1, 2, 4)
SUPPORTED_BI = (2, 4, 8, 16)
EDGE_POLICIES = ("dense", "skip", "error")
SCOPES = ("layer", "global")
QUANT_MODES = ("ptq", "qat")
MAX_SEED = 2**32 - 1  # numpy's legacy and torch's generators both take it
MAX_COUNT = 10**6  # epochs, iterations, batches: anything larger is a typo, not a plan
MAX_BATCH_SIZE = 65536
_ENTRY = re.compile(r"[A-Za-z_][\w-]*|[A-Za-z_][\w.]*:[A-Za-z_]\w*")  # built-in name or module:function


class RecipeError(MunifyError):
    """A recipe that cannot be used as written."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 8
    lr: float = 0.05
    momentum: float = 0.9


@dataclass(frozen=True)
class BlocksConfig:
    shape: tuple[int, int] = (1, 8)
    edge: str = "dense"


@dataclass(frozen=True)
class LayerOverride:
    unify: float | None = None
    prune: float | None = None
    shape: tuple[int, int] | None = None


@dataclass(frozen=True)
class RatiosConfig:
    unify: float = 0.0
    prune: float = 0.0
    scope: str = "layer"
    exclude_first: bool = True
    exclude_last: bool = False
    layers: dict[str, LayerOverride] = field(default_factory=dict)


@dataclass(frozen=True)
class AdmmConfig:
    iterations: int = 6
    epochs: int = 1
    rho0: float = 0.3
    rho_factor: float = 1.5
    rho_max: float = 10.0
    lr: float = 0.01
    momentum: float = 0.9
    freeze_after: int = 0  # iterations after which the block selection stays fixed (0: never)


@dataclass(frozen=True)
class RetrainConfig:
    epochs: int = 3
    lr: float = 0.01
    momentum: float = 0.9


@dataclass(frozen=True)
class QuantizeConfig:
    mode: str = "ptq"
    qat_epochs: int = 0
    calib_batches: int = 16


@dataclass(frozen=True)
class BudgetConfig:
    """Fractions of the dense int8 model: predicted instructions on the recipe's board, stored weight bytes."""

    instructions: float | None = None
    weights_bytes: float | None = None
    optimize: str = "balanced"  # the planner mode the instructions are predicted (and later built) with


@dataclass(frozen=True)
class Recipe:
    model: str = "mnist_cnn"
    data: str = "mnist"
    seed: int = 0
    batch_size: int = 64
    max_batches: int = 0
    train: TrainConfig = TrainConfig()
    blocks: BlocksConfig = BlocksConfig()
    ratios: RatiosConfig = RatiosConfig()
    admm: AdmmConfig = AdmmConfig()
    retrain: RetrainConfig = RetrainConfig()
    quantize: QuantizeConfig = QuantizeConfig()
    board: str | None = None
    budget: BudgetConfig | None = None
    source: str = "<recipe>"

    def replace(self, **changes) -> "Recipe":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The recipe as a TOML-shaped dict: `parse_recipe(recipe.to_dict())` gives the recipe back."""
        d = dataclasses.asdict(self)
        d.pop("source")
        for key in ("board", "budget"):  # TOML has no null: an unset optional field is left out
            if d[key] is None:
                d.pop(key)
        if self.budget is not None:
            d["budget"] = {k: v for k, v in d["budget"].items() if v is not None}
            for key in BUDGET_RATIO_KEYS:  # the budget decides them
                d["ratios"].pop(key)
        d["blocks"]["shape"] = list(self.blocks.shape)
        d["ratios"]["layers"] = {
            name: {k: list(v) if k == "shape" else v for k, v in dataclasses.asdict(o).items() if v is not None}
            for name, o in self.ratios.layers.items()}
        return d


SECTIONS = {"train": TrainConfig, "blocks": BlocksConfig, "ratios": RatiosConfig, "admm": AdmmConfig,
            "retrain": RetrainConfig, "quantize": QuantizeConfig}
TOP_LEVEL = ("model", "data", "seed", "batch_size", "max_batches", "board")


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe {path} does not exist; pass the path of a TOML recipe (see examples/)")
    try:
        doc = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RecipeError(f"recipe {path} is not valid TOML ({exc}); fix the syntax") from None
    return parse_recipe(doc, str(path))


def as_recipe(recipe: "Recipe | dict | str | Path") -> Recipe:
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, dict):
        return parse_recipe(recipe)
    return load_recipe(recipe)


def parse_recipe(doc: dict, source: str = "<recipe>") -> Recipe:
    where = f"recipe {source}"
    _reject_unknown(doc, set(TOP_LEVEL) | set(SECTIONS) | {"budget"}, "", where)
    values: dict[str, Any] = {"source": source}
    for key in ("model", "data"):
        if key in doc:
            values[key] = _entry_name(doc[key], key, where)
    limits = {"seed": (0, MAX_SEED), "batch_size": (1, MAX_BATCH_SIZE), "max_batches": (0, MAX_COUNT)}
    for key, (low, high) in limits.items():
        if key in doc:
            values[key] = _int(doc[key], key, where, low, high)
    for name, cls in SECTIONS.items():
        table = doc.get(name, {})
        if not isinstance(table, dict):
            raise RecipeError(f"{where}: '{name}' must be a table ([{name}])")
        values[name] = _SECTION_PARSERS[name](table, name, where)
    if "board" in doc:
        values["board"] = _board(doc["board"], where)
    if "budget" in doc:
        values["budget"] = _parse_budget(doc["budget"], doc, values.get("board"), where)
    return Recipe(**values)


def _reject_unknown(table: dict, known: set[str], prefix: str, where: str) -> None:
    for key in table:
        if key not in known:
            raise RecipeError(f"{where}: unknown key '{prefix}{key}' (known: {', '.join(sorted(known))}); "
                              "fix or remove it")


def _entry_name(value, key: str, where: str) -> str:
    if not isinstance(value, str) or not _ENTRY.fullmatch(value):
        raise RecipeError(f"{where}: '{key}' must be a built-in name or 'module:function', got {value!r}")
    return value


def _int(value, key: str, where: str, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise RecipeError(f"{where}: '{key}' must be an integer in [{minimum}, {maximum}], got {value!r}")
    return value


def _float(value, key: str, where: str, low: float = 0.0, high: float = float("inf"), open_low=False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not (low < value if open_low else low <= value) or value > high:
        bound = f"in ({low}, {high}]" if open_low else f"in [{low}, {high}]"
        raise RecipeError(f"{where}: '{key}' must be a number {bound}, got {value!r}")
    return float(value)


def _bool(value, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise RecipeError(f"{where}: '{key}' must be true or false, got {value!r}")
    return value


def _choice(value, key: str, where: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise RecipeError(f"{where}: '{key}' must be one of {', '.join(choices)}, got {value!r}")
    return value


def _shape(value, key: str, where: str) -> tuple[int, int]:
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise RecipeError(f"{where}: '{key}' must be [bo, bi], e.g. [1, 8], got {value!r}")
    bo, bi = value
    if bo not in SUPPORTED_BO or bi not in SUPPORTED_BI:
        raise RecipeError(f"{where}: block shape {bo}x{bi} is not supported; use bo in {SUPPORTED_BO} and "
                          f"bi in {SUPPORTED_BI}")
    return bo, bi


def _ratio_pair(table: dict, prefix: str, where: str, defaults: tuple[float | None, float | None]):
    unify = _float(table["unify"], f"{prefix}unify", where, 0.0, 1.0) if "unify" in table else defaults[0]
    prune = _float(table["prune"], f"{prefix}prune", where, 0.0, 1.0) if "prune" in table else defaults[1]
    if unify is not None and prune is not None and unify + prune > 1.0 + 1e-12:
        raise RecipeError(f"{where}: {prefix}unify + {prefix}prune = {unify + prune:g} > 1; "
                          "together they may cover at most all blocks")
    return unify, prune


def _section(cls, table: dict, name: str, where: str, convert: dict) -> Any:
    _reject_unknown(table, {f.name for f in dataclasses.fields(cls)}, f"{name}.", where)
    return cls(**{key: convert[key](value, f"{name}.{key}", where) for key, value in table.items()})


def _parse_train(table, name, where):
    return _section(TrainConfig, table, name, where, {
        "epochs": _int, "lr": lambda v, k, w: _float(v, k, w, 0.0, 10.0, open_low=True),
        "momentum": lambda v, k, w: _float(v, k, w, 0.0, 0.999)})


def _parse_blocks(table, name, where):
    return _section(BlocksConfig, table, name, where, {
        "shape": _shape, "edge": lambda v, k, w: _choice(v, k, w, EDGE_POLICIES)})


def _parse_ratios(table, name, where):
    _reject_unknown(table, {f.name for f in dataclasses.fields(RatiosConfig)}, f"{name}.", where)
    unify, prune = _ratio_pair(table, f"{name}.", where, (0.0, 0.0))
    layers_table = table.get("layers", {})
    if not isinstance(layers_table, dict):
        raise RecipeError(f"{where}: '{name}.layers' must be a table of per-layer overrides")
    layers = {}
    for layer, override in layers_table.items():
        prefix = f"{name}.layers.{layer}."
        if not isinstance(override, dict):
            raise RecipeError(f"{where}: '{prefix[:-1]}' must be a table like {{ unify = 0.5, prune = 0.2 }}")
        _reject_unknown(override, {"unify", "prune", "shape"}, prefix, where)
        o_unify, o_prune = _ratio_pair(override, prefix, where, (None, None))
        if (o_unify if o_unify is not None else unify) + (o_prune if o_prune is not None else prune) > 1 + 1e-12:
            raise RecipeError(f"{where}: unify + prune of layer '{layer}' exceed 1; lower one of them")
        shape = _shape(override["shape"], f"{prefix}shape", where) if "shape" in override else None
        layers[layer] = LayerOverride(o_unify, o_prune, shape)
    flags = {k: _bool(table[k], f"{name}.{k}", where) for k in ("exclude_first", "exclude_last") if k in table}
    scope = _choice(table.get("scope", "layer"), f"{name}.scope", where, SCOPES)
    return RatiosConfig(unify, prune, scope, layers=layers, **flags)


def _parse_admm(table, name, where):
    positive = lambda v, k, w: _float(v, k, w, 0.0, 1e6, open_low=True)  # noqa: E731
    config = _section(AdmmConfig, table, name, where, {
        "iterations": _int, "epochs": lambda v, k, w: _int(v, k, w, 1), "rho0": positive,
        "rho_factor": lambda v, k, w: _float(v, k, w, 1.0, 100.0), "rho_max": positive,
        "lr": lambda v, k, w: _float(v, k, w, 0.0, 10.0, open_low=True),
        "momentum": lambda v, k, w: _float(v, k, w, 0.0, 0.999), "freeze_after": _int})
    if config.freeze_after > config.iterations:
        raise RecipeError(f"{where}: '{name}.freeze_after' = {config.freeze_after} exceeds '{name}.iterations' = "
                          f"{config.iterations}, so the selection would never freeze; lower it (0: never)")
    return config


def _parse_retrain(table, name, where):
    return _section(RetrainConfig, table, name, where, {
        "epochs": _int, "lr": lambda v, k, w: _float(v, k, w, 0.0, 10.0, open_low=True),
        "momentum": lambda v, k, w: _float(v, k, w, 0.0, 0.999)})


def _parse_quantize(table, name, where):
    return _section(QuantizeConfig, table, name, where, {
        "mode": lambda v, k, w: _choice(v, k, w, QUANT_MODES), "qat_epochs": _int,
        "calib_batches": lambda v, k, w: _int(v, k, w, 1)})


def _board(value, where: str) -> str:
    names = board_names()
    if value not in names:
        raise RecipeError(f"{where}: 'board' names no built-in board ({value!r}); use one of {', '.join(names)}")
    return value


BUDGET_RATIO_KEYS = ("unify", "prune", "scope")  # what a budget decides, so [ratios] must not say it


def _parse_budget(table, doc: dict, board: str | None, where: str) -> BudgetConfig:
    if not isinstance(table, dict):
        raise RecipeError(f"{where}: 'budget' must be a table ([budget])")
    fraction = lambda v, k, w: _float(v, k, w, 0.0, 1.0, open_low=True)  # noqa: E731
    budget = _section(BudgetConfig, table, "budget", where, {
        "instructions": fraction, "weights_bytes": fraction,
        "optimize": lambda v, k, w: _choice(v, k, w, OPTIMIZE_MODES)})
    if budget.instructions is None and budget.weights_bytes is None:
        raise RecipeError(f"{where}: [budget] needs 'instructions' or 'weights_bytes' (or both), e.g. "
                          "instructions = 0.5")
    if budget.instructions is not None and board is None:
        raise RecipeError(f"{where}: budget.instructions needs the board it is planned for; add e.g. "
                          f"board = \"mps2-an386\" ({', '.join(board_names())})")
    _check_no_ratios(doc.get("ratios", {}), where)
    return budget


def _check_no_ratios(ratios: dict, where: str) -> None:
    """With a [budget], munify chooses the ratios: [ratios] may only say which layers may be compressed."""
    for key in BUDGET_RATIO_KEYS:
        if key in ratios:
            raise RecipeError(f"{where}: ratios.{key} and [budget] both decide the ratios; remove ratios.{key} "
                              "or the [budget]")
    for layer, override in ratios.get("layers", {}).items():
        for key in ("unify", "prune"):
            if key in override:
                raise RecipeError(f"{where}: ratios.layers.{layer}.{key} and [budget] both decide the ratios; "
                                  "with a budget a layer override may only set its shape")


_SECTION_PARSERS = {"train": _parse_train, "blocks": _parse_blocks, "ratios": _parse_ratios,
                    "admm": _parse_admm, "retrain": _parse_retrain, "quantize": _parse_quantize}


def resolve_entry_point(spec: str, what: str, search_dir: Path | None = None):
    """The function named by 'module:function' (the recipe's directory is searched before sys.path), wrapped
    so that an exception it raises is a one-line RecipeError naming the entry point, the error and the line of
    the user's code that raised it."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise RecipeError(f"{what} '{spec}' must be 'module:function'")
    module = _import_entry_module(module_name, spec, what, search_dir)
    function = getattr(module, function_name, None)
    if not callable(function):
        raise RecipeError(f"{what} '{spec}': module '{module_name}' has no function '{function_name}'; "
                          "fix the name after ':'")

    @functools.wraps(function)
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except MunifyError:
            raise
        except Exception as exc:
            raise RecipeError(f"{what} entry point '{spec}' raised {_user_error(exc, module.__file__)}") from None

    return call


def _import_entry_module(module_name: str, spec: str, what: str, search_dir: Path | None):
    added = search_dir is not None and str(search_dir) not in sys.path
    if added:
        sys.path.insert(0, str(search_dir))
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise RecipeError(f"{what} '{spec}': module '{exc.name}' not found; put it beside the recipe or on "
                              "PYTHONPATH") from None
        raise RecipeError(f"{what} entry point '{spec}' failed to import: "
                          f"{_user_error(exc, _module_file(module_name))}") from None
    except SyntaxError as exc:
        raise RecipeError(f"{what} entry point '{spec}' has a syntax error: {exc.msg} (at {exc.filename}:"
                          f"{exc.lineno})") from None
    except Exception as exc:
        raise RecipeError(f"{what} entry point '{spec}' failed to import: "
                          f"{_user_error(exc, _module_file(module_name))}") from None
    finally:
        if added:
            sys.path.remove(str(search_dir))


def _module_file(module_name: str) -> str | None:
    try:
        spec = importlib.util.find_spec(module_name)
    except Exception:  # a parent package that itself fails to import
        return None
    return spec.origin if spec is not None else None


def _user_error(exc: Exception, own_file: str | None) -> str:
    """'ValueError: message (at file.py:12, in function)': the deepest frame in the user's module, else the
    deepest frame of all."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if own_file and Path(f.filename) == Path(own_file)] or frames
    message = " ".join(str(exc).split()) or "(no message)"
    where = f" (at {mine[-1].filename}:{mine[-1].lineno}, in {mine[-1].name})" if mine else ""
    return f"{type(exc).__name__}: {message}{where}"
