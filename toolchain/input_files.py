"""Real input tensors for `munify run --inputs FILE.npy|DIR` (e.g. test images), with optional labels for an
on-device accuracy figure.

- FILE.npy: one input of the model's input shape, or a batch of them (leading axis: the inputs).
- DIR: every `*.npy` in it (sorted by name) is one input or a batch; `labels.npy` in it, when present, holds
  the labels.
- `--labels FILE.npy`: integer class labels, one per input.

int8 arrays are taken as they are; float arrays are real values, quantized with the model input's scale and
zero point (round half to even, clipped to int8, as TFLite's quantize op does). Any other dtype is an error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import MunifyError
from .ir import Graph

LABELS_FILE = "labels.npy"


class InputFileError(MunifyError):
    """An input or label file that cannot be read or does not match the model."""


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: cannot read it as a .npy array ({exc})") from None


def _as_batch(path: Path, array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(shape))
    if array.shape == tuple(shape) or array.size == size:
        return array.reshape((1, *shape))
    if array.ndim >= 1 and array.size % size == 0 and int(np.prod(array.shape[1:])) == size:
        return array.reshape((array.shape[0], *shape))
    raise InputFileError(f"{path}: shape {list(array.shape)} is neither the model input {list(shape)} nor a batch "
                         f"[N, {', '.join(map(str, shape))}]")


def _quantized(path: Path, array: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    if array.dtype == np.int8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        return np.clip(np.rint(array / scale) + zero_point, -128, 127).astype(np.int8)
    raise InputFileError(f"{path}: dtype {array.dtype} is neither int8 (quantized) nor float (real values); "
                         "convert it with numpy first")


def _input_paths(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.glob("*.npy") if p.name != LABELS_FILE)
        if not files:
            raise InputFileError(f"{path}: the directory holds no .npy input files")
        return files
    if not path.is_file():
        raise InputFileError(f"{path}: no such input file or directory (give a .npy file, a directory of them, "
                             "or a number of random inputs)")
    return [path]


def load_inputs(graph: Graph, path: Path) -> list[np.ndarray]:
    """The int8 input tensors in `path`, one per inference."""
    tensor = graph.tensor(graph.inputs[0])
    if tensor.quant is None:
        raise InputFileError(f"model input '{tensor.name}' is not quantized; munify runs int8 models")
    scale, zero_point = float(tensor.quant.scale[0]), int(tensor.quant.zero_point[0])
    batches = [_quantized(p, _as_batch(p, _load(p), tensor.shape), scale, zero_point) for p in _input_paths(path)]
    return [row for batch in batches for row in batch]


def load_labels(path: Path | None, inputs_path: Path, count: int) -> np.ndarray | None:
    """The labels given with --labels, else a DIR's labels.npy, else None."""
    if path is None:
        default = inputs_path / LABELS_FILE
        if not (inputs_path.is_dir() and default.is_file()):
            return None
        path = default
    labels = _load(path).reshape(-1)
    if not np.issubdtype(labels.dtype, np.integer):
        raise InputFileError(f"{path}: labels must be integers (class indices), got {labels.dtype}")
    if labels.size != count:
        raise InputFileError(f"{path}: {labels.size} labels for {count} inputs; give one label per input")
    return labels


def accuracy(outputs: list[np.ndarray], labels: np.ndarray) -> dict:
    """Top-1 accuracy of the outputs (argmax) against the labels."""
    predictions = np.array([int(np.argmax(output)) for output in outputs])
    correct = int(np.sum(predictions == labels))
    return {"correct": correct, "total": int(labels.size), "top1": correct / labels.size}
