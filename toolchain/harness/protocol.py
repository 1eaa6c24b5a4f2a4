"""Client of the device-under-test protocol (docs/PROTOCOL.md): MLPerf Tiny / EEMBC commands plus the
munify extensions. Every command is answered by lines ending in "m-ready"; "e-" lines are errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .mlperf import Profile
from .transport import DeviceError, LineTransport

READY = "m-ready"
COMMAND_MAX = 80
# The longest silence between two reply lines: the firmware prints while it works, except inside an infer
# window (`infer 1 0` here: one inference) and its warm-ups.
REPLY_TIMEOUT = 20.0
DB_CHUNK_BYTES = (COMMAND_MAX - len("db ")) // 2
TRACE_MODES = ("off", "ticks", "tensors")

_LAYER = re.compile(r"^m-munify-layer-(\d+)-\[(.*)\]-\[(.*)\]$")
_TENSOR = re.compile(r"^m-munify-tensor-(\d+)-\[([0-9a-f]*)\]$")
_BRACKET = re.compile(r"^(m-[a-z-]+?)-?\[(.*)\]$")
_NUMBER = re.compile(r"^(m-[a-z-]+?)-(\d+)$")


@dataclass(frozen=True)
class Reply:
    command: str
    lines: tuple[str, ...]

    @property
    def errors(self) -> list[str]:
        return [line for line in self.lines if line.startswith("e-")]

    def numbers(self) -> dict[str, int]:
        """`m-key-123` lines as {"m-key": 123}; repeated keys keep the last value."""
        return {m.group(1): int(m.group(2)) for m in map(_NUMBER.match, self.lines) if m}

    def all_numbers(self, key: str) -> list[int]:
        return [int(m.group(2)) for m in map(_NUMBER.match, self.lines) if m and m.group(1) == key]

    def bracketed(self) -> dict[str, str]:
        """`m-key-[text]` lines as {"m-key": "text"}."""
        return {m.group(1): m.group(2) for m in map(_BRACKET.match, self.lines) if m}


@dataclass(frozen=True)
class DeviceInfo:
    model: str
    input_bytes: int
    output_bytes: int
    arena_bytes: int
    stack_bytes: int
    stack_used: int
    tick_hz: int
    layers: tuple[tuple[str, str], ...]  # (name, kernel)
    model_id: str = ""
    input_encoding: str = "int8"  # of the MLPerf dataset, see harness.mlperf

    def encode_input(self, tensor: bytes) -> bytes:
        """The int8 input tensor as `db` takes it: as is, except where the dataset stores uint8 values."""
        return Profile(self.model_id, self.input_encoding).encode(tensor) if self.input_encoding == "uint8" \
            else tensor


@dataclass(frozen=True)
class Inference:
    output: bytes
    ticks_min: int
    ticks_max: int
    ticks_sum: int
    tick_hz: int
    lap_us: tuple[int, ...]
    layer_ticks: tuple[int, ...] = ()
    tensors: dict[int, bytes] = field(default_factory=dict)


class DeviceClient:
    def __init__(self, transport: LineTransport, timeout: float = 60.0, reply_timeout: float = REPLY_TIMEOUT):
        self.transport = transport
        self.timeout = timeout
        self.reply_timeout = reply_timeout

    def wait_ready(self) -> list[str]:
        """The boot banner, up to the first m-ready."""
        return self.transport.read_until(READY, self.timeout, self.reply_timeout)

    def sync(self, replies: int = 4) -> None:
        """Find the command boundary on a line that may hold stale output (the banner of a board that booted
        earlier, a half-sent command): end any partial command, ask for the name, and skip every reply up to
        the one that carries it."""
        self.transport.write(b"%name%")
        for _ in range(replies):
            lines = self.transport.read_until(READY, self.timeout, self.reply_timeout)
            if any(line.startswith("m-name-dut-") for line in lines):
                return
        raise DeviceError("no answer to 'name'; is munify firmware on this line?")

    def raw(self, command: str, timeout: float | None = None) -> Reply:
        """Send one command (without its '%') and return every reply line, errors included. Each line must
        come within `reply_timeout` s of the previous one, or within `timeout` when one is given: a command
        the caller expects to run silently for long (a big `infer`)."""
        self.transport.write(command.encode("ascii", "replace") + b"%")
        line_timeout = self.reply_timeout if timeout is None else timeout
        lines = self.transport.read_until(READY, timeout or self.timeout, line_timeout)
        return Reply(command, tuple(lines))

    def command(self, command: str, timeout: float | None = None) -> Reply:
        """Like `raw`, but an e- reply raises DeviceError."""
        if len(command) > COMMAND_MAX:
            raise DeviceError(f"command longer than {COMMAND_MAX} characters: {command[:40]}...")
        reply = self.raw(command, timeout)
        if reply.errors:
            raise DeviceError(f"device refused '{command[:40]}': {reply.errors[0]}")
        return reply

    def name(self) -> str:
        return self.command("name").bracketed()["m-name-dut"]

    def profile(self) -> dict[str, str]:
        return self.command("profile").bracketed()

    def info(self) -> DeviceInfo:
        reply = self.command("munify info")
        numbers = reply.numbers()
        layers = tuple((m.group(2), m.group(3)) for m in map(_LAYER.match, reply.lines) if m)
        bracketed = reply.bracketed()
        try:
            return DeviceInfo(bracketed["m-munify-model"], numbers["m-munify-input-bytes"],
                              numbers["m-munify-output-bytes"], numbers["m-munify-arena-bytes"],
                              numbers["m-munify-stack-bytes"], numbers["m-munify-stack-used"],
                              numbers["m-munify-tick-hz"], layers, bracketed["m-munify-model-id"],
                              bracketed["m-munify-input-encoding"])
        except KeyError as exc:
            raise DeviceError(f"'munify info' reply lacks {exc.args[0]}; is this munify firmware?") from None

    def load(self, data: bytes) -> None:
        """Load bytes (the input in the firmware's encoding, see DeviceInfo.encode_input) with 'db load N' and
        hex chunks, as the MLCommons runner does."""
        self.command(f"db load {len(data)}")
        reply = None
        for start in range(0, len(data), DB_CHUNK_BYTES):
            reply = self.command(f"db {data[start:start + DB_CHUNK_BYTES].hex()}")
        if reply is None or "m-load-done" not in reply.lines:
            raise DeviceError("the device did not confirm the input load (no m-load-done)")

    def trace(self, mode: str) -> None:
        if mode not in TRACE_MODES:
            raise ValueError(f"trace mode must be one of {TRACE_MODES}")
        self.command(f"munify trace {mode}")

    def infer(self, count: int = 1, warmups: int = 0, timeout: float | None = None) -> Inference:
        reply = self.command(f"infer {count} {warmups}", timeout)
        numbers = reply.numbers()
        bracketed = reply.bracketed()
        try:
            output = bytes.fromhex(bracketed["m-munify-output"])
            layer_ticks = tuple(int(t) for t in bracketed.get("m-munify-layer-ticks", "").split(",") if t)
            tensors = {int(m.group(1)): bytes.fromhex(m.group(2)) for m in map(_TENSOR.match, reply.lines) if m}
            return Inference(output, numbers["m-munify-ticks-min"], numbers["m-munify-ticks-max"],
                             numbers["m-munify-ticks-sum"], numbers["m-munify-tick-hz"],
                             tuple(reply.all_numbers("m-lap-us")), layer_ticks, tensors)
        except (KeyError, ValueError) as exc:
            raise DeviceError(f"incomplete reply to 'infer' ({exc}); lines: {list(reply.lines)[:6]}") from None

    def exit(self, status: int = 0) -> None:
        """Ask the firmware to stop; under QEMU this ends the emulator with `status`."""
        self.transport.write(f"munify exit {status}%".encode())

