"""ADMM micro-structured weight unification and pruning (torch side).

`toolchain.compress` is both this package and, for convenience, the `compress` function itself:
`toolchain.compress(model, train_loader, val_loader, recipe)` calls `toolchain.compress.api.compress`.
"""

import sys
import types

from .api import CompressedModel, compress
from .recipe import Recipe, RecipeError, load_recipe, parse_recipe
from .structure import (LayerStructure, enforce_structure_, op_type_of, set_torch_weight_from_matrix,
                        torch_weight_matrix)

__all__ = ["CompressedModel", "LayerStructure", "Recipe", "RecipeError", "compress", "enforce_structure_",
           "load_recipe", "op_type_of", "parse_recipe", "set_torch_weight_from_matrix", "torch_weight_matrix"]


class _CallablePackage(types.ModuleType):
    # Importing this package rebinds the attribute `toolchain.compress` from the function defined in
    # toolchain/__init__.py to the package; keep `toolchain.compress(...)` working either way.
    def __call__(self, model, train_loader, val_loader, recipe, **kwargs):
        return compress(model, train_loader, val_loader, recipe, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
