"""ADMM micro-structured weight unification and pruning (torch side)."""

from .structure import (LayerStructure, enforce_structure_, op_type_of, set_torch_weight_from_matrix,
                        torch_weight_matrix)

__all__ = ["LayerStructure", "enforce_structure_", "op_type_of", "set_torch_weight_from_matrix",
           "torch_weight_matrix"]
