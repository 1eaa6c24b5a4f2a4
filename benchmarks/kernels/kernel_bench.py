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
from toolchain.ir import BlockKind, BlockStructure, arith
from toolchain.ir.blocks import full_block_mask, grid_shape
from toolchain.plan import dsp
from toolchain.resources import templates_dir

HERE = Path(__file__).resolve().parent
KERNELS = templates_dir() / "kernels" / "dsp"
SUPPORT_SOURCES = [KERNELS / "munify_dsp_tables.c"]
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
    header: str = ""
    defines: list[str] = field(default_factory=list)
    blocks: tuple | None = None  # (matrix, BlockStructure) of block cases, for the calibration
    scratch_query: str = ""  # the kernel's own scratch size, checked against scratch_bytes (the plan's)


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
    return f"{{{q.output_zp}, {q.act_min}, {q.act_max}, {prefix}_mult, {prefix}_shift, -1}}"


def huge_bias_requant(rng: np.random.Generator, rows: int) -> tuple[np.ndarray, Requant]:
    """Biases near +-2^30 (so 2 * acc overflows int32) and scales that keep the outputs inside int8."""
    bias = rng.choice([-1, 1], rows) * rng.integers((1 << 30) - (1 << 22), (1 << 30) + (1 << 22), rows)
    multiplier, shift = arith.quantize_multipliers(rng.uniform(20, 100, rows) / 2.0 ** 31)
    return bias.astype(np.int32), Requant(0, 0, -128, 127, multiplier, shift)


def fc_case(name: str, rng: np.random.Generator, rows: int, cols: int, batches: int = 1,
            huge_bias: bool = False) -> Case:
    matrix = rng.integers(-128, 128, (rows, cols)).astype(np.int8)
    bias = rng.integers(-5000, 5000, rows).astype(np.int32)
    q = random_requant(rng, rows, cols)
    if huge_bias:
        bias, q = huge_bias_requant(rng, rows)
    x = rng.integers(-128, 128, (batches, cols)).astype(np.int8)
    acc = (x.astype(np.int64) - q.input_zp) @ matrix.T.astype(np.int64) + bias
    arrays = [Array(f"{name}_w", "int8_t", dsp.pack_fc_dense(matrix).tolist()),
              Array(f"{name}_b", "int32_t", folded_bias(bias, matrix, q.input_zp).tolist()),
              Array(f"{name}_in", "int8_t", x.reshape(-1).tolist(), const=False)]
    quant = quant_setup(name, q, arrays)
    setup = f"static const munify_dsp_fc p = {{{rows}, {cols}, {batches}, {name}_w, {name}_b, {quant}}};"
    call = f"munify_dsp_fc_dense_s8(&p, {name}_in, {name}_out, {name}_scratch)"
    return Case(name, rows * cols * batches, setup, call, requantize(acc, q).reshape(-1).tolist(), arrays,
                scratch_bytes=dsp.fc_dense_scratch({"cin": cols, "cout": rows}), header="munify_dsp_fc_dense.h",
                scratch_query="munify_dsp_fc_dense_scratch_size(&p)")


@dataclass(frozen=True)
class Window:
    in_h: int
    in_w: int
    kernel_h: int
    kernel_w: int
    stride: int = 1
    pad: str = "SAME"
    dilation: int = 1

    def out_size(self, size: int, kernel: int) -> int:
        reach = (kernel - 1) * self.dilation + 1
        return -(-size // self.stride) if self.pad == "SAME" else (size - reach) // self.stride + 1

    @property
    def out_h(self) -> int:
        return self.out_size(self.in_h, self.kernel_h)

    @property
    def out_w(self) -> int:
        return self.out_size(self.in_w, self.kernel_w)

    def pads(self) -> tuple[int, int]:
        if self.pad == "VALID":
            return 0, 0
        def before(size, out, kernel):
            reach = (kernel - 1) * self.dilation + 1
            return max((out - 1) * self.stride + reach - size, 0) // 2
        return before(self.in_h, self.out_h, self.kernel_h), before(self.in_w, self.out_w, self.kernel_w)

    def patches(self, x: np.ndarray, pad_value: int) -> np.ndarray:
        """[out_h * out_w, KH * KW, C] input patches, padding taps filled with pad_value."""
        top, left = self.pads()
        h, w, c = x.shape
        padded = np.full((h + 2 * self.kernel_h * self.dilation, w + 2 * self.kernel_w * self.dilation, c),
                         pad_value, np.int64)
        oy0, ox0 = self.kernel_h * self.dilation, self.kernel_w * self.dilation
        padded[oy0:oy0 + h, ox0:ox0 + w] = x
        out = np.empty((self.out_h, self.out_w, self.kernel_h * self.kernel_w, c), np.int64)
        for oy in range(self.out_h):
            for ox in range(self.out_w):
                for ky in range(self.kernel_h):
                    for kx in range(self.kernel_w):
                        iy = oy0 + oy * self.stride - top + ky * self.dilation
                        ix = ox0 + ox * self.stride - left + kx * self.dilation
                        out[oy, ox, ky * self.kernel_w + kx] = padded[iy, ix]
        return out.reshape(self.out_h * self.out_w, self.kernel_h * self.kernel_w, c)

    def c_fields(self) -> str:
        top, left = self.pads()
        return (f"{self.kernel_h}, {self.kernel_w}, {self.stride}, {self.stride}, {self.dilation}, "
                f"{self.dilation}, {top}, {left}")


def conv_case(name: str, rng: np.random.Generator, window: Window, cin: int, cout: int,
              huge_bias: bool = False) -> Case:
    k = window.kernel_h * window.kernel_w * cin
    matrix = rng.integers(-128, 128, (cout, k)).astype(np.int8)
    bias = rng.integers(-5000, 5000, cout).astype(np.int32)
    q = random_requant(rng, cout, k)
    if huge_bias:
        bias, q = huge_bias_requant(rng, cout)
    x = rng.integers(-128, 128, (window.in_h, window.in_w, cin)).astype(np.int8)
    columns = window.patches(x, q.input_zp).reshape(-1, k)
    acc = (columns - q.input_zp) @ matrix.T.astype(np.int64) + bias
    pointwise = int(window.kernel_h == window.kernel_w == 1 and window.pads() == (0, 0))
    arrays = [Array(f"{name}_w", "int8_t", dsp.pack_conv_dense(matrix).tolist()),
              Array(f"{name}_b", "int32_t", folded_bias(bias, matrix, q.input_zp).tolist()),
              Array(f"{name}_in", "int8_t", x.reshape(-1).tolist(), const=False)]
    quant = quant_setup(name, q, arrays)
    setup = (f"static const munify_dsp_conv p = {{{window.in_h}, {window.in_w}, {cin}, {window.out_h}, "
             f"{window.out_w}, {cout}, {window.c_fields()}, {q.input_zp}, {pointwise}, {name}_w, {name}_b, "
             f"{quant}}};")
    call = f"munify_dsp_conv_dense_s8(&p, {name}_in, {name}_out, {name}_scratch)"
    return Case(name, len(columns) * cout * k, setup, call, requantize(acc, q).reshape(-1).tolist(), arrays,
                scratch_bytes=dsp.conv_dense_scratch({"k": k, "cout": cout, "pointwise": pointwise}),
                scratch_query="munify_dsp_conv_dense_scratch_size(&p)",
                header="munify_dsp_conv_dense.h")


def depthwise_case(name: str, rng: np.random.Generator, window: Window, channels: int) -> Case:
    taps = window.kernel_h * window.kernel_w
    matrix = rng.integers(-128, 128, (channels, taps)).astype(np.int8)
    bias = rng.integers(-5000, 5000, channels).astype(np.int32)
    q = random_requant(rng, channels, taps)
    x = rng.integers(-128, 128, (window.in_h, window.in_w, channels)).astype(np.int8)
    patches = window.patches(x, q.input_zp)  # [pixels, taps, channels]
    acc = np.einsum("ptc,ct->pc", patches - q.input_zp, matrix.astype(np.int64)) + bias
    arrays = [Array(f"{name}_w", "int8_t", dsp.pack_depthwise(matrix).tolist()),
              Array(f"{name}_b", "int32_t", folded_bias(bias, matrix, q.input_zp).tolist()),
              Array(f"{name}_pad", "int8_t", [q.input_zp] * channels),
              Array(f"{name}_in", "int8_t", x.reshape(-1).tolist(), const=False)]
    quant = quant_setup(name, q, arrays)
    setup = (f"static const munify_dsp_depthwise p = {{{window.in_h}, {window.in_w}, {channels}, {window.out_h}, "
             f"{window.out_w}, {window.c_fields()}, {name}_pad, {name}_w, {name}_b, {quant}}};")
    call = f"munify_dsp_depthwise_s8(&p, {name}_in, {name}_out, {name}_scratch)"
    return Case(name, len(patches) * taps * channels, setup, call, requantize(acc, q).reshape(-1).tolist(),
                arrays, scratch_bytes=dsp.depthwise_scratch({"cin": channels, "taps": taps}),
                scratch_query="munify_dsp_depthwise_scratch_size(&p)",
                header="munify_dsp_depthwise.h", defines=[f"MUNIFY_DSP_DW_TAPS {taps}"])


def block_matrix(rng: np.random.Generator, rows: int, cols: int, bo: int, bi: int,
                 mix: tuple[float, float, float]) -> tuple[np.ndarray, BlockStructure]:
    """An int8 matrix with dense / unified / pruned blocks in proportions `mix` (edge blocks dense)."""
    gr, gc = grid_shape(rows, cols, bo, bi)
    kinds = rng.choice(np.array([0, 1, 2], np.uint8), size=(gr, gc), p=mix)
    kinds = np.where(full_block_mask(rows, cols, bo, bi), kinds, BlockKind.DENSE).astype(np.uint8)
    per_weight = np.repeat(np.repeat(kinds, bo, 0), bi, 1)[:rows, :cols]
    magnitudes = np.repeat(rng.integers(0, 128, size=(rows, gc)), bi, 1)[:, :cols]
    signs = np.where(rng.random((rows, cols)) < 0.5, -1, 1)
    matrix = rng.integers(-128, 128, size=(rows, cols))
    matrix = np.where(per_weight == BlockKind.UNIFIED, signs * magnitudes, matrix)
    matrix = np.where(per_weight == BlockKind.PRUNED, 0, matrix).astype(np.int8)
    return matrix, BlockStructure.from_matrix(matrix, kinds, bo, bi)


BLOCK_ARRAYS = [("counts", "uint16_t"), ("dense_cols", "uint16_t"), ("dense_weights", "int8_t"),
                ("unified_records", "uint32_t"), ("unified_cols", "uint16_t"), ("unified_signs", "uint8_t"),
                ("unified_magnitudes", "int16_t"), ("tail_weights", "int8_t"), ("unified_bias", "int32_t")]


def blocks_case(name: str, rng: np.random.Generator, rows: int, cols: int, bo: int, bi: int,
                mix=(0.2, 0.3, 0.5), sign_bits: bool = False, window: Window | None = None, cin: int = 0,
                scalar: bool = False, table: bool = False) -> Case:
    """FC (window None) or CONV_2D over a block-structured weight; the reference is the plain matrix product.
    `scalar` builds the kernel's plain C path (MUNIFY_DSP_SCALAR) instead of its assembly; `table` the table
    records of the conv pixel quads (dsp-blocks-table)."""
    matrix, blocks = block_matrix(rng, rows, cols, bo, bi, mix)
    bias = rng.integers(-5000, 5000, rows).astype(np.int32)
    q = random_requant(rng, rows, cols)
    if window is None:
        x = rng.integers(-128, 128, (1, cols)).astype(np.int8)
        columns = x.astype(np.int64)
    else:
        x = rng.integers(-128, 128, (window.in_h, window.in_w, cin)).astype(np.int8)
        columns = window.patches(x, q.input_zp).reshape(-1, cols)
    acc = (columns - q.input_zp) @ matrix.T.astype(np.int64) + bias
    dense16 = window is None and bo == 1 and not sign_bits  # what the FC speed variant packs (dsp-blocks-wide16)
    packed = dsp.pack_blocks(matrix, blocks, sign_bits, conv=window is not None, dense16=dense16, table=table)
    ctypes = dict(BLOCK_ARRAYS, dense_weights="int16_t" if dense16 else "int8_t")
    arrays = [Array(f"{name}_{role}", ctypes[role], packed[role].tolist() or [0]) for role, _ in BLOCK_ARRAYS]
    arrays += [Array(f"{name}_b", "int32_t", folded_bias(bias, matrix, q.input_zp).tolist()),
               Array(f"{name}_in", "int8_t", x.reshape(-1).tolist(), const=False)]
    quant = quant_setup(name, q, arrays)
    lists = ", ".join(f".{role} = (const int8_t *){name}_{role}" if role == "dense_weights"
                      else f".{role} = {name}_{role}" for role, _ in BLOCK_ARRAYS)
    setup = f"static const munify_dsp_blocks p = {{{rows}, {cols}, {{{lists}}}, {name}_b, {quant}}};"
    pointwise = window is None or int(window.kernel_h == window.kernel_w == 1 and window.pads() == (0, 0))
    scratch = dsp.blocks_scratch({"k": cols, "bo": bo, "bi": bi, "cout": rows, "pointwise": pointwise},
                                 conv=window is not None, table=table)
    if window is None:
        call = f"munify_dsp_fc_blocks_s8(&p, 1, {name}_in, {name}_out, {name}_scratch)"
    else:
        setup += (f"\nstatic const munify_dsp_conv g = {{{window.in_h}, {window.in_w}, {cin}, {window.out_h}, "
                  f"{window.out_w}, {rows}, {window.c_fields()}, {q.input_zp}, {pointwise}, 0, 0, {quant}}};")
        call = f"munify_dsp_conv_blocks_s8(&p, &g, {name}_in, {name}_out, {name}_scratch)"
    defines = [f"MUNIFY_DSP_BO {bo}", f"MUNIFY_DSP_BI {bi}", f"MUNIFY_DSP_SIGN_BITS {int(sign_bits)}",
               f"MUNIFY_DSP_DENSE16 {int(dense16)}", f"MUNIFY_DSP_CONV {int(window is not None)}",
               f"MUNIFY_DSP_TABLE_RECORDS {int(table)}",
               f"MUNIFY_DSP_SCALAR {int(scalar)}"]
    return Case(name, len(columns) * rows * cols, setup, call, requantize(acc, q).reshape(-1).tolist(), arrays,
                scratch_bytes=scratch, header="munify_dsp_blocks.h", defines=defines, blocks=(matrix, blocks),
                scratch_query=f"munify_dsp_blocks_scratch_size(&p, {int(window is not None)}, {1 - int(pointwise)})")


# ---------------------------------------------------------------------------------------------------------
# Build and run

def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SetupError(f"{name} is not installed; run 'make setup' (needs gcc-arm-none-eabi, qemu-system-arm)")
    return path


def build(cases: list[Case], workdir: Path) -> Path:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    sources = [HERE / "startup.c", *SUPPORT_SOURCES, workdir / "main.c"]
    (workdir / "main.c").write_text(env.get_template("main.c.j2").render(cases=cases))
    for case in cases:
        sources.append(workdir / f"case_{case.name}.c")
        sources[-1].write_text(env.get_template("case.c.j2").render(case=case))
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
             fc_case("fc13x37", rng, 13, 37, batches=2),
             conv_case("pw64_25x5", rng, Window(25, 5, 1, 1, pad="VALID"), 64, 64),
             conv_case("conv3x3_16", rng, Window(16, 16, 3, 3), 16, 16),
             conv_case("conv10x4_s2", rng, Window(49, 10, 10, 4, stride=2), 1, 64),
             conv_case("conv_odd", rng, Window(7, 5, 3, 2, stride=2, pad="VALID", dilation=1), 3, 5),
             depthwise_case("dw3x3_64", rng, Window(25, 5, 3, 3), 64),
             depthwise_case("dw_odd", rng, Window(9, 7, 3, 3, stride=2), 12),
             blocks_case("bl_dense_1x8", rng, 128, 512, 1, 8, mix=(1.0, 0.0, 0.0)),
             blocks_case("bl_unified_1x4", rng, 128, 512, 1, 4, mix=(0.0, 1.0, 0.0)),
             blocks_case("bl_unified_1x8", rng, 128, 512, 1, 8, mix=(0.0, 1.0, 0.0)),
             blocks_case("bl_unified_1x8_bits", rng, 128, 512, 1, 8, mix=(0.0, 1.0, 0.0), sign_bits=True),
             blocks_case("bl_unified_4x8", rng, 128, 512, 4, 8, mix=(0.0, 1.0, 0.0)),
             blocks_case("bl_pruned50_1x8", rng, 128, 512, 1, 8, mix=(0.5, 0.0, 0.5)),
             blocks_case("bl_mixed_1x8", rng, 128, 512, 1, 8, mix=(0.2, 0.3, 0.5)),
             blocks_case("bl_mixed_2x16_odd", rng, 13, 70, 2, 16, mix=(0.3, 0.4, 0.3), sign_bits=True),
             blocks_case("bl_mixed_2x8", rng, 128, 512, 2, 8),
             blocks_case("bl_mixed_2x8_bits", rng, 128, 512, 2, 8, sign_bits=True),
             blocks_case("bl_mixed_2x4", rng, 128, 512, 2, 4),
             blocks_case("bl_mixed_2x4_bits_odd", rng, 13, 70, 2, 4, sign_bits=True, mix=(0.3, 0.4, 0.3)),
             blocks_case("bl_conv_2x8_odd", rng, 13, 54, 2, 8, window=Window(5, 3, 3, 3), cin=6),
             blocks_case("bl_conv3x3_2x4", rng, 16, 72, 2, 4, window=Window(6, 5, 3, 3), cin=8),
             conv_case("conv_pw64_ref", rng, Window(5, 5, 1, 1, pad="VALID"), 64, 64),
             blocks_case("bl_pw64_mixed_1x8", rng, 64, 64, 1, 8, window=Window(5, 5, 1, 1, pad="VALID"), cin=64),
             blocks_case("bl_pw64_mixed_1x8_bits", rng, 64, 64, 1, 8, sign_bits=True,
                         window=Window(5, 5, 1, 1, pad="VALID"), cin=64),
             blocks_case("bl_pw64_mixed_1x4", rng, 64, 64, 1, 4, window=Window(5, 5, 1, 1, pad="VALID"), cin=64),
             blocks_case("bl_conv3x3_1x8", rng, 32, 288, 1, 8, window=Window(8, 8, 3, 3), cin=32),
             blocks_case("bl_conv3x3_1x8_bits", rng, 32, 288, 1, 8, sign_bits=True, window=Window(8, 8, 3, 3), cin=32),
             conv_case("conv3x3_32_ref", rng, Window(8, 8, 3, 3), 32, 32)]
    for r in measure(cases):
        print(f"{r.name:16s} wrong={r.wrong:4d} insns={r.instructions:9d} macs={r.macs:8d} "
              f"insns/MAC={r.per_mac:.3f}")


if __name__ == "__main__":
    main()
