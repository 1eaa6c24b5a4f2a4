"""The serial line of a real board, with the faults a desk setup has turned into one-line errors that name
the board, the port and the fix: no such port, a port another program holds, a board that stays silent or
answers garbage (wrong firmware, wrong baud rate), and a board that resets in the middle of a run.

`open_board_line(board, url, baud)` checks the port, opens it, and proves munify firmware answers on it
(`name`) within HANDSHAKE_TIMEOUT seconds; the `BoardLine` it returns watches every later line.
"""

from __future__ import annotations

import os
import string
import time
from typing import TYPE_CHECKING

import serial
from serial.tools import list_ports

from ..harness.protocol import READY
from ..harness.transport import DeviceError, LineTransport, SerialTransport

if TYPE_CHECKING:
    from ..boards import Board

HANDSHAKE_TIMEOUT = 5.0  # the MLCommons runner allows 5 s between reply lines too
BOOT_LINE = "m-init-done"  # firmware/harness/protocol.c prints it once, at boot
NAME_REPLY = "m-name-dut-"
NAME_RETRY = 1.0
SETTLE = 0.3
_PRINTABLE = set(string.printable) - set("\x0b\x0c")


def _baud(board: Board) -> int:
    return board.hardware.baud if board.hardware else 115200


def _is_local_device(url: str) -> bool:
    return "://" not in url


def ports_found() -> list[str]:
    return sorted(port.device for port in list_ports.comports())


def _lock_port(board: Board, url: str, baud: int) -> serial.Serial | None:
    """A local device must exist and be free: returns it opened with an exclusive lock (flock), held for the
    run so a second munify run on the same port fails clearly. URLs (socket://, rfc2217://) are checked by
    opening them."""
    if not _is_local_device(url):
        return None
    if not os.path.exists(url):
        found = ", ".join(ports_found()) or "none"
        raise DeviceError(f"board '{board.name}': serial port {url} not found (ports found now: {found}); connect "
                          "the board, or pass its port with --port (munify boards shows which are reachable)")
    try:
        return serial.Serial(url, baudrate=baud, exclusive=True)
    except serial.SerialException as exc:
        if "exclusively lock" in str(exc) or "busy" in str(exc).lower():
            raise DeviceError(f"board '{board.name}': serial port {url} is busy (another program holds it); close "
                              "the serial terminal or the other munify run using it") from None
        raise DeviceError(f"board '{board.name}': cannot open serial port {url} ({exc}); check its permissions "
                          "(the dialout group) or pass another port with --port") from None


class BoardLine(LineTransport):
    """A line transport that names its board and port in every error and notices a reset (a second boot)."""

    def __init__(self, board: Board, url: str, inner: LineTransport, lock: serial.Serial | None = None):
        super().__init__()
        self.board, self.url, self.inner, self.lock = board, url, inner, lock
        self.watching = False  # set once the handshake is done: from then on a boot line means a reset
        self.heard: list[str] = []  # the lines of the handshake, to tell a silent board from a garbled one

    def where(self) -> str:
        return f"board '{self.board.name}' on {self.url}"

    def write(self, data: bytes) -> None:
        try:
            self.inner.write(data)
        except DeviceError as exc:
            raise DeviceError(f"{self.where()}: {exc}; check the cable, then reset the board") from None

    def read_line(self, deadline: float) -> str:
        try:
            line = self.inner.read_line(deadline)
        except DeviceError as exc:
            raise DeviceError(f"{self.where()}: {exc}; reset the board, or reflash it with munify run") from None
        if not self.watching:
            self.heard.append(line)
            return line
        if line == BOOT_LINE:
            raise DeviceError(f"{self.where()} reset during the run (its boot banner came back); check its power "
                              "and USB cable, then run again")
        if not set(line) <= _PRINTABLE:
            raise DeviceError(f"{self.where()} sent a garbled line {line[:40]!r}; check the baud rate "
                              f"({_baud(self.board)}) and the wiring")
        return line

    def unfinished_line(self) -> str:
        return getattr(self.inner, "_pending", b"").decode("ascii", "replace")

    def close(self) -> None:
        self.inner.close()
        if self.lock is not None:
            self.lock.close()
            self.lock = None


def _name_reply_within(line: BoardLine, until: float) -> bool:
    """Read lines until `until`; True once the reply to 'name' has come, up to its m-ready."""
    named = False
    while True:
        try:
            text = line.read_line(until)
        except DeviceError:
            return False
        named = named or text.startswith(NAME_REPLY)
        if named and text == READY:
            return True


def handshake(line: BoardLine, timeout: float = HANDSHAKE_TIMEOUT) -> None:
    """Prove munify firmware answers: `name` must come back within `timeout` seconds. It is asked again every
    NAME_RETRY seconds: bytes sent while the board still boots (before its UART is on) are lost."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        line.write(b"%name%")  # the leading '%' ends whatever partial command the board holds
        if _name_reply_within(line, min(deadline, time.monotonic() + NAME_RETRY)):
            _name_reply_within(line, time.monotonic() + SETTLE)  # the late replies of earlier attempts
            line.watching = True
            return
    heard = "\r\n".join(line.heard) + line.unfinished_line()
    if heard.strip("\r\n\x00"):
        raise DeviceError(f"{line.where()} answered 'name' with {heard[-40:]!r}, not munify firmware; check the "
                          f"baud rate ({_baud(line.board)}) and that the board runs munify firmware (munify run "
                          "flashes it)")
    raise DeviceError(f"{line.where()} is silent: no reply to 'name' within {timeout:g} s; check that munify "
                      "firmware is flashed (munify run flashes it unless --runner serial) and the port, then reset "
                      "the board")


def open_board_line(board: Board, url: str, baud: int, timeout: float = HANDSHAKE_TIMEOUT) -> BoardLine:
    lock = _lock_port(board, url, baud)
    try:
        inner = SerialTransport(url, baud)
    except DeviceError as exc:
        if lock is not None:
            lock.close()
        raise DeviceError(f"board '{board.name}': {exc}; check the port (--port) and that nothing else uses it") \
            from None
    line = BoardLine(board, url, inner, lock)
    try:
        handshake(line, timeout)
    except BaseException:
        line.close()
        raise
    return line
