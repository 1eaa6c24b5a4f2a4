"""The byte line to a device, read as whole "\\r\\n"-terminated lines within a deadline, so a silent or dead
device raises a clear error instead of hanging.

`SerialTransport`: any pyserial URL (a real port such as /dev/ttyACM0, or socket://host:port for QEMU's TCP
serial). `PipeTransport`: the stdin/stdout of a local process (a Linux user-mode firmware under qemu-user).
"""

from __future__ import annotations

import os
import select
import subprocess
import time

import serial

from ..errors import MunifyError

LINE_END = b"\r\n"
POLL_SECONDS = 0.2


class DeviceError(MunifyError):
    """The device misbehaved: no reply in time, the line closed, an unexpected reply or an e- error."""


class ReplyTimeout(DeviceError):
    """No complete line before the deadline."""


class LineTransport:
    """Line reading over `_read_some` (returns b"" when nothing arrived yet); subclasses add the medium."""

    description = "device"

    def __init__(self) -> None:
        self._pending = b""

    def write(self, data: bytes) -> None:
        raise DeviceError(f"{type(self).__name__} cannot write")

    def _read_some(self) -> bytes:
        return b""

    def close(self) -> None:
        """Release the medium; nothing to release by default."""

    def __enter__(self) -> "LineTransport":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read_line(self, deadline: float) -> str:
        """One line without its terminator; DeviceError when the deadline passes first."""
        while LINE_END not in self._pending:
            if time.monotonic() > deadline:
                partial = self._pending.decode("ascii", "replace")[-80:]
                raise ReplyTimeout(f"no reply from the device within the time limit (last bytes: {partial!r})")
            self._pending += self._read_some()
        line, self._pending = self._pending.split(LINE_END, 1)
        return line.decode("ascii", "replace")

    def read_until(self, sentinel: str, timeout: float, line_timeout: float | None = None) -> list[str]:
        """Lines up to and including `sentinel` (e.g. "m-ready"), all within `timeout` seconds and, with
        `line_timeout`, each within that many seconds of the previous one (a stopped device is noticed
        quickly even when the whole reply may take long)."""
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while True:
            line_deadline = deadline if line_timeout is None else min(deadline, time.monotonic() + line_timeout)
            try:
                line = self.read_line(line_deadline)
            except DeviceError as exc:
                if isinstance(exc, ReplyTimeout) and line_deadline < deadline:
                    exc = DeviceError(f"the device sent no line for {line_timeout:g} s (stopped or hung?); {exc}")
                if not lines:
                    raise exc from None
                raise DeviceError(f"{exc}; the device's last line: {lines[-1]!r}") from None
            lines.append(line)
            if line == sentinel:
                return lines


class SerialTransport(LineTransport):
    def __init__(self, url: str, baud: int = 115200):
        super().__init__()
        try:
            self._port = serial.serial_for_url(url, baudrate=baud, timeout=POLL_SECONDS, do_not_open=True)
            # pyserial's open() ends with reset_input_buffer(), which throws away whatever already arrived. A
            # QEMU started with wait=on boots the moment we connect, so on a loaded machine its banner can
            # arrive before open() returns and would be lost: keep it.
            self._port.reset_input_buffer = lambda: None
            self._port.open()
            del self._port.reset_input_buffer
        except (serial.SerialException, ValueError, OSError) as exc:
            raise DeviceError(f"cannot open serial port {url}: {exc}") from None
        self.url = url

    def close(self) -> None:
        self._port.close()

    def write(self, data: bytes) -> None:
        # write() blocks until the bytes are with the driver; no tcdrain, which fails once a device that
        # was told to exit has closed its end.
        try:
            self._port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"writing to {self.url} failed: {exc}") from None

    def _read_some(self) -> bytes:
        try:
            return self._port.read(max(1, self._port.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"the device closed the serial line ({exc})") from None


class PipeTransport(LineTransport):
    """The standard input and output of `process` (started with stdin=PIPE, stdout=PIPE)."""

    def __init__(self, process: subprocess.Popen):
        super().__init__()
        self._process = process

    def write(self, data: bytes) -> None:
        try:
            self._process.stdin.write(data)
            self._process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise DeviceError(f"the device closed its input ({exc})") from None

    def _read_some(self) -> bytes:
        out = self._process.stdout
        ready, _, _ = select.select([out], [], [], POLL_SECONDS)
        if not ready:
            return b""
        chunk = os.read(out.fileno(), 65536)
        if not chunk:
            raise DeviceError("the device closed its output (the process ended)")
        return chunk
