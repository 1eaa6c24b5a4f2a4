"""A firmware on its line, checked case by case: each input is loaded with the device protocol, its output
(and, for cases that carry them, every layer's output) compared bit for bit with what the case expects, and
the latency and per-layer ticks converted to the runner's unit by `count(ticks, tick_hz)`. Under QEMU
`-icount shift=0` one instruction takes exactly 1 ns of virtual time, so ticks become retired instructions:
instructions = ticks * 1e9 / tick_hz (40 per tick at 25 MHz). Real boards report core cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..report import Mismatch
from .protocol import DeviceClient, DeviceInfo, Inference
from .transport import DeviceError, LineTransport

COMMAND_TIMEOUT = 300.0


@dataclass(frozen=True)
class Case:
    """One input with the outputs the device must produce: the model output and, optionally, per-layer tensors
    keyed by firmware layer index."""

    data: bytes
    output: bytes
    layers: dict[int, tuple[str, bytes]]  # layer index -> (IR tensor name, expected bytes)


def _first_mismatch(index: int, tensor: str, layer: str | None, expected: bytes, got: bytes) -> Mismatch | None:
    if len(expected) != len(got):
        raise DeviceError(f"{'layer ' + repr(layer) if layer else 'the output'}: the device sent {len(got)} bytes, "
                          f"the reference has {len(expected)}; the firmware and the model disagree, rebuild")
    want = np.frombuffer(expected, np.int8)
    have = np.frombuffer(got, np.int8)
    if np.array_equal(want, have):
        return None
    diff = np.flatnonzero(want != have)
    first = int(diff[0])
    return Mismatch(index, tensor, layer, first, int(want[first]), int(have[first]), int(diff.size))


class Session:
    """A running firmware and the checks made against it."""

    def __init__(self, client: DeviceClient, info: DeviceInfo, count: Callable[[int, int], int]):
        self.client = client
        self.info = info
        self.names = [name for name, _ in info.layers]
        self.count = count  # (ticks, tick_hz) -> the runner's time unit
        self.mismatches: list[Mismatch] = []
        self.latencies: list[int] = []

    def check_case(self, index: int, case: Case) -> Inference:
        self.client.load(self.info.encode_input(case.data))
        result = self.client.infer(1, 0)
        self.latencies.append(self.count(result.ticks_sum, result.tick_hz))
        found = _first_mismatch(index, "output", None, case.output, result.output)
        if found:
            self.mismatches.append(found)
        if case.layers:
            self._check_layers(index, case)
        return result

    def _check_layers(self, index: int, case: Case) -> None:
        self.client.trace("tensors")
        try:
            traced = self.client.infer(1, 0)
        finally:
            self.client.trace("off")
        for layer in sorted(case.layers):
            tensor, expected = case.layers[layer]
            if layer not in traced.tensors:
                raise DeviceError(f"the firmware did not report layer {layer} ('{self.names[layer]}')")
            found = _first_mismatch(index, tensor, self.names[layer], expected, traced.tensors[layer])
            if found:
                self.mismatches.append(found)
                return  # the first differing layer is the one to look at

    def layer_instructions(self) -> list[int]:
        """Per-layer instruction counts of one more inference of the last loaded input."""
        self.client.trace("ticks")
        try:
            traced = self.client.infer(1, 0)
        finally:
            self.client.trace("off")
        return [self.count(t, traced.tick_hz) for t in traced.layer_ticks]


def _check_info(info: DeviceInfo, cases: list[Case]) -> None:
    if cases and (len(cases[0].data) != info.input_bytes or len(cases[0].output) != info.output_bytes):
        raise DeviceError(f"the firmware's model takes {info.input_bytes} and returns {info.output_bytes} bytes, "
                          f"the reference {len(cases[0].data)} and {len(cases[0].output)}; rebuild the firmware")


@dataclass(frozen=True)
class SessionResult:
    """What one session on a firmware found."""

    info: DeviceInfo
    cases: int
    mismatches: tuple[Mismatch, ...]
    latencies: tuple[int, ...]  # per case, in the runner's unit
    layer_counts: tuple[int, ...]  # per firmware layer, one more inference of the last case
    stack_used: int


def run_session(transport: LineTransport, make_cases: Callable[[DeviceInfo], list[Case]],
                count: Callable[[int, int], int], booted: bool) -> SessionResult:
    """Find the command boundary (the boot banner when `booted`, else a sync), run the cases `make_cases` derives
    from the firmware's own description, and tell the firmware to exit with status 0."""
    client = DeviceClient(transport, timeout=COMMAND_TIMEOUT)
    if booted:
        client.wait_ready()
    else:
        client.sync()
    info = client.info()
    cases = make_cases(info)
    _check_info(info, cases)
    session = Session(client, info, count)
    for index, case in enumerate(cases):
        session.check_case(index, case)
    counts = session.layer_instructions() if cases else []
    stack_used = client.info().stack_used
    client.exit(0)
    return SessionResult(info, len(cases), tuple(session.mismatches), tuple(session.latencies), tuple(counts),
                         stack_used)
