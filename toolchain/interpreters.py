"""Thin wrappers over the two interpreters munify checks itself against.

  * `TflmInterpreter`: TensorFlow Lite Micro's Python interpreter (the reference kernels that run on
    microcontrollers), the ground truth for bit-exactness.
  * `LiteRTInterpreter`: LiteRT (TFLite) with the reference op resolver, keeping every intermediate tensor so
    the first op that differs can be named. Falls back to `tflite_runtime` when `ai_edge_litert` is absent.

Both take one list of input arrays per inference (model input order) and return the outputs in model
output order. `make_interpreter` runs either in a child process (`IsolatedInterpreter`): their C++ code trusts
the model file, and a malformed one can crash it (LiteRT segfaults on a RESHAPE whose shape input is -1); in a
child that is a one-line MunifyError naming the interpreter and the model instead of munify dying silently.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import Counter
from pathlib import Path

import numpy as np

from .errors import MunifyError, SetupError

AGAINST = ("tflm", "litert")
DISPLAY_NAMES = {"tflm": "TensorFlow Lite Micro", "litert": "LiteRT"}
CALL_TIMEOUT_S = 600.0  # one load or one inference; a malformed model may also make an interpreter spin

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
    keeps_intermediates = False

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
        except Exception as exc:  # its flatbuffer reader raises struct.error, IndexError, ... on a damaged file
            raise MunifyError(f"{model_path}: TensorFlow Lite Micro cannot load the model "
                              f"({_kind(exc)}: {exc}); re-export it") from None

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
    keeps_intermediates = True

    def __init__(self, model_path: str | Path):
        module = _litert_module()
        _model_bytes(model_path)
        try:
            self._interpreter = module.Interpreter(
                model_path=str(model_path),
                experimental_op_resolver_type=module.OpResolverType.BUILTIN_REF,
                experimental_preserve_all_tensors=True)
            self._interpreter.allocate_tensors()
        except Exception as exc:
            raise MunifyError(f"{model_path}: LiteRT cannot load the model ({exc}); re-export it") from None
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


IN_PROCESS = {"tflm": TflmInterpreter, "litert": LiteRTInterpreter}
_CALLS = ("run", "run_all", "last_outputs")
_ERRORS = {cls.__name__: cls for cls in (MunifyError, SetupError)}


def make_interpreter(against: str, model_path: str | Path) -> "IsolatedInterpreter":
    """`against` is 'tflm' or 'litert'; the interpreter runs in a child process (close it, or use `with`)."""
    if against not in IN_PROCESS:
        raise MunifyError(f"unknown interpreter '{against}'; choose one of {', '.join(AGAINST)}")
    return IsolatedInterpreter(against, model_path)


class IsolatedInterpreter:
    """TflmInterpreter or LiteRTInterpreter in a spawned child process, with the same `run`, `run_all`,
    `last_outputs`, `single_rounding` and `keeps_intermediates`. Errors come back as the MunifyError the
    interpreter raised; a crash of the child is a MunifyError naming the interpreter, the model and the
    signal."""

    def __init__(self, against: str, model_path: str | Path):
        self.name, self.model_path = DISPLAY_NAMES[against], Path(model_path)
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(target=_serve, args=(child_conn, against, str(model_path)), daemon=True,
                                        name=f"munify-{against}")
        self._process.start()
        child_conn.close()
        try:
            self.single_rounding, self.keeps_intermediates = self._receive()
        except BaseException:
            self.close()
            raise

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return self._call("run", inputs)

    def run_all(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        return self._call("run_all", inputs)

    def last_outputs(self) -> list[np.ndarray]:
        return self._call("last_outputs")

    def close(self) -> None:
        if self._process.is_alive():
            try:
                self._conn.send(None)
            except OSError:
                pass
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        self._conn.close()

    def __enter__(self) -> "IsolatedInterpreter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method: str, *args):
        try:
            self._conn.send((method, args))
        except OSError:
            raise self._crashed() from None
        return self._receive()

    def _receive(self):
        if not self._conn.poll(CALL_TIMEOUT_S):
            self._process.kill()
            raise MunifyError(f"{self.model_path}: {self.name} did not answer within {CALL_TIMEOUT_S:g} s; the "
                              "model may be malformed (re-export it)")
        try:
            status, value = self._conn.recv()
        except (EOFError, OSError):
            raise self._crashed() from None
        if status == "error":
            error_type, message = value
            raise _ERRORS.get(error_type, MunifyError)(message)
        return value

    def _crashed(self) -> MunifyError:
        self._process.join(5)
        code = self._process.exitcode
        how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit status {code}"
        return MunifyError(f"{self.model_path}: {self.name} crashed on this model ({how}); the file is malformed "
                           "in a way the interpreter does not check (e.g. a required input index of -1); "
                           "re-export the model")


def _serve(conn, against: str, model_path: str) -> None:
    """The child process: load the interpreter, then answer (method, args) requests until None or EOF."""
    try:
        interpreter = IN_PROCESS[against](model_path)
    except Exception as exc:
        conn.send(_error_reply(exc, against, model_path))
        return
    conn.send(("ok", (interpreter.single_rounding, interpreter.keeps_intermediates)))
    while (request := _next_request(conn)) is not None:
        method, args = request
        try:
            conn.send(("ok", getattr(interpreter, method)(*args)))
        except Exception as exc:
            conn.send(_error_reply(exc, against, model_path))


def _next_request(conn) -> tuple | None:
    try:
        request = conn.recv()
    except EOFError:  # the parent went away
        return None
    return request if request is not None and request[0] in _CALLS else None


def _error_reply(exc: Exception, against: str, model_path: str) -> tuple:
    if isinstance(exc, MunifyError):
        return "error", (type(exc).__name__ if type(exc).__name__ in _ERRORS else "MunifyError", str(exc))
    return "error", ("MunifyError", f"{model_path}: {DISPLAY_NAMES[against]} failed ({_kind(exc)}: {exc})")


def _kind(exc: Exception) -> str:
    """'struct.error' rather than the bare 'error'."""
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
