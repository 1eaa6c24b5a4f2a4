"""The IR: the narrow waist every munify stage reads and writes."""

from .blocks import BlockKind, BlockStructure
from .graph import (ACTIVATIONS, DTYPES, OP_ATTRS, OP_TYPES, SCHEMA_VERSION, WEIGHTED_OPS, Graph, Op, Quant,
                    Tensor, matrix_to_weight, weight_matrix)
from .io import load, save
from .shapes import OP_RULES

__all__ = ["ACTIVATIONS", "DTYPES", "OP_ATTRS", "OP_RULES", "OP_TYPES", "SCHEMA_VERSION", "WEIGHTED_OPS", "BlockKind",
           "BlockStructure", "Graph", "Op", "Quant", "Tensor", "load", "matrix_to_weight", "save", "weight_matrix"]
