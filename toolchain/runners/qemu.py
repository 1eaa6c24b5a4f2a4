"""Run firmware under QEMU.

`QemuSystemRunner` (run.runner = "qemu-system"): qemu-system-arm with the UART on a local TCP socket,
`-icount shift=0` (one instruction = 1 ns of virtual time, so timing is deterministic and counts instructions)
and semihosting (the firmware's exit status becomes QEMU's). Its MLPerf mode (`mlperf=True`) serves the
MLCommons Tiny runner instead: the UART on a pseudo-terminal (`-serial pty`, a serial port as pyserial opens
one) and `-icount shift=S,align=on,sleep=on`, 2^S ns per instruction with S the nearest to the board's rated
clock, and guest time held to host time, so the runner's 10-second windows last 10 seconds (docs/PROTOCOL.md).

`QemuUserRunner` (run.runner = "qemu-user"): a Linux user-mode firmware under qemu-aarch64, speaking the
protocol over stdin/stdout. User mode has no icount: its ticks are host nanoseconds.

`count_exactly()` before start adds the instruction-count plugin (runners/insn_count.py): exact instructions
per inference and per layer for both runners, read with `exact_counts()` once QEMU has exited.

QEMU always runs in its own process group, killed with that group on any error, timeout or Ctrl-C, so no
orphan QEMU outlives a run.
"""

from __future__ import annotations

import abc
import ctypes
import math
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SetupError
from ..harness.transport import DeviceError, LineTransport, PipeTransport, SerialTransport
from ..process import end_process_group, format_command, log
from .base import Runner
from .insn_count import ExactCounts, InsnCounter, exact_counts, exact_counts_for

if TYPE_CHECKING:
    from ..boards import Board

CONNECT_TIMEOUT = 60.0  # a loaded machine can take many seconds to start QEMU
PORT_ATTEMPTS = 5
EXIT_TIMEOUT = 10.0
LISTENING_MESSAGE = "waiting for connection"  # QEMU's note on stderr once a wait=on server socket listens
PTY_MESSAGE = re.compile(r"char device redirected to (/dev/\S+) \(label serial0\)")
NS_PER_SECOND = 1_000_000_000
EXACT_ICOUNT = "shift=0,align=off,sleep=off"
MAX_ICOUNT_SHIFT = 10  # QEMU's limit
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: on Linux, QEMU gets SIGKILL if munify itself is killed (even by SIGKILL),
    where no finally block can run."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mlperf_icount_shift(board: Board) -> int:
    """The icount shift whose 2^S ns per instruction is nearest the board's rated clock period (in log
    scale): 5, i.e. 32 ns or 31.25 MHz, for the 25 MHz MPS2 and the 32 MHz MPS3 images."""
    period_ns = NS_PER_SECOND / board.clock_hz
    return min(MAX_ICOUNT_SHIFT, max(0, round(math.log2(period_ns))))


def icount_option(board: Board, mlperf: bool = False) -> str:
    return f"shift={mlperf_icount_shift(board)},align=on,sleep=on" if mlperf else EXACT_ICOUNT


def qemu_command(board: Board, elf: Path, port: int = 0, mlperf: bool = False, serial: str | None = None) -> list[str]:
    """`serial`: QEMU's -serial for a program that only prints (e.g. "stdio"); default the protocol's line."""
    qemu = board.qemu
    serial = serial or ("pty" if mlperf else f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on")
    return [qemu.binary, "-M", qemu.machine, "-cpu", qemu.cpu, "-nographic", "-monitor", "none",
            "-icount", icount_option(board, mlperf),
            "-semihosting-config", "enable=on,target=native",
            "-serial", serial,
            *qemu.args, "-kernel", str(elf)]


def qemu_user_command(board: Board, elf: Path, options: list[str] = ()) -> list[str]:
    """`options` go before the program: everything after it is the program's own argv."""
    qemu = board.qemu
    return [qemu.binary, *(["-cpu", qemu.cpu] if qemu.cpu else []), *qemu.args, *options, str(elf)]


def _note(message: str) -> None:
    print(message, file=sys.stderr)


class QemuProcess(Runner):
    """A QEMU process in its own process group: launch, exit status, guaranteed kill."""

    time_unit = "instructions"
    boots_on_start = True  # the firmware's banner follows start()
    counts_instructions = True

    def __init__(self, board: Board, elf: Path):
        super().__init__(board, elf)
        self.process: subprocess.Popen | None = None
        self.transport: LineTransport | None = None
        self.counter: InsnCounter | None = None

    # ---- exact instruction counts (the TCG plugin) ----

    def count_exactly(self, note=_note) -> bool:
        """Run the next start() with the instruction-count plugin; False, after one `note` line, when this
        QEMU cannot load plugins (the run then goes on without exact counts)."""
        self.counter = exact_counts_for(self.elf, self.board, self.plugin_probe(), note)
        return self.counter is not None

    @abc.abstractmethod
    def plugin_probe(self) -> list[str]:
        """QEMU arguments of a run that ends right after QEMU loaded its plugins."""

    def plugin_options(self) -> list[str]:
        return self.counter.qemu_args() if self.counter else []

    def exact_counts(self, n_layers: int) -> ExactCounts | None:
        """After wait_exit(): the plugin's counts of the run (None without the plugin)."""
        return exact_counts(self.counter.result(), n_layers) if self.counter else None

    @staticmethod
    def count(ticks: int, tick_hz: int) -> int:
        """Ticks as nanoseconds of the guest clock: retired instructions under icount."""
        return round(ticks * NS_PER_SECOND / tick_hz)

    @abc.abstractmethod
    def start(self) -> LineTransport:
        """Launch QEMU and return the firmware's line."""

    def _launch(self, cmd: list[str], stdin=subprocess.DEVNULL) -> None:
        log.info("run: %s", format_command(cmd))
        try:
            self.process = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            start_new_session=True, preexec_fn=_die_with_parent)
        except FileNotFoundError:
            raise SetupError(f"'{cmd[0]}' not found; install QEMU (see README: make setup)") from None

    def wait_exit(self, timeout: float = EXIT_TIMEOUT) -> int:
        """The firmware's exit status, once it has stopped."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"QEMU did not exit within {timeout:.0f} s after the firmware was told to stop") \
                from None

    def exit_status(self) -> int | None:
        """QEMU's exit status if it has already stopped (the firmware exited or crashed), else None."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return None

    def _kill(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            end_process_group(process)

    def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        self._kill()
        if self.counter is not None:
            self.counter.close()


class QemuSystemRunner(QemuProcess):
    def __init__(self, board: Board, elf: Path, mlperf: bool = False):
        super().__init__(board, elf)
        self.port: int | None = None
        self.pty: str | None = None
        self.mlperf = mlperf
        self._stderr_seen = ""
        if mlperf:
            # Under a pty the banner goes out before anyone listens; QEMU drops it, as a board that booted
            # earlier would have. And each instruction lasts 2^S ns.
            self.boots_on_start = False
            self.count = self._count_at_shift

    def _count_at_shift(self, ticks: int, tick_hz: int) -> int:
        return round(ticks * NS_PER_SECOND / tick_hz / 2 ** mlperf_icount_shift(self.board))

    def command(self, port: int = 0) -> list[str]:
        return qemu_command(self.board, self.elf, port, self.mlperf) + self.plugin_options()

    def plugin_probe(self) -> list[str]:
        return ["-M", "none", "-nographic", "-monitor", "none", "-serial", "none",
                "-kernel", "none"]  # machine 'none' refuses -kernel, after the plugins are loaded

    def describe(self) -> list[str]:
        """What start() runs, for --dry-run (the port is picked at start)."""
        if self.mlperf:
            return [format_command(self.command()), "open the pseudo-terminal QEMU names (/dev/pts/N)"]
        text = format_command(self.command(0)).replace("127.0.0.1:0,", "127.0.0.1:<free port>,")
        return [text, "connect socket://127.0.0.1:<free port>"]

    def start(self) -> LineTransport:
        if self.mlperf:
            return self._start_on_pty()
        last_error = ""
        for _ in range(PORT_ATTEMPTS):
            self.port = free_tcp_port()
            self._launch(self.command(self.port))
            if self._wait_until_listening():
                self.transport = self._connect()
                return self.transport
            # Another process took the port between our probe and QEMU's bind: try another one.
            last_error = self._stderr_seen.strip().splitlines()[-1] if self._stderr_seen.strip() else ""
            self._kill()
        raise DeviceError(f"QEMU did not open its serial socket: {last_error or 'no message'}")

    def _read_stderr(self) -> str:
        ready, _, _ = select.select([self.process.stderr], [], [], 0.5)
        return os.read(self.process.stderr.fileno(), 4096).decode(errors="replace") if ready else ""

    def _start_on_pty(self) -> LineTransport:
        self._launch(self.command())
        found = self._wait_for_output(PTY_MESSAGE, self.process.stdout)  # QEMU prints this one on stdout
        if found is None:
            message = (self._stderr_seen + self._read_stderr()).strip().splitlines()[-1:] or ["no message"]
            self._kill()
            raise DeviceError(f"QEMU did not open a pseudo-terminal: {message[0]}")
        self.pty = found.group(1)
        self.transport = SerialTransport(self.pty)
        return self.transport

    def _wait_for_output(self, pattern: re.Pattern, stream) -> re.Match | None:
        """The match of `pattern` in what QEMU writes to `stream`, or None if QEMU exits first."""
        started = time.monotonic()
        self._stderr_seen = ""
        while time.monotonic() < started + CONNECT_TIMEOUT:
            ready, _, _ = select.select([stream], [], [], 0.1)
            if not ready:
                continue
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                return None
            self._stderr_seen += chunk.decode(errors="replace")
            found = pattern.search(self._stderr_seen)
            if found:
                return found
        raise DeviceError(f"QEMU did not report its serial line within {CONNECT_TIMEOUT:.0f} s")

    def _wait_until_listening(self) -> bool:
        """True once QEMU reports that it waits for the serial connection, False if it exits first.

        Only after that message is the port certainly QEMU's: connecting earlier could reach another
        program that grabbed the port (even another QEMU, whose one connection we would then steal), while
        this QEMU is still starting and about to fail its bind."""
        try:
            return self._wait_for_output(re.compile(re.escape(LISTENING_MESSAGE)), self.process.stderr) is not None
        except DeviceError:
            raise DeviceError(f"QEMU did not report listening on 127.0.0.1:{self.port} within "
                              f"{CONNECT_TIMEOUT:.0f} s (expected '{LISTENING_MESSAGE}' on its stderr; QEMU >= 7 "
                              "prints it)") from None

    def _connect(self) -> SerialTransport:
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while True:
            try:
                return SerialTransport(f"socket://127.0.0.1:{self.port}")
            except DeviceError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.05)


class QemuUserRunner(QemuProcess):
    time_unit = "ns"

    def command(self) -> list[str]:
        return qemu_user_command(self.board, self.elf, self.plugin_options())

    def plugin_probe(self) -> list[str]:
        return qemu_user_command(self.board, self.elf)[1:]  # the firmware itself: it exits at the end of stdin

    def describe(self) -> list[str]:
        return [format_command(self.command()) + "   (protocol on stdin/stdout)"]

    def start(self) -> LineTransport:
        self._launch(self.command(), stdin=subprocess.PIPE)
        self.transport = PipeTransport(self.process)
        return self.transport
