"""The MLPerf Tiny side of a build: which benchmark a model is (its model id), how the MLCommons runner's
datasets encode its input, and what the firmware's `m-results-[...]` line carries (docs/PROTOCOL.md).

The runner (mlcommons/tiny, benchmark/runner) picks its test script by the id in `m-model-[...]`, sends the
dataset's bytes with `db`, and scores `m-results` as the reference firmware prints them: dequantized scores
that it divides by their sum (kws01, ic01, vww01), or one anomaly score (ad01: the reconstruction's mean
squared error, higher is more anomalous).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..codegen.names import c_string
from ..errors import MunifyError

PROFILE_HEADER = "mlperf_profile.h"
ENCODINGS = ("int8", "uint8", "float32")  # the firmware's MUNIFY_ENCODING_* values, in order
RESULTS = ("scores", "reconstruction_error")  # MUNIFY_RESULTS_*
METADATA_KEY = "mlperf_model_id"

# The shipped MLPerf Tiny models (examples/models/mlperf-tiny), by the sha256 of their .tflite and by name.
KNOWN_SHA256 = {
    "aeea436800704fce17b17292e4412630ad856e9d777c044c64ef748a880bd0ae": "kws01",
    "3c002613d1b2475eb51dd78dfb85a546c8ae658dee71cf6ade43b022fe205415": "ic01",
    "87cf24194ef93d1d9b11a591d805526b98008e351655d29883c825c9c106ba24": "ad01",
}
KNOWN_NAMES = {"kws_ref_model": "kws01", "pretrainedResnet_quant": "ic01", "ad01_int8": "ad01"}
# How each benchmark's dataset stores one input and what its scoring reads (the reference firmware's
# th_load_tensor / th_results).
BENCHMARKS = {
    "kws01": ("int8", "scores"),
    "ic01": ("uint8", "scores"),
    "vww01": ("uint8", "scores"),
    "ad01": ("float32", "reconstruction_error"),
}
_MODEL_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class ModelIdError(MunifyError):
    """A model id the firmware cannot carry."""


def check_model_id(model_id: str) -> str:
    if not _MODEL_ID.fullmatch(model_id):
        raise ModelIdError(f"model id {model_id!r} is not 1 to 32 letters, digits, '_', '.' or '-'; "
                           f"use an MLPerf Tiny id ({', '.join(BENCHMARKS)}) or a name of your own")
    return model_id


def model_id_of(graph, requested: str | None = None) -> str:
    """`requested`, else the id stored in the IR metadata, else the id of a known MLPerf Tiny model (by the
    hash of its source .tflite, then by name), else the graph's name."""
    if requested:
        return check_model_id(requested)
    metadata = graph.metadata or {}
    stored = metadata.get(METADATA_KEY)
    if stored:
        return check_model_id(str(stored))
    known = KNOWN_SHA256.get(str(metadata.get("source_sha256", ""))) or KNOWN_NAMES.get(graph.name)
    return known or (graph.name if _MODEL_ID.fullmatch(graph.name) else "munify_model")


@dataclass(frozen=True)
class Profile:
    """What the firmware needs to speak one benchmark: written into mlperf_profile.h by the build."""

    model_id: str
    encoding: str = "int8"
    scoring: str = "scores"
    input_scale: float = 1.0
    input_zero_point: int = 0
    output_scale: float = 1.0
    output_zero_point: int = 0
    input_size: int = 0

    def header(self) -> str:
        """mlperf_profile.h: deterministic, scales as exact C hex float literals."""
        return "\n".join([
            "/* The MLPerf Tiny profile of this build, written by munify build (docs/PROTOCOL.md). */",
            "#ifndef MUNIFY_MLPERF_PROFILE_H",
            "#define MUNIFY_MLPERF_PROFILE_H",
            "",
            f"#define MUNIFY_MLPERF_MODEL_ID {c_string(check_model_id(self.model_id))}",
            f"#define MUNIFY_INPUT_ENCODING {ENCODINGS.index(self.encoding)} /* {self.encoding} */",
            f"#define MUNIFY_RESULTS {RESULTS.index(self.scoring)} /* {self.scoring} */",
            f"#define MUNIFY_INPUT_SCALE {_c_float(self.input_scale)}",
            f"#define MUNIFY_INPUT_ZERO_POINT ({self.input_zero_point})",
            f"#define MUNIFY_OUTPUT_SCALE {_c_float(self.output_scale)}",
            f"#define MUNIFY_OUTPUT_ZERO_POINT ({self.output_zero_point})",
            "",
            "#endif",
            ""])

    # ---- the host's view of the same conversions ------------------------------------------------------

    def encode(self, tensor: bytes) -> bytes:
        """An int8 input tensor as the benchmark's dataset stores it (what `db` then carries)."""
        q = np.frombuffer(tensor, np.int8)
        if self.encoding == "uint8":
            return (q.astype(np.int16) + 128).astype(np.uint8).tobytes()
        if self.encoding == "float32":
            return self.dequantize_input(q).astype("<f4").tobytes()
        return q.tobytes()

    def decode(self, wire: bytes) -> np.ndarray:
        """What the firmware makes of the dataset's bytes: the int8 input tensor."""
        if self.encoding == "uint8":
            return (np.frombuffer(wire, np.uint8).astype(np.int16) - 128).astype(np.int8)
        if self.encoding == "float32":
            scaled = np.frombuffer(wire, "<f4").astype(np.float32) / np.float32(self.input_scale)
            scaled = np.nan_to_num(scaled, nan=0.0).clip(-1024, 1024).astype(np.float64)
            rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)  # half away from zero, as roundf
            return (rounded + self.input_zero_point).clip(-128, 127).astype(np.int8)
        return np.frombuffer(wire, np.int8).copy()

    def dequantize_input(self, q: np.ndarray) -> np.ndarray:
        return ((q.astype(np.int32) - self.input_zero_point).astype(np.float32) * np.float32(self.input_scale))

    def results(self, wire: bytes, output: bytes) -> list[float]:
        """The values the firmware prints in m-results-[...] for this input and output (float32 math)."""
        out = ((np.frombuffer(output, np.int8).astype(np.int32) - self.output_zero_point).astype(np.float32)
               * np.float32(self.output_scale))
        if self.scoring == "scores":
            return [float(v) for v in out]
        if self.encoding == "float32":
            x = np.frombuffer(wire, "<f4").astype(np.float32)
        else:
            x = self.dequantize_input(self.decode(wire))
        return [float(np.mean(np.square(out - x, dtype=np.float32), dtype=np.float32))]


def _c_float(value: float) -> str:
    return float(np.float32(value)).hex() + "f"


def _per_tensor(tensor, role: str) -> tuple[float, int]:
    quant = tensor.quant
    if quant is None:
        return 1.0, 0
    if quant.scale.size != 1:
        raise ModelIdError(f"the model's {role} '{tensor.name}' is quantized per channel; the firmware's "
                           "MLPerf results need one scale and zero point")
    return float(quant.scale[0]), int(quant.zero_point[0])


def profile_of(graph, requested_id: str | None = None) -> Profile:
    """The profile of a one-input, one-output IR graph."""
    model_id = model_id_of(graph, requested_id)
    encoding, scoring = BENCHMARKS.get(model_id, ("int8", "scores"))
    source, sink = graph.tensor(graph.inputs[0]), graph.tensor(graph.outputs[0])
    input_scale, input_zero_point = _per_tensor(source, "input")
    output_scale, output_zero_point = _per_tensor(sink, "output")
    input_size = int(np.prod(source.shape))
    if scoring == "reconstruction_error" and int(np.prod(sink.shape)) != input_size:
        raise ModelIdError(f"model id '{model_id}' scores the reconstruction of the input, but the model maps "
                           f"{input_size} inputs to {int(np.prod(sink.shape))} outputs; choose another --model-id")
    return Profile(model_id, encoding, scoring, input_scale, input_zero_point, output_scale, output_zero_point,
                   input_size)


def default_profile(model_name: str) -> Profile:
    """For ready-made model sources without a graph (test fixtures): int8 in, outputs as they are."""
    return Profile(model_name if _MODEL_ID.fullmatch(model_name) else "munify_model")
