"""`munify boards`: the boards munify can build for and run on."""

from __future__ import annotations

import argparse
import dataclasses
import json

from ..boards import DEFAULT_BOARD, Board, list_boards
from ..runners.reachable import SerialPort, pyocd_probes, reachability, serial_ports

HELP = "list the boards (CPU, ISA features, memory, how they run) and which are reachable now"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the boards as JSON")


def _kib(n: int | None) -> str:
    return "-" if n is None else f"{n // 1024} KiB"


def board_json(board: Board, reachable: str | None = None) -> dict:
    region = lambda r: None if r is None else {"origin": r.origin, "length": r.length, "label": r.label}  # noqa: E731
    return {
        "name": board.name, "description": board.description, "cpu": board.cpu, "port": board.port,
        "features": sorted(board.features), "clock_hz": board.clock_hz, "cflags": list(board.cflags),
        "flash": region(board.flash), "ram": region(board.ram), "stack_bytes": board.stack_bytes,
        "uart": None if board.uart is None else {"driver": board.uart.driver, "base": board.uart.base,
                                                  "baud": board.uart.baud},
        "timer": {"driver": board.timer.driver, "hz": board.timer.hz}, "runner": board.runner,
        "qemu_machine": board.qemu.machine if board.qemu else None, "default": board.name == DEFAULT_BOARD,
        "hardware": None if board.hardware is None else dataclasses.asdict(board.hardware),
        "soc": board.soc, "reachable": reachable,
    }


def render_table(boards: list[Board], reachable: dict[str, str]) -> str:
    header = ["board", "cpu", "features", "flash", "ram", "clock", "runner", "reachable now"]
    rows = [[b.name + (" *" if b.name == DEFAULT_BOARD else ""), b.cpu, ",".join(sorted(b.features)) or "-",
             _kib(b.flash.length if b.flash else None), _kib(b.ram.length if b.ram else None),
             f"{b.clock_hz / 1e6:g} MHz", b.runner, reachable[b.name]] for b in boards]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n* default board"


def _probe_lines(ports: list[SerialPort], probes: list[str] | None) -> list[str]:
    lines = [f"serial ports: {', '.join(f'{p.device} ({p.vendor or p.description})' for p in ports) or 'none'}"]
    lines.append("debug probes (pyOCD): " + ("pyOCD not installed (pip install 'munify[hil]')" if probes is None
                                             else ", ".join(probes) or "none"))
    return lines


def run(args: argparse.Namespace) -> int:
    boards = list_boards()
    ports = serial_ports()
    reachable = {b.name: reachability(b, ports) for b in boards}
    if args.json:
        print(json.dumps([board_json(b, reachable[b.name]) for b in boards], indent=1))
    else:
        print(render_table(boards, reachable))
        print("\n".join(_probe_lines(ports, pyocd_probes())))
    return 0
