"""The IR: the narrow waist every munify stage reads and writes."""

from .blocks import BlockKind, BlockStructure
from .graph import ACTIVATIONS, DTYPES, SCHEMA_VERSION, Graph, Op, Quant, Tensor, matrix_to_weight, weight_matrix
from .io import load, save
from .ops import OP_ATTRS, OP_TYPES, OPS, WEIGHTED_OPS, OpDef, op_def

__all__ = ["ACTIVATIONS", "DTYPES", "OPS", "OP_ATTRS", "OP_TYPES", "SCHEMA_VERSION", "WEIGHTED_OPS", "BlockKind",
           "BlockStructure", "Graph", "Op", "OpDef", "Quant", "Tensor", "load", "matrix_to_weight", "op_def", "save",
           "weight_matrix"]
