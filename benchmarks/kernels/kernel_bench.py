"""Microbenchmarks of single Cortex-M DSP kernels on mps2-an386 (Cortex-M4F) under QEMU, built as users get
them: each case is a one-layer IR graph planned with its kernel forced (`make_plan(force=...)`: the planner
packs the weights and folds the bias), rendered by the real templates (codegen_templates/), and all cases
run in one program built like the firmware (`toolchain.build.build_program`: the Cortex-M port's start-up,
SysTick timer and semihosting exit, the linker script rendered from boards/mps2-an386.toml, the board's UART
driver, the firmware's compiler flags). Each kernel runs once between two `hal_ticks()` reads (QEMU -icount
shift=0: 40 retired instructions per tick at 25 MHz) and its int8 output is compared with the reference
executor's (toolchain.ir.reference).

Used by the tests (tests/codegen/test_dsp_*.py) and calibrate.py; `python -m benchmarks.kernels.kernel_bench`
prints instructions per MAC for a sweep.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from toolchain.boards import load_board
from toolchain.build import build_program
from toolchain.codegen import render
from toolchain.errors import MunifyError
from toolchain.ir import BlockKind, BlockStructure, Graph, Op, Quant, Tensor, matrix_to_weight, reference
from toolchain.ir.blocks import full_block_mask, grid_shape
from toolchain.plan import Plan, make_plan
from toolchain.process import run_logged
from toolchain.runners.qemu import QemuProcess, qemu_command

BOARD = "mps2-an386"
HERE = Path(__file__).resolve().parent
PROGRAM_TEMPLATE = "main.c.j2"
HARNESS = ("out.c",)  # the firmware's output formatter; the program is its own main()
QEMU_TIMEOUT_S = 300
DROPPED = ("model.c", "model.h")  # the cases are called one by one, not as one model
SCALAR_DEFINE = "#define MUNIFY_DSP_SCALAR 1 /* the kernels' plain C path (munify_dsp_blocks_scalar.h) */\n"


@dataclass(frozen=True)
class Case:
    """One layer: its graph, the kernel forced on it, one input and what the reference makes of it."""

    name: str
    graph: Graph
    kernel: str
    input: np.ndarray
    optimize: str = "balanced"
    scalar: bool = False  # build the block kernel's plain C path (MUNIFY_DSP_SCALAR 1)
    blocks: tuple | None = None  # (matrix, BlockStructure) of block cases, for the calibration

    @functools.cached_property
    def plan(self) -> Plan:
        board = load_board(BOARD)
        return make_plan(self.graph, board.features, self.optimize, force={self.graph.ops[0].name: self.kernel},
                         cpu=board.cpu)

    @property
    def layer(self):
        return self.plan.layers[0]

    @property
    def macs(self) -> int:
        return self.layer.macs

    @functools.cached_property
    def expected(self) -> np.ndarray:
        return reference.run(self.graph, [self.input])[0].reshape(-1)


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
# Random layers

@dataclass(frozen=True)
class Requant:
    """The scales of a random layer: input and output per tensor, weights per output channel."""

    input_scale: float
    input_zp: int
    output_scale: float
    output_zp: int
    weight_scales: np.ndarray
    activation: str = "NONE"


def random_requant(rng: np.random.Generator, channels: int, reduction: int) -> Requant:
    """Scales that map the accumulator range onto int8 without saturating most outputs."""
    effective = rng.uniform(0.3, 3.0, channels) / (reduction ** 0.5 * 128 * 40)
    activation = str(rng.choice(["NONE", "RELU"]))
    input_scale, output_scale = 0.05, 0.05
    return Requant(input_scale, int(rng.integers(-128, 128)), output_scale, int(rng.integers(-20, 20)),
                   effective * output_scale / input_scale, activation)


def huge_bias_requant(rng: np.random.Generator, rows: int) -> tuple[np.ndarray, Requant]:
    """Biases near +-2^30 (so 2 * acc overflows int32) and scales that keep the outputs inside int8."""
    bias = rng.choice([-1, 1], rows) * rng.integers((1 << 30) - (1 << 22), (1 << 30) + (1 << 22), rows)
    return bias.astype(np.int32), Requant(1.0, 0, 1.0, 0, rng.uniform(20, 100, rows) / 2.0 ** 31)


@dataclass(frozen=True)
class Window:
    """The spatial geometry of a convolution (SAME or VALID padding, one stride and dilation)."""

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
        """(top, left) padding, as TFLite puts the odd pixel of SAME padding at the bottom and right."""
        if self.pad == "VALID":
            return 0, 0

        def before(size: int, out: int, kernel: int) -> int:
            reach = (kernel - 1) * self.dilation + 1
            return max((out - 1) * self.stride + reach - size, 0) // 2

        return before(self.in_h, self.out_h, self.kernel_h), before(self.in_w, self.out_w, self.kernel_w)

    @property
    def attrs(self) -> dict:
        return {"stride": (self.stride, self.stride), "padding": self.pad, "dilation": (self.dilation, self.dilation)}


def _layer_graph(name: str, op_type: str, x: np.ndarray, weights: np.ndarray, bias: np.ndarray,
                 out_shape: tuple[int, ...], q: Requant, attrs: dict | None = None,
                 blocks: BlockStructure | None = None) -> Graph:
    channel_axis = 3 if op_type == "DEPTHWISE_CONV_2D" else 0
    channels = len(q.weight_scales)
    tensors = {
        "x": Tensor("x", x.shape, "int8", Quant([q.input_scale], [q.input_zp])),
        "w": Tensor("w", weights.shape, "int8", Quant(q.weight_scales, np.zeros(channels), axis=channel_axis),
                    weights, blocks),
        "b": Tensor("b", bias.shape, "int32", Quant(q.input_scale * q.weight_scales, np.zeros(channels), axis=0),
                    bias),
        "y": Tensor("y", out_shape, "int8", Quant([q.output_scale], [q.output_zp])),
    }
    op = Op(name, op_type, ("x", "w", "b"), ("y",), {**(attrs or {}), "activation": q.activation})
    graph = Graph(name, tensors, (op,), ("x",), ("y",))
    graph.validate()
    return graph


def fc_case(name: str, rng: np.random.Generator, rows: int, cols: int, batches: int = 1,
            huge_bias: bool = False) -> Case:
    matrix = rng.integers(-128, 128, (rows, cols)).astype(np.int8)
    bias = rng.integers(-5000, 5000, rows).astype(np.int32)
    q = random_requant(rng, rows, cols)
    if huge_bias:
        bias, q = huge_bias_requant(rng, rows)
    x = rng.integers(-128, 128, (batches, cols)).astype(np.int8)
    graph = _layer_graph(name, "FULLY_CONNECTED", x, matrix, bias, (batches, rows), q)
    return Case(name, graph, "fc_dense_dsp", x)


def conv_case(name: str, rng: np.random.Generator, window: Window, cin: int, cout: int,
              huge_bias: bool = False, kernel: str = "conv_dense_dsp", scalar: bool = False,
              activation: str | None = None) -> Case:
    """A dense CONV_2D on `kernel` (e.g. conv1ch_dense_dsp for one input channel); `scalar`: its plain C path;
    `activation` overrides the random one."""
    k = window.kernel_h * window.kernel_w * cin
    matrix = rng.integers(-128, 128, (cout, k)).astype(np.int8)
    bias = rng.integers(-5000, 5000, cout).astype(np.int32)
    q = random_requant(rng, cout, k)
    if huge_bias:
        bias, q = huge_bias_requant(rng, cout)
    if activation is not None:  # instead of the random one (the same random draws)
        q = dataclasses.replace(q, activation=activation)
    x = rng.integers(-128, 128, (1, window.in_h, window.in_w, cin)).astype(np.int8)
    weights = matrix_to_weight("CONV_2D", matrix, (cout, window.kernel_h, window.kernel_w, cin))
    graph = _layer_graph(name, "CONV_2D", x, weights, bias, (1, window.out_h, window.out_w, cout), q,
                         window.attrs)
    return Case(name, graph, kernel, x, scalar=scalar)


def with_max_pool(case: Case, pad: str = "VALID", activation: str = "NONE") -> Case:
    """`case`'s conv followed by a 2x2 / stride 2 MAX_POOL_2D (quantized as the conv's output): the planner fuses
    the two where the conv's kernel can (toolchain.plan.fusion); the case's output is the pool's."""
    graph = case.graph
    y = graph.tensor("y")
    n, h, w, c = y.shape
    pooled = (n, -(-h // 2), -(-w // 2), c) if pad == "SAME" else (n, h // 2, w // 2, c)
    tensors = {**graph.tensors, "pooled": Tensor("pooled", pooled, "int8", y.quant)}
    pool = Op(f"{case.name}_pool", "MAX_POOL_2D", ("y",), ("pooled",),
              {"filter": (2, 2), "stride": (2, 2), "padding": pad, "activation": activation})
    graph = Graph(graph.name, tensors, graph.ops + (pool,), graph.inputs, ("pooled",))
    graph.validate()
    return dataclasses.replace(case, graph=graph)


def depthwise_case(name: str, rng: np.random.Generator, window: Window, channels: int) -> Case:
    taps = window.kernel_h * window.kernel_w
    matrix = rng.integers(-128, 128, (channels, taps)).astype(np.int8)
    bias = rng.integers(-5000, 5000, channels).astype(np.int32)
    q = random_requant(rng, channels, taps)
    x = rng.integers(-128, 128, (1, window.in_h, window.in_w, channels)).astype(np.int8)
    weights = matrix_to_weight("DEPTHWISE_CONV_2D", matrix, (1, window.kernel_h, window.kernel_w, channels))
    graph = _layer_graph(name, "DEPTHWISE_CONV_2D", x, weights, bias, (1, window.out_h, window.out_w, channels),
                         q, {**window.attrs, "depth_multiplier": 1})
    return Case(name, graph, "dwconv_dense_dsp", x)


def maxpool_case(name: str, rng: np.random.Generator, window: Window, channels: int, kernel: str = "maxpool_dsp",
                 activation: str = "NONE") -> Case:
    """MAX_POOL_2D over `window` (its kernel the pool's filter), input and output quantized alike."""
    x = rng.integers(-128, 128, (1, window.in_h, window.in_w, channels)).astype(np.int8)
    quant = Quant([0.05], [int(rng.integers(-20, 20))])
    tensors = {"x": Tensor("x", x.shape, "int8", quant),
               "y": Tensor("y", (1, window.out_h, window.out_w, channels), "int8", quant)}
    attrs = {"filter": (window.kernel_h, window.kernel_w), "stride": (window.stride, window.stride),
             "padding": window.pad, "activation": activation}
    graph = Graph(name, tensors, (Op(name, "MAX_POOL_2D", ("x",), ("y",), attrs),), ("x",), ("y",))
    graph.validate()
    return Case(name, graph, kernel, x)


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


def block_kernel(op_type: str, bo: int, bi: int, sign_bits: bool, table: bool = False,
                 pairs: bool = False) -> tuple[str, str]:
    """(variant, optimize mode) of the DSP block kernel family for bo x bi blocks (toolchain/plan/kernels/dsp/);
    `table`: the table records of the CONV_2D 1 x bi pixel quads (speed); `pairs`: the FC pair records."""
    stem = "fc" if op_type == "FULLY_CONNECTED" else "conv"
    family = "" if bo == 1 else "_bo2" if bo == 2 and bi <= 8 else "_tiles"
    layout = "pairs" if pairs else "table" if table else "bits" if sign_bits else "wide"
    return f"{stem}_blocks_{layout}{family}_dsp", "balanced" if sign_bits else "speed"


def blocks_case(name: str, rng: np.random.Generator, rows: int, cols: int, bo: int, bi: int,
                mix=(0.2, 0.3, 0.5), sign_bits: bool = False, window: Window | None = None, cin: int = 0,
                scalar: bool = False, table: bool = False, pairs: bool = False, huge_bias: bool = False,
                activation: str | None = None) -> Case:
    """FC (window None) or CONV_2D over a block-structured weight, on the block kernel of its shape: sign bits
    (balanced) or mask bytes (speed; FC 1 x bi stores its dense blocks widened). `scalar` builds the kernel's
    plain C path (MUNIFY_DSP_SCALAR) instead of its assembly; `table` the conv pixel quads' table records,
    `pairs` the FC pair records; `huge_bias` biases near +-2^30; `activation` overrides the random one."""
    matrix, blocks = block_matrix(rng, rows, cols, bo, bi, mix)
    bias = rng.integers(-5000, 5000, rows).astype(np.int32)
    q = random_requant(rng, rows, cols)
    if huge_bias:  # 2 * acc overflows int32: the requantization's 64-bit path
        bias, q = huge_bias_requant(rng, rows)
    if activation is not None:  # instead of the random one (the same random draws)
        q = dataclasses.replace(q, activation=activation)
    if window is None:
        x = rng.integers(-128, 128, (1, cols)).astype(np.int8)
        graph = _layer_graph(name, "FULLY_CONNECTED", x, matrix, bias, (1, rows), q, blocks=blocks)
    else:
        x = rng.integers(-128, 128, (1, window.in_h, window.in_w, cin)).astype(np.int8)
        weights = matrix_to_weight("CONV_2D", matrix, (rows, window.kernel_h, window.kernel_w, cin))
        graph = _layer_graph(name, "CONV_2D", x, weights, bias, (1, window.out_h, window.out_w, rows), q,
                             window.attrs, blocks)
    kernel, optimize = block_kernel(graph.ops[0].type, bo, bi, sign_bits, table, pairs)
    return Case(name, graph, kernel, x, optimize, scalar, (matrix, blocks))


# ---------------------------------------------------------------------------------------------------------
# Build and run

def _as_layer(case: Case, index: int):
    """The case's layer as layer `index` of the benchmark program: the names the planner gives that layer."""
    layer = case.layer
    function = f"munify_layer_{index}"
    arrays = {role: dataclasses.replace(array, name=f"{function}_{role}") for role, array in layer.arrays.items()}
    return dataclasses.replace(layer, index=index, function=function, arrays=arrays,
                               source=f"layer_{index:03d}_{case.name}.c")


def sources(cases: list[Case]) -> dict[str, str]:
    """The program's C files: every case's layer and weights as the code generator renders them, and main.c."""
    if len({case.name for case in cases}) != len(cases):
        raise MunifyError("benchmark case names must be unique")
    layers = tuple(_as_layer(case, index) for index, case in enumerate(cases))
    program = dataclasses.replace(cases[0].plan, model_name="kernel_bench", layers=layers)
    files = {name: text for name, text in render(program).items() if name not in DROPPED}
    for case, layer in zip(cases, layers):
        if case.scalar:
            files[layer.source] = SCALAR_DEFINE + files[layer.source]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    files["main.c"] = env.get_template(PROGRAM_TEMPLATE).render(
        cases=[(case, layer, case.input.reshape(-1).tolist(), case.expected.tolist())
               for case, layer in zip(cases, layers)])
    return files


_CASE_LINE = re.compile(r"^CASE (\S+) (\d+) (\d+) (\d+)\r?$", re.MULTILINE)


def run(elf: Path) -> dict[str, tuple[int, int]]:
    """Case name -> (wrong outputs, instructions) from one QEMU run of the program."""
    board = load_board(BOARD)
    done = run_logged(qemu_command(board, elf, serial="stdio"), timeout=QEMU_TIMEOUT_S,
                      install_hint="see README: make setup")
    console = done.stdout
    if done.returncode != 0 or "BENCH DONE" not in console:
        raise MunifyError(f"the kernel benchmark did not finish (exit {done.returncode}): "
                          f"{(console + done.stderr)[-800:]}")
    return {m[1]: (int(m[2]), QemuProcess.count(int(m[3]), int(m[4]))) for m in _CASE_LINE.finditer(console)}


def measure(cases: list[Case]) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="munify-kbench-") as tmp:
        elf = build_program(sources(cases), load_board(BOARD), Path(tmp) / "build", HARNESS)
        found = run(elf)
    return [Result(case.name, *found[case.name], case.macs) for case in cases]


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
        print(f"{r.name:22s} wrong={r.wrong:4d} insns={r.instructions:9d} macs={r.macs:8d} "
              f"insns/MAC={r.per_mac:.3f}")


if __name__ == "__main__":
    main()
