"""The device protocol against the fake-model firmware under QEMU: every command, its exact EEMBC reply
strings, the munify extensions, and errors for garbage, overlong commands and wrong lengths (never a hang)."""

import os
import re
import shutil
import signal
import time

import pytest

from target_support import FAKE_INPUT_BYTES, FAKE_MODEL, SPIN_INSTRUCTIONS, Device, fake_reference
from toolchain.boards import load_board
from toolchain.build import build_sources
from toolchain.harness.mlperf import default_profile
from toolchain.harness.protocol import DeviceClient
from toolchain.harness.transport import DeviceError
from toolchain.runners.qemu import QemuSystemRunner

pytestmark = pytest.mark.qemu

INPUT = bytes((7 * i - 50) & 0xFF for i in range(FAKE_INPUT_BYTES))


def load(device, data=INPUT):
    device.client.load(data)


def only_error(reply):
    assert reply.lines[-1] == "m-ready"
    assert len(reply.errors) == 1, reply.lines
    return reply.errors[0]


def test_boot_banner(device):
    assert device.banner == ["m-timestamp-mode-performance", "m-init-done", "m-ready"]


def test_mlcommons_runner_patterns(device):
    """The regular expressions of the MLCommons tiny runner (benchmark/runner/device_under_test.py)."""
    name = device.client.command("name")
    assert any(re.match(r"^m-(name)-dut-\[([^]]+)]$", line) for line in name.lines)
    profile = device.client.command("profile")
    matches = [re.match(r"^m-(model|profile)-\[([^]]+)]$", line) for line in profile.lines]
    assert {m.group(1): m.group(2) for m in matches if m} == {"profile": "ULPMark for tinyML Firmware V0.0.1",
                                                              "model": "fake"}
    # The runner loads 31 bytes per 'db' command and then sends 'infer N W'.
    assert device.client.command(f"db load {len(INPUT)}").lines[0] == f"m-[Expecting {len(INPUT)} bytes]"
    replies = [device.client.command(f"db {INPUT[i:i + 31].hex()}") for i in range(0, len(INPUT), 31)]
    assert "m-load-done" in replies[-1].lines
    infer = device.client.command("infer 2 1")
    lines = list(infer.lines)
    assert lines[:3] == ["m-warmup-start-1", "m-warmup-done", "m-infer-start-2"]
    laps = [int(m.group(1)) for m in map(re.compile(r"^m-lap-us-([0-9]+)$").match, lines) if m]
    assert len(laps) == 2 and laps[1] >= laps[0]
    assert "m-infer-done" in lines
    results = next(re.match(r"^m-results-\[([^]]+)\]$", line) for line in lines if line.startswith("m-results-"))
    values = [float(v) for v in results.group(1).split(",")]
    assert values == [float(v) for v in __import__("numpy").frombuffer(fake_reference(INPUT)[1], "int8")]
    assert lines[-1] == "m-ready"


def test_timestamp_and_help(device):
    stamp = device.client.command("timestamp").lines
    assert re.match(r"^m-lap-us-\d+$", stamp[0]) and stamp[-1] == "m-ready"
    help_text = "\n".join(device.client.command("help").lines)
    for command in ("db load N", "infer N", "results", "munify info", "munify trace", "munify exit"):
        assert command in help_text


def test_inference_is_bit_exact_and_results_repeat(device):
    load(device)
    result = device.client.infer(3, 2)
    assert result.output == fake_reference(INPUT)[1]
    assert result.ticks_min <= result.ticks_max and result.ticks_sum >= 3 * result.ticks_min
    assert result.tick_hz == 25_000_000
    results = device.client.command("results").bracketed()
    assert bytes.fromhex(results["m-munify-output"]) == result.output


def test_db_print_shows_the_loaded_bytes(device):
    load(device)
    lines = [line for line in device.client.command("db print").lines if line.startswith("m-buffer-")]
    shown = bytes.fromhex("".join(line[len("m-buffer-"):].replace("-", "") for line in lines))
    assert shown == INPUT and len(lines) == 2


def test_trace_tensors_reports_every_layer(device):
    load(device)
    device.client.trace("tensors")
    try:
        result = device.client.infer(1, 0)
    finally:
        device.client.trace("off")
    hidden, out = fake_reference(INPUT)
    assert result.tensors == {0: hidden, 1: out}
    assert len(result.layer_ticks) == 2


def test_info_describes_model_memory_and_timer(device):
    info = device.client.info()
    assert (info.model, info.input_bytes, info.output_bytes, info.arena_bytes) == ("fake", 16, 8, 16)
    assert info.layers == (("scale", "fake_scale_fpu"), ("pairdiff", "fake_pairdiff_s8"))
    assert info.tick_hz == 25_000_000
    assert 0 < info.stack_used < info.stack_bytes == 16384


@pytest.mark.parametrize("command, error", [
    ("bogus", "e-[Unknown command: bogus]"),
    ("", "e-[Empty command]"),
    ("db", "e-[Command 'db' requires a subcommand]"),
    ("db load", "e-[Command 'db load' requires the # of bytes]"),
    ("db load 15", "e-[db load: the model input is 16 bytes]"),
    ("db load 99999999999", "e-[Invalid byte count: 99999999999]"),
    ("db load -4", "e-[Invalid byte count: -4]"),
    ("db load 16 16", "e-[Too many arguments; usage: db load N]"),
    ("infer 0", "e-[Inference iterations must be >0]"),
    ("infer x", "e-[Inference iterations must be >0]"),
    ("infer 1 -1", "e-[Inference warmup must be >=0]"),
    ("a b c d e f g h i", "e-[Too many arguments]"),
    ("munify", "e-[Unknown munify subcommand (info, trace, exit): ]"),
    ("munify trace loud", "e-[Unknown trace mode (off, ticks, tensors): loud]"),
    ("munify exit 300", "e-[usage: munify exit [N], 0 <= N <= 255]"),
    ("name x", "e-[Too many arguments; usage: name]"),
    ("profile kws01", "e-[Too many arguments; usage: profile]"),
    ("help me", "e-[Too many arguments; usage: help]"),
    ("timestamp 0", "e-[Too many arguments; usage: timestamp]"),
    ("results 1", "e-[Too many arguments; usage: results]"),
    ("db print 16 0", "e-[Too many arguments; usage: db print]"),
    ("infer 100001", "e-[Inference iterations must be <=100000]"),
    ("infer 1 4294967295", "e-[Inference warmup must be <=100000]"),
    ("infer 4294967296", "e-[Inference iterations must be >0]"),
])
def test_bad_commands_get_one_error_and_ready(device, command, error):
    assert only_error(device.client.raw(command)) == error


def test_db_data_errors(device):
    client = device.client
    client.command("db load 16")
    assert only_error(client.raw("db 0")) == "e-[Odd number of hex digits]"
    assert only_error(client.raw("db zz")) == "e-[Invalid hex digit in zz]"
    client.command("db " + "00" * 10)
    assert only_error(client.raw("db " + "00" * 7)) == "e-[db: data overflows the 16 expected bytes]"
    assert only_error(client.raw("infer 1 0")).startswith("e-[infer: input not loaded (have 10 bytes")
    assert "m-load-done" in client.command("db " + "00" * 6).lines  # the refused chunk left no bytes behind


def test_garbage_and_overlong_commands_never_hang(device):
    client = device.client
    garbage = bytes([0, 1, 0xFF, 0x80, 0x1B]) + b"junk"
    device.transport.write(garbage + b"%")
    lines = device.transport.read_until("m-ready", 10)
    assert lines == ["e-[Unknown command: ?????junk]", "m-ready"]
    assert only_error(client.raw("x" * 81)) == "e-[Command longer than 80 characters]"
    device.transport.write(b"y" * 5000 + b"%")
    assert device.transport.read_until("m-ready", 20) == ["e-[Command longer than 80 characters]", "m-ready"]
    assert only_error(client.raw("z" * 80)) == "e-[Unknown command: " + "z" * 80 + "]"
    assert client.name() == "munify"  # still answering


def test_line_ends_are_ignored(device):
    device.transport.write(b"name\r\n%")
    assert device.transport.read_until("m-ready", 10) == ["m-name-dut-[munify]", "m-ready"]


def test_results_and_infer_before_any_load_are_errors(boot):
    client = boot().client
    assert only_error(client.raw("results")) == "e-[results: no inference has run yet]"
    assert only_error(client.raw("infer")).startswith("e-[infer: input not loaded")
    assert only_error(client.raw("db 00")) == "e-[db: no 'db load N' before the data]"


def test_laps_time_the_inferences_alone_and_repeat_exactly(device):
    """The wait for the tick edge is outside the window: at 1 ns per instruction the laps are the instruction
    count in microseconds (plus the loop's few dozen instructions), the same for every `infer 1 0`."""
    load(device)
    results = [device.client.infer(1, 0) for _ in range(3)]
    windows = {r.lap_us[1] - r.lap_us[0] for r in results}
    assert len(windows) == 1, windows
    instructions = QemuSystemRunner.count(results[0].ticks_sum, results[0].tick_hz)
    assert SPIN_INSTRUCTIONS <= instructions <= windows.pop() * 1000 + 1000 <= instructions + 2000


def test_a_byte_from_the_host_stops_a_long_infer(device):
    load(device)
    started = time.monotonic()
    device.transport.write(b"infer 100000 0%")  # 100,000 x 3 M instructions: minutes
    time.sleep(0.5)
    device.transport.write(b"%")
    lines = device.transport.read_until("m-ready", 20)
    assert lines == ["m-warmup-start-0", "m-warmup-done", "m-infer-start-100000",
                     "e-[infer stopped: the host sent a byte]", "m-ready"]
    assert device.transport.read_until("m-ready", 10) == ["e-[Empty command]", "m-ready"]  # the byte itself
    assert device.client.name() == "munify" and time.monotonic() - started < 10


def test_a_stopped_emulator_is_noticed_within_the_reply_timeout(boot):
    device = boot()
    client = DeviceClient(device.transport, timeout=300, reply_timeout=1.0)
    os.kill(device.runner.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(DeviceError, match="sent no line for 1 s"):
            client.name()
        assert time.monotonic() - started < 5
    finally:
        os.kill(device.runner.process.pid, signal.SIGCONT)


def test_the_32_bit_lap_count_restarts_between_windows_never_inside_one(tmp_path):
    """With the half range shrunk to 8,192 us (a test build; 2^31 us otherwise) the count passes it within a
    few commands: the next window restarts it at 0, and a window longer than it is stopped."""
    half_range = 8192
    model = tmp_path / "fake_model"
    shutil.copytree(FAKE_MODEL, model)
    limit = f"#define MUNIFY_LAP_US_HALF_RANGE {half_range}u\n#endif"
    header = default_profile("fake").header().replace("#endif", limit)
    (model / "mlperf_profile.h").write_text(header)
    device = Device(build_sources(model, load_board("mps2-an386"), tmp_path / "build"))
    try:
        device.client.load(INPUT)
        windows = [device.client.infer(1, 0).lap_us for _ in range(6)]
        assert all(0 <= start < half_range and end - start == 3000 for start, end in windows), windows
        assert any(start == 0 for start, _ in windows), windows  # restarted (the count grows between commands)
        assert only_error(device.client.raw("infer 3 0")) == \
            "e-[infer stopped: the window would outlast the 32-bit lap count; use fewer inferences]"
        assert device.client.name() == "munify"
    finally:
        device.close()
