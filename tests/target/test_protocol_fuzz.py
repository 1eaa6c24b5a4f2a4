"""Hostile input on the device side: seeded random commands (garbage bytes, overlong lines, `db` with wrong
lengths and digits, `infer` with wild counts, known commands with extra words) sent in batches. Every
command must get exactly one `m-ready`, the firmware must never hang, and afterwards a normal inference must
still be bit-exact."""

import random

import pytest

from target_support import FAKE_INPUT_BYTES, fake_reference
from toolchain.harness.protocol import DeviceClient

pytestmark = pytest.mark.qemu

BATCH = 250
NUMBERS = ("0", "1", "2", "16", "15", "17", "-1", "00", "x", "1e3", "4294967295", "4294967296", "100000",
           "100001", "99999999999999999999", "")
WORDS = ("name", "profile", "help", "timestamp", "results", "db", "load", "print", "infer", "munify", "info",
         "trace", "off", "ticks", "tensors", "m-ready", "%%", "  ", "\r\n")


def _garbage(rng: random.Random) -> str:
    return "".join(chr(rng.choice([b for b in range(256) if b != ord("%")])) for _ in range(rng.randrange(40)))


def _hex(rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789abcdefABCDEF") for _ in range(rng.choice((0, 1, 2, 31, 32, 33, 40))))
    return digits if rng.random() < 0.8 else digits + rng.choice("gz- ")


def random_command(rng: random.Random) -> str:
    """One command without its '%'; never 'munify exit' (which would end the run on purpose)."""
    return _random_command(rng).replace("%", "")


def _random_command(rng: random.Random) -> str:
    kind = rng.randrange(8)
    if kind == 0:
        return _garbage(rng)
    if kind == 1:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 11)))
    if kind == 2:
        return f"db load {rng.choice(NUMBERS)}"
    if kind == 3:
        return f"db {_hex(rng)}"
    if kind == 4:
        return f"infer {rng.choice(NUMBERS)} {rng.choice(NUMBERS)}".rstrip()
    if kind == 5:
        return f"{rng.choice(('name', 'profile', 'help', 'timestamp', 'results', 'db print'))} {rng.choice(WORDS)}"
    if kind == 6:
        return f"munify {rng.choice(('info', 'trace', 'trace ' + rng.choice(WORDS), ''))}"
    return rng.choice("abz ") * rng.randrange(81, 200)


def fuzz(device, count: int, seed: int) -> None:
    rng = random.Random(seed)
    for start in range(0, count, BATCH):
        # A long `infer` stops at the next byte; the last command of a batch has none after it, so it is 'name'.
        batch = [random_command(rng) for _ in range(min(BATCH, count - start) - 1)] + ["name"]
        device.transport.write("".join(command + "%" for command in batch).encode("latin-1"))
        replies = [device.transport.read_until("m-ready", 30) for _ in batch]
        # One m-ready per command: a missing one would stall the read above, an extra one would leave a
        # reply behind, which the next batch's closing 'name' would then not get as its own.
        assert replies[-1][-2:] == ["m-name-dut-[munify]", "m-ready"], replies[-3:]


def assert_still_bit_exact(device) -> None:
    client = DeviceClient(device.transport, timeout=20)
    assert client.command("name").lines == ("m-name-dut-[munify]", "m-ready")  # no reply left over
    data = bytes((5 * i + 3) & 0xFF for i in range(FAKE_INPUT_BYTES))
    client.load(data)
    assert client.infer(1, 0).output == fake_reference(data)[1]


def test_ten_thousand_random_commands_leave_the_firmware_answering_bit_exact(boot):
    """Under qemu-aarch64 (the protocol code is the same C as on the MCUs; its pipe is fast)."""
    device = boot("aarch64-linux")
    fuzz(device, 10_000, seed=1)
    assert_still_bit_exact(device)


def test_random_commands_over_the_cortex_m_uart(boot):
    device = boot("mps2-an386")
    fuzz(device, 500, seed=2)
    assert_still_bit_exact(device)
