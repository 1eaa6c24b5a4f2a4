"""Boards are data: one TOML file per board in boards/, validated here against a schema.

`load_board(name)` takes a built-in board name or a path to a .toml file; `list_boards()` lists the built-in
ones. Every error names the file and the key, and says what is expected.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import MunifyError
from .resources import boards_dir
from .runners.registry import HARDWARE_RUNNERS, RUNNER_NAMES, hardware_keys

SCHEMA_VERSION = 1
DEFAULT_BOARD = "mps2-an386"
FEATURES = ("dsp", "fpu", "mve", "neon", "dotprod")
PORTS = ("cortex-m", "linux")
RUNNERS = RUNNER_NAMES  # runners/registry.py: HARDWARE_RUNNERS flash a real MCU board, then use its serial port
UART_DRIVERS = ("cmsdk_apb", "stm32_usart", "stm32_usart_v2", "stm32_lpuart", "nrf_uart", "nrf_uarte")
SOC_DRIVERS = ("none", "stm32f1", "stm32f4", "stm32l4", "stm32g0", "nrf51", "nrf52")  # drivers/soc_<name>.c
TIMER_DRIVERS = ("systick", "clock_gettime")
PORT_TIMER = {"cortex-m": "systick", "linux": "clock_gettime"}  # the tick source each port implements
OPTIMIZE_FLAGS = ("-O0", "-O1", "-O2", "-O3", "-Os", "-Oz", "-Ofast")


class BoardError(MunifyError):
    """A board that does not exist or a board file that breaks the schema."""


@dataclass(frozen=True)
class MemoryRegion:
    origin: int
    length: int
    label: str


@dataclass(frozen=True)
class Pin:
    """A GPIO pin: STM32 "PA2" is port 0 pin 2, nRF "P0.06" is port 0 pin 6."""

    port: int
    number: int


@dataclass(frozen=True)
class Uart:
    driver: str
    base: int
    baud: int
    tx_pin: Pin | None = None
    rx_pin: Pin | None = None
    pin_function: int = 0  # STM32 alternate function number of both pins


@dataclass(frozen=True)
class Timer:
    driver: str
    hz: int
    measured: bool = False  # report the core clock the firmware read back (real boards) instead of hz


@dataclass(frozen=True)
class QemuSettings:
    binary: str
    machine: str | None
    cpu: str | None
    args: tuple[str, ...]


@dataclass(frozen=True)
class Hardware:
    """How a real board is flashed and reached (the serial runner uses serial_port and flash_command)."""

    flash_method: str | None
    pyocd_target: str | None
    serial_port: str | None
    baud: int
    flash_command: tuple[str, ...]  # argv with {elf} and {pyocd_target} placeholders; empty: flashed by hand
    openocd_args: tuple[str, ...] = ()  # e.g. ("-f", "board/st_nucleo_l4.cfg")
    gdb_remote: str = "localhost:3333"  # the GDB server of runner "gdb" (pyOCD and OpenOCD serve 3333)
    gdb_reset: str = "monitor reset"  # after `load`; QEMU's gdbstub wants "monitor system_reset"
    ssh_host: str | None = None  # runner "ssh": user@host
    ssh_dir: str = "/tmp"  # where the binary is copied on the ssh host


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    cpu: str
    port: str
    soc: str
    features: frozenset[str]
    clock_hz: int
    cross_prefix: str
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...]
    optimize_flag: str
    flash: MemoryRegion | None
    ram: MemoryRegion | None
    stack_bytes: int
    uart: Uart | None
    timer: Timer
    runner: str
    semihosting: bool
    qemu: QemuSettings | None
    hardware: Hardware | None
    path: Path


# ---- schema ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Key:
    kind: type | tuple[type, ...]
    required: bool = True
    default: Any = None
    check: Callable[[Any], str | None] | None = None  # returns a complaint, or None when the value is fine


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda value: None if value in choices else f"must be one of {', '.join(choices)}"


def _positive(value: int) -> str | None:
    return None if value > 0 else "must be > 0"


def _non_negative(value: int) -> str | None:
    return None if value >= 0 else "must be >= 0"


def _features(values: list) -> str | None:
    unknown = [v for v in values if v not in FEATURES]
    if unknown:
        return f"has unknown feature(s) {unknown}; known: {', '.join(FEATURES)}"
    return None if len(set(values)) == len(values) else "lists a feature twice"


_PIN = re.compile(r"^P(?:([A-K])(\d{1,2})|(\d)\.(\d{2}))$")


def parse_pin(text: str) -> Pin | None:
    match = _PIN.match(text)
    if not match:
        return None
    if match.group(1):
        return Pin(ord(match.group(1)) - ord("A"), int(match.group(2)))
    return Pin(int(match.group(3)), int(match.group(4)))


def _pin(value: str) -> str | None:
    pin = parse_pin(value)
    return None if pin and pin.number < 32 else "must be a pin like \"PA2\" (STM32) or \"P0.06\" (nRF)"


def _multiple_of_8(value: int) -> str | None:
    return None if value > 0 and value % 8 == 0 else "must be a positive multiple of 8"


REGION = {
    "origin": Key(int, check=_non_negative),
    "length": Key(int, check=_positive),
    "label": Key(str, required=False, default=""),
}

SCHEMA: dict[str, Any] = {
    "schema_version": Key(int),
    "name": Key(str),
    "description": Key(str, required=False, default=""),
    "cpu": Key(str),
    "port": Key(str, check=_one_of(PORTS)),
    "features": Key(list, check=_features),
    "clock_hz": Key(int, check=_positive),
    "soc": ({
        "driver": Key(str, check=_one_of(SOC_DRIVERS)),
    }, False),
    "toolchain": {
        "prefix": Key(str),
        "cflags": Key(list),
        "ldflags": Key(list, required=False, default=[]),
        "optimize": Key(str, required=False, default="-O2", check=_one_of(OPTIMIZE_FLAGS)),
    },
    "memory": ({
        "flash": REGION,
        "ram": REGION,
        "stack_bytes": Key(int, check=_multiple_of_8),
    }, False),
    "uart": ({
        "driver": Key(str, check=_one_of(UART_DRIVERS)),
        "base": Key(int, check=_non_negative),
        "baud": Key(int, check=_positive),
        "tx_pin": Key(str, required=False, check=_pin),
        "rx_pin": Key(str, required=False, check=_pin),
        "pin_function": Key(int, required=False, default=0, check=_non_negative),
    }, False),
    "timer": {
        "driver": Key(str, check=_one_of(TIMER_DRIVERS)),
        "hz": Key(int, check=_positive),
        "measured": Key(bool, required=False, default=False),
    },
    "run": {
        "runner": Key(str, check=_one_of(RUNNERS)),
        "semihosting": Key(bool, required=False, default=False),
    },
    "qemu": ({
        "binary": Key(str),
        "machine": Key(str, required=False),
        "cpu": Key(str, required=False),
        "args": Key(list, required=False, default=[]),
    }, False),
    "hardware": ({
        "flash_method": Key(str, required=False),
        "pyocd_target": Key(str, required=False),
        "serial_port": Key(str, required=False),
        "baud": Key(int, required=False, default=115200, check=_positive),
        "flash_command": Key(list, required=False, default=[]),
        "openocd_args": Key(list, required=False, default=[]),
        "gdb_remote": Key(str, required=False, default="localhost:3333"),
        "gdb_reset": Key(str, required=False, default="monitor reset"),
        "ssh_host": Key(str, required=False),
        "ssh_dir": Key(str, required=False, default="/tmp"),
    }, False),
}

_TYPE_NAMES = {int: "an integer", str: "a string", list: "a list", bool: "true or false", dict: "a table"}


def _validate_table(source: str, table: Any, schema: dict, prefix: str) -> dict:
    """Check one TOML table against its schema; returns the table with defaults filled in."""
    if not isinstance(table, dict):
        raise BoardError(f"{source}: '{prefix.rstrip('.')}' must be a table")
    unknown = sorted(set(table) - set(schema))
    if unknown:
        raise BoardError(f"{source}: unknown key '{prefix}{unknown[0]}' (known here: {', '.join(schema)})")
    result = {}
    for key, spec in schema.items():
        path = prefix + key
        required = True
        if isinstance(spec, tuple):
            spec, required = spec
        if isinstance(spec, dict):
            if key not in table:
                if required:
                    raise BoardError(f"{source}: missing required table '[{path}]'")
                result[key] = None
                continue
            result[key] = _validate_table(source, table[key], spec, path + ".")
            continue
        result[key] = _validate_value(source, table, key, spec, path)
    return result


def _validate_value(source: str, table: dict, key: str, spec: Key, path: str) -> Any:
    if key not in table:
        if spec.required:
            raise BoardError(f"{source}: missing required key '{path}'")
        return spec.default
    value = table[key]
    # bool is an int in Python; an integer key must not accept true/false.
    if not isinstance(value, spec.kind) or (spec.kind is int and isinstance(value, bool)):
        raise BoardError(f"{source}: key '{path}' must be {_TYPE_NAMES.get(spec.kind, spec.kind)}, "
                         f"got {value!r}")
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        raise BoardError(f"{source}: key '{path}' must be a list of strings, got {value!r}")
    complaint = spec.check(value) if spec.check else None
    if complaint:
        raise BoardError(f"{source}: key '{path}' {complaint} (got {value!r})")
    return value


def _check_consistency(source: str, doc: dict, expected_name: str | None) -> None:
    if expected_name is not None and doc["name"] != expected_name:
        raise BoardError(f"{source}: key 'name' is '{doc['name']}' but the file is {expected_name}.toml; "
                         "make them equal")
    if doc["timer"]["driver"] != PORT_TIMER[doc["port"]]:
        raise BoardError(f"{source}: key 'timer.driver' must be '{PORT_TIMER[doc['port']]}' for port "
                         f"'{doc['port']}' (got '{doc['timer']['driver']}')")
    if doc["port"] == "cortex-m":
        for table in ("memory", "uart"):
            if doc[table] is None:
                raise BoardError(f"{source}: missing required table '[{table}]' (port 'cortex-m' needs it)")
    if doc["run"]["runner"].startswith("qemu") and doc["qemu"] is None:
        raise BoardError(f"{source}: missing required table '[qemu]' (runner '{doc['run']['runner']}' needs it)")
    if doc["run"]["runner"] == "qemu-system" and not (doc["qemu"]["machine"] and doc["qemu"]["cpu"]):
        raise BoardError(f"{source}: missing required key 'qemu.machine' or 'qemu.cpu' (runner 'qemu-system')")
    runner = doc["run"]["runner"]
    _check_hardware(source, runner, doc["hardware"])
    memory = doc["memory"]
    if memory is not None:
        flash, ram = memory["flash"], memory["ram"]
        for label, region in (("flash", flash), ("ram", ram)):
            if region["origin"] + region["length"] > 1 << 32:
                raise BoardError(f"{source}: key 'memory.{label}' runs past the 4 GiB address space")
        if flash["origin"] < ram["origin"] + ram["length"] and ram["origin"] < flash["origin"] + flash["length"]:
            raise BoardError(f"{source}: keys 'memory.flash' and 'memory.ram' overlap")
        if memory["stack_bytes"] >= ram["length"]:
            raise BoardError(f"{source}: key 'memory.stack_bytes' must be smaller than memory.ram.length")


def _check_hardware(source: str, runner: str, hardware: dict | None) -> None:
    """Only the default runner's keys are required: a --runner override checks its own (runners.runner_for)."""
    for key in hardware_keys(runner):
        if not (hardware and hardware[key]):
            raise BoardError(f"{source}: missing required key 'hardware.{key}' (runner '{runner}' needs it)")


def _region(raw: dict | None) -> MemoryRegion | None:
    return MemoryRegion(raw["origin"], raw["length"], raw["label"]) if raw else None


def _uart(raw: dict | None) -> Uart | None:
    if raw is None:
        return None
    pins = [parse_pin(raw[key]) if raw[key] else None for key in ("tx_pin", "rx_pin")]
    return Uart(raw["driver"], raw["base"], raw["baud"], pins[0], pins[1], raw["pin_function"])


def _to_board(doc: dict, path: Path) -> Board:
    memory, uart, qemu, hardware = doc["memory"], doc["uart"], doc["qemu"], doc["hardware"]
    return Board(
        name=doc["name"],
        description=doc["description"],
        cpu=doc["cpu"],
        port=doc["port"],
        soc=doc["soc"]["driver"] if doc["soc"] else "none",
        features=frozenset(doc["features"]),
        clock_hz=doc["clock_hz"],
        cross_prefix=doc["toolchain"]["prefix"],
        cflags=tuple(doc["toolchain"]["cflags"]),
        ldflags=tuple(doc["toolchain"]["ldflags"]),
        optimize_flag=doc["toolchain"]["optimize"],
        flash=_region(memory["flash"]) if memory else None,
        ram=_region(memory["ram"]) if memory else None,
        stack_bytes=memory["stack_bytes"] if memory else 0,
        uart=_uart(uart),
        timer=Timer(doc["timer"]["driver"], doc["timer"]["hz"], doc["timer"]["measured"]),
        runner=doc["run"]["runner"],
        semihosting=doc["run"]["semihosting"],
        qemu=QemuSettings(qemu["binary"], qemu["machine"], qemu["cpu"], tuple(qemu["args"])) if qemu else None,
        hardware=Hardware(hardware["flash_method"], hardware["pyocd_target"], hardware["serial_port"],
                          hardware["baud"], tuple(hardware["flash_command"]), tuple(hardware["openocd_args"]),
                          hardware["gdb_remote"], hardware["gdb_reset"], hardware["ssh_host"],
                          hardware["ssh_dir"]) if hardware else None,
        path=path,
    )


def parse_board(path: Path, expected_name: str | None = None) -> Board:
    """Read and validate one board file."""
    source = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BoardError(f"{source}: cannot read board file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BoardError(f"{source}: not valid TOML ({exc})") from None
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BoardError(f"{source}: key 'schema_version' is {version!r}, this munify reads board files of "
                         f"schema_version {SCHEMA_VERSION}")
    doc = _validate_table(source, raw, SCHEMA, "")
    _check_consistency(source, doc, expected_name)
    return _to_board(doc, path)


def with_overrides(board: Board, runner: str | None = None, port: str | None = None) -> Board:
    """The board reached another way: `--runner` and `--port` of munify run, checked like the board file."""
    runner = runner or board.runner
    if runner not in RUNNERS:
        raise BoardError(f"--runner must be one of {', '.join(RUNNERS)}, not '{runner}'")
    hardware = board.hardware or Hardware(None, None, None, 115200, ())
    if port is not None:
        if runner == "ssh":
            hardware = dataclasses.replace(hardware, ssh_host=port)  # --port user@host
        elif runner in HARDWARE_RUNNERS:
            hardware = dataclasses.replace(hardware, serial_port=port)
        else:
            raise BoardError(f"board '{board.name}': --port needs a runner that reaches a real board "
                             f"({', '.join(HARDWARE_RUNNERS + ('ssh',))}), not '{runner}'; add --runner serial")
    if runner.startswith("qemu") and board.qemu is None:
        raise BoardError(f"board '{board.name}' is a real board: QEMU does not emulate it; use one of "
                         f"{', '.join(HARDWARE_RUNNERS)} with --port")
    if runner in ("qemu-user", "ssh") and board.port != "linux" or runner == "qemu-system" and board.port == "linux":
        raise BoardError(f"board '{board.name}': runner '{runner}' cannot run a '{board.port}' firmware")
    try:
        _check_hardware(str(board.path), runner, dataclasses.asdict(hardware))
    except BoardError as exc:
        by_port = "serial_port" in str(exc) or "ssh_host" in str(exc)
        raise BoardError(f"{exc}; add it to the board file" + (" or pass --port" if by_port else "")) from None
    return dataclasses.replace(board, runner=runner, hardware=hardware)


def board_names() -> list[str]:
    return sorted(p.stem for p in boards_dir().glob("*.toml"))


def load_board(name: str) -> Board:
    """A built-in board by name (e.g. 'mps2-an386'), or any board file given by its path."""
    if name.endswith(".toml") or "/" in name:
        return parse_board(Path(name))
    known = board_names()
    if name not in known:
        raise BoardError(f"unknown board '{name}'; known boards: {', '.join(known)}")
    return parse_board(boards_dir() / f"{name}.toml", expected_name=name)


def list_boards() -> list[Board]:
    return [load_board(name) for name in board_names()]
