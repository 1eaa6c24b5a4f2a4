"""`munify build`: generate the model's C sources, compile them with the firmware for one board (make + gcc),
link against a linker script rendered from the board's memory map, and measure the image with `size`.

The output directory is written atomically: a failed build (compiler error, model too big for the board)
leaves nothing behind. `build.json` in it records what was built and a fingerprint of every input, so
`munify run` rebuilds only when something changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2

from . import __version__
from .boards import Board, MemoryRegion
from .codegen import generate
from .errors import MunifyError
from .fsutil import atomic_dir, atomic_write_text
from .harness.mlperf import PROFILE_HEADER, default_profile, profile_of
from .ir import load
from .process import format_command, log, run_logged
from .resources import firmware_dir, templates_dir

OPTIMIZE_LEVELS = ("balanced", "speed", "size")
BUILD_INFO = "build.json"
ELF_NAME = "firmware.elf"
MODEL_SUBDIR = "model"
_COMPILER_FLAGS = {"speed": "-O3", "size": "-Os"}
_OVERFLOW = re.compile(r"region `(\w+)' overflowed by (\d+) bytes")
_MEMORY_USAGE = re.compile(r"^\s*(\w+):\s+(\d+) B\s", re.MULTILINE)
_DEFINE = re.compile(r"^\s*#define\s+(MUNIFY_\w+)\s+(.+?)\s*$", re.MULTILINE)
_JOBS = "2"


class BuildError(MunifyError):
    """The firmware does not compile or link, or the model does not fit the board."""


@dataclass(frozen=True)
class SizeReport:
    flash_bytes: int  # everything the image stores: code + weights + other constants + .data initial values
    code_bytes: int
    weights_bytes: int
    rodata_bytes: int
    data_bytes: int
    bss_bytes: int
    static_ram_bytes: int  # .data + .bss (the model's arena lives in .bss)
    stack_reserved_bytes: int
    arena_bytes: int
    flash_capacity: int | None
    ram_capacity: int | None

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    elf: Path
    board: Board
    model_name: str
    sizes: SizeReport
    fingerprint: str
    layer_macs: dict[str, int] = dataclasses.field(default_factory=dict)  # from the plan; empty for fixtures


# ---- inputs and fingerprint ------------------------------------------------------------------------

def _hash_tree(digest, root: Path) -> None:
    if not root.is_dir():
        return
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")


def fingerprint(model_bytes: bytes, board: Board, optimize: str, model_id: str | None = None) -> str:
    """Changes whenever the model, the board file, the options, the firmware or the code generator change."""
    digest = hashlib.sha256()
    digest.update(f"munify {__version__}\0{optimize}\0model-id {model_id or ''}\0".encode())
    digest.update(model_bytes + b"\0" + board.path.read_bytes() + b"\0")
    package = Path(__file__).resolve().parent
    for root in (firmware_dir(), templates_dir(), package / "codegen", package / "plan"):
        _hash_tree(digest, root)
    digest.update((package / "harness" / "mlperf.py").read_bytes())
    return digest.hexdigest()


def read_build_info(out_dir: Path) -> dict | None:
    try:
        return json.loads((Path(out_dir) / BUILD_INFO).read_text())
    except (OSError, ValueError):
        return None


# ---- make ------------------------------------------------------------------------------------------

def _uart_defines(uart) -> dict[str, str]:
    defines = {"MUNIFY_UART_BASE": f"0x{uart.base:08X}u", "MUNIFY_UART_BAUD": f"{uart.baud}u",
               "MUNIFY_UART_AF": f"{uart.pin_function}u"}
    for role, pin in (("TX", uart.tx_pin), ("RX", uart.rx_pin)):
        defines[f"MUNIFY_UART_{role}_PORT"] = f"{pin.port if pin else 0}u"
        defines[f"MUNIFY_UART_{role}_PIN"] = f"{pin.number if pin else 0}u"
    return defines


def board_defines(board: Board) -> list[str]:
    """The -D flags that carry the board file into the firmware (clock, tick rate, UART, pins)."""
    defines = {
        "MUNIFY_CPU_HZ": f"{board.clock_hz}u",
        "MUNIFY_TICK_HZ": f"{board.timer.hz}u",
        "MUNIFY_TICK_MEASURED": "1" if board.timer.measured else "0",
        "MUNIFY_SEMIHOSTING": "1" if board.semihosting else "0",
    }
    if board.uart is not None:
        defines.update(_uart_defines(board.uart))
    return [f"-D{key}={value}" for key, value in defines.items()]


def make_command(board: Board, build_dir: Path, optimize: str, harness: tuple[str, ...] | None = None) -> list[str]:
    """The make call of a firmware build; `harness`: the firmware/harness/ files of a program with its own main()
    (default: the whole device-protocol harness)."""
    fw = firmware_dir()
    cortex_m = board.port == "cortex-m"
    # Bare metal: newlib-nano for memcpy & co., our own startup code instead of crt0.
    libs = ["--specs=nano.specs", "--specs=nosys.specs", "-nostartfiles"] if cortex_m else []
    variables = {
        "FW": str(fw),
        "MODEL": MODEL_SUBDIR,
        "PORT": board.port,
        "UART": board.uart.driver if board.uart else "",
        "SOC": board.soc,
        "CROSS": board.cross_prefix,
        "OPT": _COMPILER_FLAGS.get(optimize, board.optimize_flag),
        "CPU_FLAGS": " ".join(board.cflags),
        "DEFS": " ".join(board_defines(board)),
        "LDSCRIPT": "link.ld" if cortex_m else "",
        "LIBS": " ".join(libs + list(board.ldflags)),
        "ELF": ELF_NAME,
    }
    if harness is not None:
        variables["HARNESS_SRCS"] = " ".join(str(fw / "harness" / name) for name in harness)
    return ["make", "--no-print-directory", "-j", _JOBS, "-f", str(fw / "Makefile"), "-C", str(build_dir)] + [
        f"{key}={value}" for key, value in variables.items()]


def render_linker_script(board: Board) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(firmware_dir() / "ports" / board.port)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template("link.ld.j2").render(board=board)


def _first_error(output: str) -> str:
    for line in output.splitlines():
        if "error" in line.lower():
            return line.strip()
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def _memory_usage(output: str) -> dict[str, int]:
    """Bytes used per region, from the linker's --print-memory-usage table (printed even when a region overflows)."""
    return {name: int(used) for name, used in _MEMORY_USAGE.findall(output)}


def _region_text(what: str, used: int | None, region: MemoryRegion) -> str:
    label = f" ({region.label})" if region.label else ""
    if used is None:
        return f"{what} overflows the board's {region.length} bytes{label}"
    if used <= region.length:
        return f"{what} {used} of {region.length} bytes{label} fits"
    return f"{what} needs {used} bytes, the board has {region.length}{label}: {used - region.length} bytes over"


def too_large_error(model_name: str, board: Board, flash_used: int | None, ram_used: int | None,
                    estimate: bool = False) -> BuildError:
    flash = "flash (the weights alone)" if estimate else "flash"
    ram = "RAM (arena + stack alone)" if estimate else "RAM (static data + arena + stack)"
    return BuildError(
        f"model '{model_name}' is too large for board '{board.name}': "
        f"{_region_text(flash, flash_used, board.flash)}; {_region_text(ram, ram_used, board.ram)}; "
        "compress the model (munify compress), build with --optimize size, or choose a board with more memory "
        "(munify boards)")


def _raise_link_overflow(output: str, board: Board, model_name: str) -> None:
    overflowed = {name for name, _ in _OVERFLOW.findall(output)}
    if not overflowed & {"FLASH", "RAM"}:
        return
    usage = _memory_usage(output)
    raise too_large_error(model_name, board, usage.get("FLASH"), usage.get("RAM"))


def check_fits(model_name: str, board: Board, weights_bytes: int, arena_bytes: int) -> None:
    """Before compiling: the weights alone must fit the flash and the arena plus the stack the RAM (the linker
    checks the exact image afterwards)."""
    if board.flash is None or board.ram is None:
        return
    ram = arena_bytes + board.stack_bytes
    if weights_bytes > board.flash.length or ram > board.ram.length:
        raise too_large_error(model_name, board, weights_bytes, ram, estimate=True)


def _compile(board: Board, build_dir: Path, optimize: str, model_name: str,
             harness: tuple[str, ...] | None = None) -> None:
    result = run_logged(make_command(board, build_dir, optimize, harness))
    if result.returncode != 0:
        output = result.stdout + "\n" + result.stderr
        _raise_link_overflow(output, board, model_name)
        raise BuildError(f"firmware build for board '{board.name}' failed: {_first_error(result.stderr or output)}"
                         " (run with -v for the full compiler output)")


# ---- size ------------------------------------------------------------------------------------------

def section_sizes(board: Board, elf: Path) -> dict[str, int]:
    result = run_logged([f"{board.cross_prefix}size", "-A", "-d", str(elf)])
    if result.returncode != 0:
        raise BuildError(f"{board.cross_prefix}size failed on {elf}: {_first_error(result.stderr)}")
    sizes = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def model_defines(model_dir: Path) -> dict[str, str]:
    """The MUNIFY_* macros of a generated model.h (name, sizes, arena)."""
    try:
        text = (model_dir / "model.h").read_text()
    except OSError:
        raise BuildError(f"{model_dir}/model.h is missing; the model sources are incomplete") from None
    return {key: value.strip('"') for key, value in _DEFINE.findall(text)}


def _weights_bytes(board: Board, elf: Path, sections: dict[str, int]) -> int:
    """The linker scripts of bare-metal ports collect weights.c into .weights; elsewhere count its object."""
    if ".weights" in sections:
        return sections[".weights"]
    weights_object = elf.parent / "obj" / MODEL_SUBDIR / "weights.o"
    if not weights_object.is_file():
        return 0
    return sum(size for name, size in section_sizes(board, weights_object).items() if name.startswith(".rodata"))


def measure(board: Board, elf: Path, arena_bytes: int) -> SizeReport:
    sections = section_sizes(board, elf)
    code = sum(sections.get(name, 0) for name in (".vectors", ".text", ".ARM.exidx", ".init", ".fini", ".plt"))
    weights = _weights_bytes(board, elf, sections)
    rodata = sum(size for name, size in sections.items()
                 if name.startswith((".rodata", ".eh_frame"))) - (0 if ".weights" in sections else weights)
    data = sum(size for name, size in sections.items() if name.startswith((".data", ".init_array", ".fini_array")))
    bss = sections.get(".bss", 0)
    return SizeReport(
        flash_bytes=code + weights + rodata + data,
        code_bytes=code,
        weights_bytes=weights,
        rodata_bytes=rodata,
        data_bytes=data,
        bss_bytes=bss,
        static_ram_bytes=data + bss,
        stack_reserved_bytes=sections.get(".stack", 0),
        arena_bytes=arena_bytes,
        flash_capacity=board.flash.length if board.flash else None,
        ram_capacity=board.ram.length if board.ram else None,
    )


# ---- the build -------------------------------------------------------------------------------------

def _prepare(board: Board, build_dir: Path) -> None:
    if board.port == "cortex-m":
        atomic_write_text(build_dir / "link.ld", render_linker_script(board))


def _build_in(build_dir: Path, board: Board, optimize: str, print_id: str) -> tuple[str, SizeReport]:
    _prepare(board, build_dir)
    defines = model_defines(build_dir / MODEL_SUBDIR)
    model_name = defines.get("MUNIFY_MODEL_NAME", print_id)
    _compile(board, build_dir, optimize, model_name)
    arena = int(defines.get("MUNIFY_ARENA_SIZE", "0").rstrip("uU") or 0)
    return model_name, measure(board, build_dir / ELF_NAME, arena)


def _finish(tmp: Path, out_dir: Path, board: Board, optimize: str, fp: str, model_name: str,
            sizes: SizeReport, layers: list[dict] | None = None) -> BuildResult:
    info = {"munify_version": __version__, "model": model_name, "board": board.name, "optimize": optimize,
            "fingerprint": fp, "elf": ELF_NAME, "sizes": sizes.to_json(), "layers": layers or []}
    atomic_write_text(tmp / BUILD_INFO, json.dumps(info, indent=1, sort_keys=True) + "\n")
    macs = {layer["name"]: layer["macs"] for layer in layers or []}
    return BuildResult(out_dir, out_dir / ELF_NAME, board, model_name, sizes, fp, macs)


def _check_optimize(optimize: str) -> None:
    if optimize not in OPTIMIZE_LEVELS:
        raise BuildError(f"--optimize must be one of {', '.join(OPTIMIZE_LEVELS)}, not '{optimize}'")


def build_sources(model_dir: Path, board: Board, out_dir: Path, optimize: str = "balanced") -> BuildResult:
    """Build the firmware around ready-made model sources (model.h, model.c, ...), e.g. a test fixture."""
    _check_optimize(optimize)
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    digest = hashlib.sha256()
    _hash_tree(digest, model_dir)
    fp = fingerprint(digest.digest(), board, optimize)
    with atomic_dir(out_dir) as tmp:
        shutil.copytree(model_dir, tmp / MODEL_SUBDIR)
        _write_default_profile(tmp / MODEL_SUBDIR, model_dir.name)
        model_name, sizes = _build_in(tmp, board, optimize, model_dir.name)
        result = _finish(tmp, out_dir, board, optimize, fp, model_name, sizes)
    return result


def build_program(sources: dict[str, str], board: Board, out_dir: Path, harness: tuple[str, ...] = (),
                  optimize: str = "balanced") -> Path:
    """A program of its own (C files by name, one defining main()) built as the firmware is: the board's port
    (start-up, timer, exit), UART and SoC drivers, its rendered linker script, the named `harness` files and
    the same compiler flags. Returns the ELF in `out_dir` (written atomically). For the kernel benchmarks."""
    _check_optimize(optimize)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        for name, text in sources.items():
            atomic_write_text(tmp / MODEL_SUBDIR / name, text)
        _prepare(board, tmp)
        _compile(board, tmp, optimize, "program", harness)
    return out_dir / ELF_NAME


def _generate(graph, model_dir: Path, board: Board, optimize: str) -> list[dict]:
    """Generate the model's C sources; returns the plan's layers (name, op, kernel, MACs) for build.json."""
    plan = generate(graph, model_dir, board.features, optimize=optimize, cpu=board.cpu)
    check_fits(graph.name, board, plan.const_bytes, plan.arena_size)
    return [{"name": layer.name, "op": layer.op_type, "kernel": layer.variant, "macs": layer.macs}
            for layer in plan.layers]


def _write_default_profile(model_dir: Path, fallback_name: str) -> None:
    """Ready-made model sources without an MLPerf profile: int8 input, outputs as they are."""
    if not (model_dir / PROFILE_HEADER).is_file():
        name = model_defines(model_dir).get("MUNIFY_MODEL_NAME", fallback_name)
        atomic_write_text(model_dir / PROFILE_HEADER, default_profile(name).header())


def build_model(model_path: Path, board: Board, out_dir: Path, optimize: str = "balanced",
                model_id: str | None = None) -> BuildResult:
    """Generate C for a .mun model and build it for `board` into `out_dir`. `model_id` overrides the MLPerf
    Tiny id the firmware reports (default: the IR's, or a known MLPerf model's, see harness.mlperf)."""
    _check_optimize(optimize)
    model_path, out_dir = Path(model_path), Path(out_dir)
    graph = load(model_path)
    profile = profile_of(graph, model_id)
    fp = fingerprint(model_path.read_bytes(), board, optimize, model_id)
    with atomic_dir(out_dir) as tmp:
        layers = _generate(graph, tmp / MODEL_SUBDIR, board, optimize)
        atomic_write_text(tmp / MODEL_SUBDIR / PROFILE_HEADER, profile.header())
        model_name, sizes = _build_in(tmp, board, optimize, graph.name)
        result = _finish(tmp, out_dir, board, optimize, fp, model_name, sizes, layers)
    log.info("built %s for %s in %s", model_name, board.name, out_dir)
    return result


def is_up_to_date(model_path: Path, board: Board, out_dir: Path, optimize: str, model_id: str | None = None) -> bool:
    info = read_build_info(out_dir)
    return (info is not None and (Path(out_dir) / ELF_NAME).is_file()
            and info.get("fingerprint") == fingerprint(Path(model_path).read_bytes(), board, optimize, model_id))


def load_result(out_dir: Path, board: Board) -> BuildResult:
    """The BuildResult of an existing build directory."""
    info = read_build_info(out_dir)
    if info is None:
        raise BuildError(f"{out_dir} is not a munify build directory (no {BUILD_INFO}); run 'munify build'")
    sizes = SizeReport(**info["sizes"])
    macs = {layer["name"]: layer["macs"] for layer in info.get("layers", [])}
    return BuildResult(Path(out_dir), Path(out_dir) / info["elf"], board, info["model"], sizes, info["fingerprint"],
                       macs)


def dry_run_commands(board: Board, out_dir: Path, optimize: str) -> list[str]:
    """What `build_model` would run, for --dry-run."""
    return [f"generate C sources for features {sorted(board.features)} -> {out_dir / MODEL_SUBDIR}",
            f"render linker script -> {out_dir / 'link.ld'}",
            format_command(make_command(board, out_dir, optimize)),
            format_command([f"{board.cross_prefix}size", "-A", "-d", str(out_dir / ELF_NAME)])]


def default_build_dir(model_path: Path, board: Board, optimize: str) -> Path:
    return Path("munify-out") / f"{Path(model_path).stem}-{board.name}-{optimize}"
