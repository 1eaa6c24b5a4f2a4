"""The MLCommons Tiny benchmark runner's side of the line (mlcommons/tiny, benchmark/runner), written from how
it behaves, so munify can check its firmware the way the runner will drive it:

- framing (serial_device.py): a command is sent as text + '%'; the reply is every non-empty line up to the
  first one that contains 'm-ready'; lines end at '\\n' with '\\r' dropped; each line must come within 5 s
  (30 s while `infer` runs) or the runner stops with "No response to command";
- identification (main.py): `name`, then `profile`, whose `m-model-[...]` picks the test script;
- download (device_under_test.py): `db load N`, then `db` chunks of 31 bytes (62 hex digits); ad01 files are
  cut into overlapping segments (`bytes_to_send`, `stride`), all of them in accuracy mode, the first in
  performance mode;
- `infer N W`: `m-results-[...]` parsed as floats, the first `m-lap-us-` as the start, the second as the end;
- scoring (main.py): a result vector of more than one value is divided by its sum; top-1 is the argmax of the
  mean vector per file; ad01 (one value) is scored by AUC over the files; performance mode needs exactly 5
  windows (else ERROR 1), a loop of at least 10 s of host time (else ERROR 2), and reports "Runtime
  requirements have been met" for each window longer than 10 s of device time.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
import numpy as np
import serial

from .transport import DeviceError

READY = "m-ready"
LINE_TIMEOUT = 5.0
INFER_LINE_TIMEOUT = 30.0
DB_CHUNK_BYTES = 31
PERFORMANCE_WINDOWS = 5
MIN_LOOP_SECONDS = 10.0
MIN_WINDOW_SECONDS = 10.0
# tests_performance.yaml: `infer N W` of each benchmark's performance loop.
PERFORMANCE_COUNTS = {"kws01": (70, 10), "ic01": (20, 5), "vww01": (20, 5), "ad01": (1500, 10)}
WINDOW_MARGIN = 1.1  # a raised count aims 10% past the 10-second check (timer granularity, loop overhead)


def performance_counts(model_id: str, seconds_per_inference: float) -> tuple[int, int]:
    """tests_performance.yaml's `infer N W` for `model_id`, N raised where N inferences of
    `seconds_per_inference` would not fill the runner's 10-second window (its "Runtime requirements" check,
    whose remedy is a larger N): a faster model needs more iterations on the same clock."""
    iterations, warmups = PERFORMANCE_COUNTS[model_id]
    return max(iterations, math.ceil(MIN_WINDOW_SECONDS * WINDOW_MARGIN / seconds_per_inference)), warmups


class RunnerError(DeviceError):
    """What makes the MLCommons runner stop."""


@dataclass(frozen=True)
class Window:
    """One `infer N W` as the runner reads it."""

    results: tuple[float, ...]
    start_us: int
    end_us: int
    iterations: int

    @property
    def elapsed_us(self) -> int:
        return self.end_us - self.start_us

    @property
    def throughput(self) -> float:
        return self.iterations / (self.elapsed_us / 1e6) if self.elapsed_us > 0 else 0.0

    @property
    def runtime_met(self) -> bool:
        """The runner's "Runtime requirements have been met" (main.py: elapsed > 10 s)."""
        return self.elapsed_us / 1e6 > MIN_WINDOW_SECONDS


@dataclass(frozen=True)
class Performance:
    windows: tuple[Window, ...]
    loop_seconds: float  # host time of the whole loop, as the runner measures it

    @property
    def errors(self) -> list[str]:
        found = []
        if len(self.windows) != PERFORMANCE_WINDOWS:
            found.append("ERROR 1 - loop_count was not exactly 5.")
        if self.loop_seconds < MIN_LOOP_SECONDS:
            found.append("ERROR 2 - loop exited before 10 seconds elapsed.")
        return found

    @property
    def median_throughput(self) -> float:
        return statistics.median(w.throughput for w in self.windows)


class RunnerSide:
    """A pyserial `Serial` on the device's port, used as the runner uses it."""

    def __init__(self, port: str, baud: int = 115200):
        try:
            self.port = serial.Serial(port, baud, timeout=0.1)
        except (serial.SerialException, OSError) as exc:
            raise RunnerError(f"cannot open {port}: {exc}") from None
        self._partial = ""

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> "RunnerSide":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            char = self.port.read(1).decode("ascii", "replace")
            if char == "\n":
                line, self._partial = self._partial, ""
                return line
            if char and char not in "\r\0":
                self._partial += char
        raise RunnerError(f"no line within {timeout:g} s")

    def send_command(self, command: str, timeout: float = LINE_TIMEOUT) -> list[str]:
        self.port.write((command + "%").encode())
        lines = []
        while True:
            try:
                line = self._read_line(timeout)
            except RunnerError:
                raise RunnerError(f"No response to command {command}") from None
            if line:
                lines.append(line)
            if READY in line:
                return lines

    def identify(self) -> tuple[str, str]:
        """(name, model id) as main.py's init_dut reads them."""
        name = _bracketed(self.send_command("name"), "m-name-dut-")
        model = _bracketed(self.send_command("profile"), "m-model-")
        if name is None or model is None:
            raise RunnerError("the device did not report its name and model")
        return name, model

    def load(self, data: bytes) -> list[str]:
        self.send_command(f"db load {len(data)}")
        reply: list[str] = []
        for start in range(0, len(data), DB_CHUNK_BYTES):
            reply = self.send_command(f"db {data[start:start + DB_CHUNK_BYTES].hex()}")
        return reply

    def infer(self, iterations: int, warmups: int) -> Window:
        lines = self.send_command(f"infer {iterations} {warmups}", timeout=INFER_LINE_TIMEOUT)
        results: tuple[float, ...] = ()
        laps = []
        for line in lines:
            if line.startswith("m-results-[") and line.endswith("]"):
                results = tuple(float(v) for v in line[len("m-results-["):-1].split(",") if v.strip())
            elif line.startswith("m-lap-us-") and line[len("m-lap-us-"):].isdigit():
                laps.append(int(line[len("m-lap-us-"):]))
        if len(laps) < 2 or not results:
            raise RunnerError(f"incomplete infer reply: {lines[:8]}")
        return Window(results, laps[0], laps[1], iterations)

    # ---- the test scripts --------------------------------------------------------------------------

    def accuracy(self, inputs: list[bytes]) -> list[tuple[float, ...]]:
        """tests_accuracy.yaml: per input, download and `infer 1 0`."""
        out = []
        for data in inputs:
            self.load(data)
            out.append(self.infer(1, 0).results)
        return out

    def performance(self, inputs: list[bytes], iterations: int, warmups: int,
                    windows: int = PERFORMANCE_WINDOWS) -> Performance:
        """tests_performance.yaml: `loop 5`, each a download of the next input and `infer N W`."""
        started = time.time()
        done = []
        for index in range(windows):
            self.load(inputs[index % len(inputs)])
            done.append(self.infer(iterations, warmups))
        return Performance(tuple(done), time.time() - started)


def _bracketed(lines: list[str], prefix: str) -> str | None:
    for line in lines:
        if line.startswith(prefix + "[") and line.endswith("]"):
            return line[len(prefix) + 1:-1]
    return None


# ---- scoring (main.py) -------------------------------------------------------------------------------

def normalize(scores: tuple[float, ...]) -> list[float]:
    """A vector of several values divided by its sum; one value (ad01) stays as it is."""
    if len(scores) == 1:
        return list(scores)
    total = sum(scores)
    return [s / total for s in scores]


def segments(data: bytes, bytes_to_send: int, stride: int) -> list[bytes]:
    """An ad01 file as the runner downloads it: windows of `bytes_to_send` bytes every `stride` bytes."""
    return [data[start:start + bytes_to_send] for start in range(0, len(data) - bytes_to_send + 1, stride)]


def file_prediction(results: list[tuple[float, ...]]) -> np.ndarray:
    """The mean of a file's normalized result vectors (all its segments for ad01)."""
    return np.mean([normalize(r) for r in results], axis=0)


def top1(predictions: list[np.ndarray], labels: list[int]) -> float:
    return 100.0 * float(np.mean([int(np.argmax(p)) == label for p, label in zip(predictions, labels)]))


def auc(scores: list[float], labels: list[int]) -> float:
    """Area under the ROC curve of anomaly scores (label 1 = anomalous), ties counted half."""
    positive = [s for s, label in zip(scores, labels) if label == 1]
    negative = [s for s, label in zip(scores, labels) if label == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return wins / (len(positive) * len(negative))
