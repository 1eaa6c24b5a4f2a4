"""int8 quantization keeping the block structure (TFLite scheme), BN folding, QAT, export of torch models to the IR."""

from .api import MODES, QuantizedModel, quantize_model
from .capture import ExportError
from .fold import fold_batchnorm
from .scheme import ActQuant, quantize_matrix, weight_scales

__all__ = ["MODES", "ActQuant", "ExportError", "QuantizedModel", "fold_batchnorm", "quantize_matrix",
           "quantize_model", "weight_scales"]
