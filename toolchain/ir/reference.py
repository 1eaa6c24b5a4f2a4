"""The oracle: a numpy executor of the IR with TFLite Micro's integer semantics, bit for bit.

Each op runs the reference kernel its `OpDef` names (`toolchain.ir.ops`; the kernels are in
`toolchain.ir.reference_ops` and take their integer parameters from `toolchain.ir.arith`, as the code
generator does). Weights are read from `Tensor.data`; a block structure is metadata and changes nothing here.
The products are small, so BLAS runs on one thread: on a loaded machine its worker threads made ResNet-8 ten
times slower.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

from ..errors import MunifyError
from .graph import Graph, Op
from .ops import op_def
from .reference_ops import Values


def run(graph: Graph, inputs: list[np.ndarray], *, single_rounding: frozenset[str] = frozenset()) \
        -> list[np.ndarray]:
    """Run one inference; the outputs come back in `graph.outputs` order.

    Requantization rounds twice (TFLite Micro, CMSIS-NN and the generated C) except for the op types in
    `single_rounding`, which round once as TFLITE_SINGLE_ROUNDING builds do: only for comparing with such
    interpreters (see `toolchain.interpreters.LITERT_SINGLE_ROUNDING`).
    """
    values = run_all(graph, inputs, single_rounding=single_rounding)
    return [values[name] for name in graph.outputs]


def run_all(graph: Graph, inputs: list[np.ndarray], *, single_rounding: frozenset[str] = frozenset()) \
        -> dict[str, np.ndarray]:
    """Run one inference and return every activation tensor (graph inputs included) by name."""
    values = _bind_inputs(graph, inputs)
    with _single_threaded_blas():
        for op in graph.ops:
            _run_op(graph, op, values, "single" if op.type in single_rounding else "double")
    return values


@functools.cache
def _blas_controller():
    try:
        import threadpoolctl  # a dependency of scikit-learn
    except ImportError:
        return None
    return threadpoolctl.ThreadpoolController()


def _single_threaded_blas():
    controller = _blas_controller()
    return controller.limit(limits=1, user_api="blas") if controller else contextlib.nullcontext()


def _run_op(graph: Graph, op: Op, values: Values, rounding: str) -> None:
    kernel = op_def(op.type).reference
    out = graph.tensor(op.outputs[0])
    if out.dtype != "int8":
        raise MunifyError(f"op '{op.name}' ({op.type}): output '{out.name}' is {out.dtype}; the reference "
                          "executor supports int8 activations only")
    result = kernel(graph, op, values, rounding)
    if result.shape != tuple(out.shape):
        raise MunifyError(f"op '{op.name}' ({op.type}): computed shape {result.shape} differs from the "
                          f"declared shape {tuple(out.shape)} of '{out.name}'")
    values[out.name] = result.astype(np.int8)


def _bind_inputs(graph: Graph, inputs: list[np.ndarray]) -> Values:
    if len(inputs) != len(graph.inputs):
        raise MunifyError(f"graph '{graph.name}' takes {len(graph.inputs)} input(s), got {len(inputs)}")
    values: Values = {}
    for name, array in zip(graph.inputs, inputs):
        t = graph.tensor(name)
        array = np.asarray(array)
        if array.dtype != np.dtype(t.dtype) or array.size != t.size:
            raise MunifyError(f"input '{name}' must be {t.dtype}{list(t.shape)}, got "
                              f"{array.dtype}{list(array.shape)}")
        values[name] = array.reshape(t.shape)
    return values
