"""The serial line to a device: any pyserial URL (a real port such as /dev/ttyACM0, or socket://host:port
for QEMU's TCP serial). Reads whole "\\r\\n"-terminated lines within a deadline, so a silent or dead device
raises a clear error instead of hanging."""

from __future__ import annotations

import time

import serial

from ..errors import MunifyError

LINE_END = b"\r\n"


class DeviceError(MunifyError):
    """The device misbehaved: no reply in time, the line closed, an unexpected reply or an e- error."""


class SerialTransport:
    def __init__(self, url: str, baud: int = 115200, read_timeout: float = 0.2):
        try:
            self._port = serial.serial_for_url(url, baudrate=baud, timeout=read_timeout)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise DeviceError(f"cannot open serial port {url}: {exc}") from None
        self.url = url
        self._pending = b""

    def close(self) -> None:
        self._port.close()

    def __enter__(self) -> "SerialTransport":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"writing to {self.url} failed: {exc}") from None

    def _read_some(self) -> bytes:
        try:
            return self._port.read(max(1, self._port.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"the device closed the serial line ({exc})") from None

    def read_line(self, deadline: float) -> str:
        """One line without its terminator; DeviceError when the deadline passes first."""
        while LINE_END not in self._pending:
            if time.monotonic() > deadline:
                partial = self._pending.decode("ascii", "replace")[-80:]
                raise DeviceError(f"no reply from the device within the time limit (last bytes: {partial!r})")
            self._pending += self._read_some()
        line, self._pending = self._pending.split(LINE_END, 1)
        return line.decode("ascii", "replace")

    def read_until(self, sentinel: str, timeout: float) -> list[str]:
        """Lines up to and including `sentinel` (e.g. "m-ready")."""
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while True:
            try:
                line = self.read_line(deadline)
            except DeviceError as exc:
                if not lines:
                    raise
                raise DeviceError(f"{exc}; the device's last line: {lines[-1]!r}") from None
            lines.append(line)
            if line == sentinel:
                return lines
