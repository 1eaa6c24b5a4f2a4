"""Which boards can be reached right now (`munify boards`): QEMU boards when their emulator is installed, real
boards when a serial port of their debug probe's USB vendor is plugged in (pyserial's comports()), plus the
debug probes pyOCD sees when it is installed. Nothing is opened or flashed."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from serial.tools import list_ports

from .registry import HARDWARE_RUNNERS

if TYPE_CHECKING:
    from ..boards import Board

# USB vendor ids of the debug probes whose virtual COM port the real boards use.
PROBE_VENDORS = {0x0483: "ST-LINK", 0x1366: "J-Link", 0x0D28: "CMSIS-DAP (DAPLink)", 0x2E8A: "CMSIS-DAP (Pico)"}
PROBE_OF_BOARD = {"stm32": "ST-LINK", "nrf52": "J-Link"}  # by SoC driver family


@dataclass(frozen=True)
class SerialPort:
    device: str
    vendor: str | None  # the probe kind from its USB vendor id, None when unknown
    description: str


def serial_ports() -> list[SerialPort]:
    ports = []
    for port in list_ports.comports():
        vendor = PROBE_VENDORS.get(port.vid) if port.vid is not None else None
        ports.append(SerialPort(port.device, vendor, port.description or ""))
    return sorted(ports, key=lambda p: p.device)


def pyocd_probes() -> list[str] | None:
    """The debug probes pyOCD finds ("unique id: description"), or None when pyOCD is not installed."""
    try:
        from pyocd.core.helpers import ConnectHelper
    except ImportError:
        return None
    probes = ConnectHelper.get_all_connected_probes(blocking=False)
    return [f"{probe.unique_id}: {probe.description}" for probe in probes]


def _expected_probe(board: Board) -> str | None:
    return next((probe for prefix, probe in PROBE_OF_BOARD.items() if board.soc.startswith(prefix)), None)


def reachability(board: Board, ports: list[SerialPort]) -> str:
    """One phrase: how (or whether) the board can be reached now."""
    if board.runner.startswith("qemu"):
        binary = board.qemu.binary
        return f"yes ({binary})" if shutil.which(binary) else f"no ({binary} not installed)"
    if board.runner == "ssh":
        return f"not checked (ssh {board.hardware.ssh_host})"
    if board.runner in HARDWARE_RUNNERS:
        configured = board.hardware.serial_port
        probe = _expected_probe(board)
        matching = [p.device for p in ports if probe and p.vendor == probe]
        if any(p.device == configured for p in ports) and (probe is None or configured in matching):
            return f"yes ({configured})"
        if matching:
            return f"maybe ({probe} on {', '.join(matching)}; pass --port)"
        return f"no ({probe or 'its probe'} not connected)"
    return "unknown"
