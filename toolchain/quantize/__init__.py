"""int8 quantization that keeps the block structure, BN folding, QAT, and export of torch models to the IR.

    from toolchain.quantize import quantize_model
    q = quantize_model(model, structures, calib_loader)                       # PTQ
    q = quantize_model(model, structures, calib_loader, "qat", train_loader, epochs=1)
    q.export("model.mun"); q.accuracy(test_loader); q.agreement(test_loader)

Pipeline (the model passed in is never modified):
  capture   torch.fx traces the model into deployable steps (capture.py): Conv2d -> CONV_2D or
            DEPTHWISE_CONV_2D, Linear -> FULLY_CONNECTED, Max/AvgPool2d, AdaptiveAvgPool2d (module or
            functional) and x.mean((2, 3)) -> pools, + -> ADD, flatten -> RESHAPE, final Softmax -> SOFTMAX.
            BatchNorm folds into the conv/linear before it (fold.py), ReLU/ReLU6/Hardtanh(-1, 1) become fused
            activations, Dropout disappears. Anything else is an ExportError naming the layer and its type.
  calibrate float min/max of every conv/fc/add output and of the input (program.py).
  QAT       optional: straight-through fake-quant training, EMA ranges, structure re-projected after every
            step with `toolchain.compress.enforce_structure_` (qat.py).
  export    TFLite int8 scheme (scheme.py) into the IR (export.py); torch padding that is not TFLite
            SAME/VALID becomes an explicit PAD.

Structure: weights are quantized per output row with a symmetric scale, which is odd (round(-x) = -round(x)),
so a unified block row keeps one integer magnitude and its signs and a pruned block stays 0. A unified block
whose every magnitude rounds to 0 is exported as pruned and counted in `QuantizedModel.report`.

Agreement: the fake-quant program evaluated with `exact=True` requantizes with TFLite's fixed-point
multipliers and reproduces the reference on the IR code for code; `exact=False` is the float straight-through
simulation QAT trains through (benchmarks/quantize_agreement.py measures both on MNIST).
"""

from .api import MODES, QuantizedModel, quantize_model
from .capture import ExportError
from .fold import fold_batchnorm
from .scheme import ActQuant, quantize_matrix, weight_scales

__all__ = ["MODES", "ActQuant", "ExportError", "QuantizedModel", "fold_batchnorm", "quantize_matrix",
           "quantize_model", "weight_scales"]
