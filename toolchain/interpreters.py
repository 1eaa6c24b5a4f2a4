"""Thin wrappers over the two interpreters munify checks itself against.

  * `TflmInterpreter`: TensorFlow Lite Micro's Python interpreter (the reference kernels that run on
    microcontrollers), the ground truth for bit-exactness.
  * `LiteRTInterpreter`: LiteRT (TFLite) with the reference op resolver, keeping every intermediate tensor so
    the first op that differs can be named. Falls back to `tflite_runtime` when `ai_edge_litert` is absent.

Both take one list of input arrays per inference (model input order) and return the outputs in model
output order.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .errors import MunifyError, SetupError

AGAINST = ("tflm", "litert")

# LiteRT requantizes int8 FULLY_CONNECTED with single rounding even under the reference op resolver; every
# other op rounds twice like TFLite Micro. Measured: with this the reference matches LiteRT on every
# intermediate tensor of the MLPerf Tiny models (200 inputs each); without it FULLY_CONNECTED outputs
# differ by 1 on rounding ties.
LITERT_SINGLE_ROUNDING = frozenset({"FULLY_CONNECTED"})


def _model_bytes(path: str | Path) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise MunifyError(f"{path}: no such model file")
    return path.read_bytes()


def _output_count(model: bytes) -> int:
    import tflite

    try:
        return tflite.Model.GetRootAsModel(model, 0).Subgraphs(0).OutputsLength()
    except Exception as exc:  # the flatbuffer bindings raise anything on garbage
        raise MunifyError(f"not a valid .tflite model ({type(exc).__name__}); re-export it") from None


class TflmInterpreter:
    """TensorFlow Lite Micro (`tflite_micro.python.tflite_micro.runtime`)."""

    single_rounding: frozenset[str] = frozenset()  # op types that requantize with single rounding

    def __init__(self, model_path: str | Path, arena_size: int | None = None):
        try:
            from tflite_micro.python.tflite_micro import runtime
        except ImportError as exc:
            raise SetupError(f"TensorFlow Lite Micro is not installed ({exc}); run 'pip install tflite-micro'") \
                from None
        model = _model_bytes(model_path)
        self.num_outputs = _output_count(model)
        try:
            # The default arena (10x the model size) is too small for models whose weights are tiny
            # compared with their activations; 1 MiB more costs nothing on a host.
            self._interpreter = runtime.Interpreter.from_bytes(
                model, arena_size=arena_size or 10 * len(model) + (1 << 20))
        except (RuntimeError, ValueError) as exc:
            raise MunifyError(f"{model_path}: TensorFlow Lite Micro cannot load the model ({exc})") from None

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        interpreter = self._interpreter
        for index, array in enumerate(inputs):
            shape = interpreter.get_input_details(index)["shape"]
            interpreter.set_input(np.asarray(array).reshape(shape), index)
        try:
            interpreter.invoke()
        except RuntimeError as exc:
            raise MunifyError(f"TensorFlow Lite Micro failed to run the model ({exc})") from None
        return [np.array(interpreter.get_output(i)) for i in range(self.num_outputs)]


def _litert_module():
    try:
        from ai_edge_litert import interpreter as module
    except ImportError:
        try:
            from tflite_runtime import interpreter as module
        except ImportError:
            raise SetupError("neither ai-edge-litert nor tflite-runtime is installed; run "
                             "'pip install ai-edge-litert'") from None
    return module


class LiteRTInterpreter:
    """LiteRT with the reference kernels (BUILTIN_REF), every intermediate tensor preserved."""

    single_rounding = LITERT_SINGLE_ROUNDING

    def __init__(self, model_path: str | Path):
        module = _litert_module()
        _model_bytes(model_path)
        try:
            self._interpreter = module.Interpreter(
                model_path=str(model_path),
                experimental_op_resolver_type=module.OpResolverType.BUILTIN_REF,
                experimental_preserve_all_tensors=True)
            self._interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise MunifyError(f"{model_path}: LiteRT cannot load the model ({exc})") from None
        self._inputs = self._interpreter.get_input_details()
        self._outputs = self._interpreter.get_output_details()

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self._invoke(inputs)
        return self.last_outputs()

    def last_outputs(self) -> list[np.ndarray]:
        """The outputs of the most recent inference."""
        return [np.array(self._interpreter.get_tensor(d["index"])) for d in self._outputs]

    def run_all(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Every tensor that holds data after the inference (activations and constants), by TFLite name.

        A name that several tensors share is left out: it cannot say which tensor it means.
        """
        self._invoke(inputs)
        details = self._interpreter.get_tensor_details()
        counts = Counter(d["name"] for d in details)
        tensors = {}
        for detail in details:
            if counts[detail["name"]] > 1:
                continue
            try:
                tensors[detail["name"]] = np.array(self._interpreter.get_tensor(detail["index"]))
            except ValueError:  # a tensor without a buffer (e.g. an optional input slot)
                continue
        return tensors

    def _invoke(self, inputs: list[np.ndarray]) -> None:
        if len(inputs) != len(self._inputs):
            raise MunifyError(f"the model takes {len(self._inputs)} input(s), got {len(inputs)}")
        for detail, array in zip(self._inputs, inputs):
            self._interpreter.set_tensor(detail["index"], np.asarray(array).reshape(detail["shape"]))
        try:
            self._interpreter.invoke()
        except RuntimeError as exc:
            raise MunifyError(f"LiteRT failed to run the model ({exc})") from None


def make_interpreter(against: str, model_path: str | Path):
    """`against` is 'tflm' or 'litert'."""
    if against == "tflm":
        return TflmInterpreter(model_path)
    if against == "litert":
        return LiteRTInterpreter(model_path)
    raise MunifyError(f"unknown interpreter '{against}'; choose one of {', '.join(AGAINST)}")
