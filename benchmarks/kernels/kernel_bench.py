"""Microbenchmarks of the Cortex-M DSP kernels on mps2-an386 (Cortex-M4F) under QEMU.

Every case runs its kernel once between two SysTick reads (QEMU -icount shift=0: 40 retired instructions per
tick) and compares the int8 output with the numpy reference of the same layer. Used by the tests
(tests/codegen/test_dsp_kernels.py) and, with `python benchmarks/kernels/kernel_bench.py`, as a sweep that
prints instructions per MAC.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np

from toolchain.errors import SetupError
from toolchain.ir import arith
from toolchain.plan import dsp
from toolchain.resources import templates_dir

HERE = Path(__file__).resolve().parent
KERNELS = templates_dir() / "kernels" / "dsp"
CFLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2", "-Wall", "-Wextra",
          "-Werror", "-ffunction-sections", "-fdata-sections"]
QEMU_TIMEOUT_S = 120


@dataclass
class Array:
    name: str
    ctype: str
    values: list
    const: bool = True


@dataclass
class Case:
    name: str
    macs: int
    setup: str
    call: str
    expected: list
    arrays: list[Array] = field(default_factory=list)
    scratch_bytes: int = 0


@dataclass(frozen=True)
class Result:
    name: str
    wrong: int
    instructions: int
    macs: int

    @property
    def per_mac(self) -> float:
        return self.instructions / max(self.macs, 1)


# ---------------------------------------------------------------------------------------------------------
# Random layers and their reference outputs

@dataclass(frozen=True)
class Requant:
    input_zp: int
    output_zp: int
    act_min: int
    act_max: int
    multiplier: np.ndarray
    shift: np.ndarray


def random_requant(rng: np.random.Generator, channels: int, reduction: int) -> Requant:
    """Multipliers that map the accumulator range onto int8 without saturating most outputs."""
    scale = rng.uniform(0.3, 3.0, channels) / (reduction ** 0.5 * 128 * 40)
    multiplier, shift = arith.quantize_multipliers(scale)
    act_min = int(rng.choice([-128, -100]))
    return Requant(int(rng.integers(-128, 128)), int(rng.integers(-20, 20)), act_min, 127, multiplier, shift)


def requantize(acc: np.ndarray, q: Requant) -> np.ndarray:
    out = arith.multiply_by_quantized_multiplier(acc, q.multiplier, q.shift) + q.output_zp
    return np.clip(out, q.act_min, q.act_max).astype(np.int8)


def folded_bias(bias: np.ndarray, matrix: np.ndarray, input_zp: int) -> np.ndarray:
    """Bias with the input-offset term folded in: the kernels then multiply raw int8 inputs."""
    return (bias - input_zp * matrix.astype(np.int64).sum(axis=1)).astype(np.int32)


def quant_setup(prefix: str, q: Requant, arrays: list[Array]) -> str:
    arrays.append(Array(f"{prefix}_mult", "int32_t", [int(v) for v in q.multiplier]))
    arrays.append(Array(f"{prefix}_shift", "int32_t", [int(v) for v in q.shift]))
    return (f"{{0, {q.output_zp}, {q.act_min}, {q.act_max}, {prefix}_mult, {prefix}_shift}}")


def fc_case(name: str, rng: np.random.Generator, rows: int, cols: int, batches: int = 1) -> Case:
    matrix = rng.integers(-128, 128, (rows, cols)).astype(np.int8)
    bias = rng.integers(-5000, 5000, rows).astype(np.int32)
    q = random_requant(rng, rows, cols)
    x = rng.integers(-128, 128, (batches, cols)).astype(np.int8)
    acc = (x.astype(np.int64) - q.input_zp) @ matrix.T.astype(np.int64) + bias
    arrays = [Array(f"{name}_w", "int8_t", dsp.pack_fc_dense(matrix).tolist()),
              Array(f"{name}_b", "int32_t", folded_bias(bias, matrix, q.input_zp).tolist()),
              Array(f"{name}_in", "int8_t", x.reshape(-1).tolist(), const=False)]
    quant = quant_setup(name, q, arrays)
    setup = f"static const munify_dsp_fc p = {{{rows}, {cols}, {batches}, {name}_w, {name}_b, {quant}}};"
    call = f"munify_dsp_fc_dense_s8(&p, {name}_in, {name}_out, {name}_scratch)"
    return Case(name, rows * cols * batches, setup, call, requantize(acc, q).reshape(-1).tolist(), arrays,
                scratch_bytes=2 * dsp._round_up(cols, 4))


# ---------------------------------------------------------------------------------------------------------
# Build and run

def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SetupError(f"{name} is not installed; run 'make setup' (needs gcc-arm-none-eabi, qemu-system-arm)")
    return path


def build(cases: list[Case], workdir: Path) -> Path:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    (workdir / "cases.c").write_text(env.get_template("cases.c.j2").render(cases=cases))
    sources = [workdir / "cases.c", HERE / "startup.c", *sorted(KERNELS.glob("*.c"))]
    elf = workdir / "bench.elf"
    cmd = [_tool("arm-none-eabi-gcc"), *CFLAGS, f"-I{HERE}", f"-I{KERNELS}", *map(str, sources),
           "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections",
           f"-T{HERE / 'mps2_an386.ld'}", "-o", str(elf)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return elf


def run(elf: Path) -> dict[str, tuple[int, int]]:
    cmd = [_tool("qemu-system-arm"), "-M", "mps2-an386", "-nographic", "-icount", "shift=0", "-semihosting",
           "-monitor", "none", "-serial", "none", "-kernel", str(elf)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=QEMU_TIMEOUT_S)
    console = done.stdout + done.stderr  # QEMU writes semihosting output to stderr
    if done.returncode != 0 or "BENCH DONE" not in console:
        raise RuntimeError(f"benchmark did not finish (exit {done.returncode}): {console[-800:]}")
    return {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(r"CASE (\S+) (-?\d+) (-?\d+)", console)}


def measure(cases: list[Case]) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="munify-kbench-") as tmp:
        try:
            elf = build(cases, Path(tmp))
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"benchmark build failed:\n{exc.stderr}") from None
        found = run(elf)
    return [Result(c.name, *found[c.name], c.macs) for c in cases]


def main() -> None:
    rng = np.random.default_rng(1)
    cases = [fc_case("fc64x256", rng, 64, 256), fc_case("fc128x512", rng, 128, 512),
             fc_case("fc13x37", rng, 13, 37, batches=2)]
    for r in measure(cases):
        print(f"{r.name:16s} wrong={r.wrong:4d} insns={r.instructions:9d} macs={r.macs:8d} "
              f"insns/MAC={r.per_mac:.3f}")


if __name__ == "__main__":
    main()
