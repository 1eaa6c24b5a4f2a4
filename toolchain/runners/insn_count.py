"""Exact instruction counts from QEMU's TCG plugin interface (firmware/qemu-plugin/insn_count.c).

The plugin counts every executed guest instruction, in total and per function of the ELF's symbol table,
and logs the running total each time a *marked* function is entered. A run's marks cut it into windows:

    hal_ticks | munify_model_run... | munify_layer_0 | munify_layer_1 | ... | hal_ticks

An untraced inference is the window between the two `hal_ticks` calls around the model run, the same
instructions the firmware's SysTick measurement spans (under `-icount shift=0` that measurement is
instructions too, at the timer's resolution); a layer is the window from its function's entry to the next
mark. Counts are exact and deterministic: the same firmware and inputs give the same numbers.

`InsnCounter(elf, board)` prepares one run: `qemu_args()` for the QEMU command line, `result()` after QEMU
has exited, `exact_counts(result, n_layers)` the figures of the report. `plugin_unavailable(qemu, probe)` says
why a QEMU cannot load the plugin (None when it can). The runners (runners/qemu.py) use all of it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MunifyError
from ..fsutil import atomic_write_text
from ..process import format_command, log, run_logged
from ..resources import firmware_dir

if TYPE_CHECKING:
    from ..boards import Board

PLUGIN_SOURCE = Path("qemu-plugin") / "insn_count.c"
# The Makefile's `plugin` target builds with the same compiler and flags into PREBUILT_DIR.
PLUGIN_CC = "gcc"
PLUGIN_CFLAGS = ("-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror", "-std=gnu11")
PREBUILT_DIR = Path(sys.prefix) / "lib" / "munify"
RESULT_FORMAT = "insn-count 1"

TICKS_FUNCTION = "hal_ticks"  # firmware/hal.h: read around every model run
HOOK_FUNCTION = "layer_hook"  # firmware/harness/protocol.c: runs after each layer of a traced inference
RUN_FUNCTIONS = ("munify_model_run", "munify_model_run_hooked")
LAYER_FUNCTION = re.compile(r"^munify_layer_(\d+)$")
TEXT_SYMBOL_TYPES = set("tTwW")


class PluginError(MunifyError):
    """The instruction-count plugin cannot be built, loaded or read."""


# ---- the plugin library ------------------------------------------------------------------------------

def plugin_source() -> Path:
    return firmware_dir() / PLUGIN_SOURCE


def plugin_file_name(source: Path) -> str:
    """A name that changes with the source, so a stale build is never loaded."""
    return f"insn_count-{hashlib.sha256(source.read_bytes()).hexdigest()[:16]}.so"


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "munify"


def plugin_library() -> Path:
    """The plugin built from this munify's source: prebuilt by `make setup`, else built once into the cache."""
    source = plugin_source()
    name = plugin_file_name(source)
    for directory in (PREBUILT_DIR, cache_dir()):
        if (directory / name).is_file():
            return directory / name
    return build_plugin(source, cache_dir() / name)


NO_PLUGIN_HINT = "(--no-exact-counts runs without it)"


def build_plugin(source: Path, target: Path) -> Path:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PluginError(f"cannot create {target.parent} for the instruction-count plugin ({exc.strerror}); "
                          f"set XDG_CACHE_HOME to a writable directory {NO_PLUGIN_HINT}") from None
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    result = run_logged([PLUGIN_CC, *PLUGIN_CFLAGS, "-o", str(partial), str(source)],
                        install_hint="apt-get install gcc")
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        lines = result.stderr.strip().splitlines() or ["no message"]
        first = next((line for line in lines if "error" in line), lines[0])
        raise PluginError(f"cannot build the instruction-count plugin {source}: {first} {NO_PLUGIN_HINT}")
    os.replace(partial, target)
    return target


_availability: dict[tuple[str, Path], str | None] = {}


def plugin_unavailable(qemu: str, probe: tuple[str, ...]) -> str | None:
    """Why `qemu` cannot run the plugin (a one-line reason), or None if it can; asked once per QEMU and plugin
    build. A QEMU built without plugin support lists no -plugin option; one that has it must load this plugin
    and write its result when the `probe` arguments (a run that ends at once) exit."""
    if shutil.which(qemu) is None:
        return None  # the runner reports a missing QEMU itself
    key = (qemu, plugin_library())
    if key not in _availability:
        _availability[key] = _missing_option(qemu) or _load_failure(qemu, key[1], probe)
    return _availability[key]


def _missing_option(qemu: str) -> str | None:
    log.info("run: %s", format_command([qemu, "-help"]))
    try:
        listing = subprocess.run([qemu, "-help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"'{qemu} -help' failed ({exc})"
    if "-plugin" not in listing.stdout + listing.stderr:
        return f"{qemu} was built without TCG plugin support (no -plugin option)"
    return None


def plugin_args(library: Path, **arguments: Path) -> list[str]:
    """`-plugin LIB,KEY=VALUE,...` (QEMU's option syntax doubles a comma inside a value)."""
    options = [str(library), *(f"{key}={value}" for key, value in arguments.items())]
    return ["-plugin", ",".join(option.replace(",", ",,") for option in options)]


def _load_failure(qemu: str, library: Path, probe: tuple[str, ...]) -> str | None:
    with tempfile.TemporaryDirectory(prefix="munify-plugin-probe-") as directory:
        result_path = Path(directory) / "result.txt"
        command = [qemu, *plugin_args(library, out=result_path), *probe]
        log.info("run: %s < /dev/null", format_command(command))
        try:
            run = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return f"{qemu} did not finish a 30 s plugin probe"
        if result_path.is_file():
            return None
    lines = run.stderr.strip().splitlines() or [f"exit status {run.returncode}, no message"]
    return f"{qemu} cannot load the plugin: {next((line for line in lines if 'plugin' in line), lines[-1])}"


# ---- functions of the ELF ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Function:
    name: str
    start: int
    end: int


def elf_functions(elf: Path, nm: str) -> list[Function]:
    """The ELF's code symbols as sorted, disjoint address ranges (Thumb bit cleared; a symbol without a size
    runs to the next one; of two symbols at one address the first name in sort order is kept)."""
    result = run_logged([nm, "--defined-only", "--print-size", "--numeric-sort", str(elf)],
                        install_hint="it comes with the board's cross toolchain: make setup")
    if result.returncode != 0:
        raise PluginError(f"'{nm}' cannot read the symbols of {elf}: {result.stderr.strip()[:200]}")
    symbols = sorted(_text_symbols(result.stdout))
    functions = []
    for index, (start, name, size) in enumerate(symbols):
        if functions and start < functions[-1].end:
            continue  # an alias or a symbol inside the previous function
        following = next((s for s, _, _ in symbols[index + 1:] if s > start), None)
        end = start + size if size else following
        if end is None or end <= start:
            continue
        functions.append(Function(name, start, end))
    return functions


def _text_symbols(listing: str) -> list[tuple[int, str, int]]:
    symbols = []
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[2] in TEXT_SYMBOL_TYPES:
            symbols.append((int(fields[0], 16) & ~1, fields[3], int(fields[1], 16)))
        elif len(fields) == 3 and fields[1] in TEXT_SYMBOL_TYPES:
            symbols.append((int(fields[0], 16) & ~1, fields[2], 0))
    return symbols


def is_marked(name: str) -> bool:
    return name in (TICKS_FUNCTION, HOOK_FUNCTION, *RUN_FUNCTIONS) or LAYER_FUNCTION.match(name) is not None


def ranges_text(functions: list[Function]) -> str:
    return "".join(f"{f.start:x} {f.end:x} {'m' if is_marked(f.name) else '-'} {f.name}\n" for f in functions)


# ---- the result --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mark:
    function: str
    total: int  # the running count when the function's first instruction is reached


@dataclass(frozen=True)
class PluginResult:
    total: int
    functions: dict[str, tuple[int, int]]  # name -> (instructions inside it, excluding callees; entries)
    outside: int
    marks: tuple[Mark, ...]


def read_result(path: Path) -> PluginResult:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        raise PluginError(f"QEMU wrote no instruction counts ({path} missing): did it stop before exiting? "
                          f"{NO_PLUGIN_HINT}") from None
    if not lines or lines[0] != RESULT_FORMAT:
        raise PluginError(f"{path} is not an insn_count result (first line {lines[:1]})")
    total = outside = 0
    functions: dict[str, tuple[int, int]] = {}
    marks = []
    for line in lines[1:]:
        kind, *fields = line.split(" ")
        if kind == "total":
            total = int(fields[0])
        elif kind == "outside":
            outside = int(fields[0])
        elif kind == "range":
            functions[fields[0]] = (int(fields[1]), int(fields[2]))
        elif kind == "mark":
            marks.append(Mark(fields[0], int(fields[1])))
        elif kind == "marks-lost":
            raise PluginError(f"the plugin ran out of memory and lost {fields[0]} marks")
    return PluginResult(total, functions, outside, tuple(marks))


# ---- one run -----------------------------------------------------------------------------------------

class InsnCounter:
    """The plugin arguments of one QEMU run and, after QEMU exited, its result. `close()` removes the files."""

    def __init__(self, elf: Path, board: Board):
        self.library = plugin_library()
        self.functions = elf_functions(Path(elf), f"{board.cross_prefix}nm")
        self.directory = Path(tempfile.mkdtemp(prefix="munify-insn-count-"))
        self.ranges_path = self.directory / "ranges.txt"
        self.result_path = self.directory / "result.txt"
        atomic_write_text(self.ranges_path, ranges_text(self.functions))

    def qemu_args(self) -> list[str]:
        return plugin_args(self.library, ranges=self.ranges_path, out=self.result_path)

    def result(self) -> PluginResult:
        return read_result(self.result_path)

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


# ---- windows: inferences and layers ------------------------------------------------------------------

@dataclass(frozen=True)
class InferenceCount:
    traced: bool  # run with the layer hook (per-layer ticks or tensors): its window includes the hooks
    instructions: int | None  # hal_ticks to hal_ticks, as the firmware times it; None if traced
    layers: dict[int, int]  # firmware layer index -> instructions from its function's entry to the next mark


@dataclass(frozen=True)
class ExactCounts:
    """What the report shows: every untraced inference, and the layers of the last one."""

    per_inference: tuple[int, ...]
    layers: tuple[int | None, ...]  # by firmware layer; None for a layer without a function (an alias)

    @property
    def mean(self) -> int:
        return round(sum(self.per_inference) / len(self.per_inference)) if self.per_inference else 0


def inference_counts(marks: tuple[Mark, ...]) -> list[InferenceCount]:
    starts = _run_starts(marks)
    counts = []
    for position, start in enumerate(starts):
        stop = starts[position + 1] if position + 1 < len(starts) else len(marks)
        counts.append(_inference(marks, start, stop))
    return counts


def _run_starts(marks: tuple[Mark, ...]) -> list[int]:
    """Indices of the marks that start a model run (munify_model_run calling munify_model_run_hooked is one)."""
    starts = []
    for index, mark in enumerate(marks):
        if mark.function in RUN_FUNCTIONS and not (starts and starts[-1] == index - 1):
            starts.append(index)
    return starts


def _inference(marks: tuple[Mark, ...], start: int, stop: int) -> InferenceCount:
    window = marks[start:stop]
    ticks = [i for i, mark in enumerate(window) if mark.function == TICKS_FUNCTION]
    layer_positions = [i for i, mark in enumerate(window) if LAYER_FUNCTION.match(mark.function)]
    traced = any(mark.function == HOOK_FUNCTION for mark in window) or bool(
        ticks and layer_positions and layer_positions[-1] > ticks[0])
    layers = {}
    for i in layer_positions:
        following = marks[start + i + 1] if start + i + 1 < len(marks) else None
        if following is not None:
            layers[int(LAYER_FUNCTION.match(window[i].function).group(1))] = following.total - window[i].total
    before = next((marks[i] for i in range(start - 1, -1, -1) if marks[i].function == TICKS_FUNCTION), None)
    instructions = None
    if not traced and ticks and before is not None:
        instructions = window[ticks[0]].total - before.total
    return InferenceCount(traced, instructions, layers)


def exact_counts(result: PluginResult, n_layers: int) -> ExactCounts:
    untraced = [count for count in inference_counts(result.marks) if count.instructions is not None]
    if not untraced:
        raise PluginError("the instruction-count plugin saw no complete model run between two hal_ticks calls "
                          f"(does the ELF keep its symbols?) {NO_PLUGIN_HINT}")
    last = untraced[-1].layers
    return ExactCounts(tuple(count.instructions for count in untraced),
                       tuple(last.get(index) for index in range(n_layers)))


def exact_counts_note() -> str:
    """What --dry-run shows of the plugin (nothing is built or probed for it)."""
    return (f"  with -plugin <{plugin_file_name(plugin_source())}>,ranges=<the ELF's functions (nm)>,"
            "out=<counts> (exact instruction counts; --no-exact-counts drops it)")


def exact_counts_for(elf: Path, board: Board, probe: list[str], warn) -> InsnCounter | None:
    """An InsnCounter for a run of `elf` on `board`, or None (after one `warn(message)` line) when the board's
    QEMU cannot load the plugin; `probe`: QEMU arguments of a run that ends at once."""
    reason = plugin_unavailable(board.qemu.binary, tuple(probe))
    if reason is not None:
        warn(f"munify: exact instruction counts off: {reason}; reporting the tick figures only")
        return None
    return InsnCounter(elf, board)
