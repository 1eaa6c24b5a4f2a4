"""Small random IR graphs built by hand: random shapes, strides, paddings, dilations, activations, int8 weights
with random block structures (dense, unified and pruned blocks, edge blocks), and scales that keep outputs
unsaturated. Every op type the code generator supports appears in `random_chain`."""

from __future__ import annotations

import numpy as np

from toolchain.ir import BlockKind, BlockStructure, Graph, Op, Quant, Tensor, matrix_to_weight
from toolchain.ir.blocks import full_block_mask, grid_shape

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
BO_CHOICES = (1, 2, 4)
BI_CHOICES = (2, 4, 8, 16)


def random_blocks(rng: np.random.Generator, rows: int, cols: int,
                  shape: tuple[int, int] | None = None) -> tuple[np.ndarray, BlockStructure]:
    """An int8 matrix and a block structure with all three kinds (where the grid has full blocks); `shape`
    (bo, bi), else a random one."""
    bo, bi = shape or (int(rng.choice(BO_CHOICES)), int(rng.choice(BI_CHOICES)))
    gr, gc = grid_shape(rows, cols, bo, bi)
    kinds = rng.choice(np.array([0, 1, 2], np.uint8), size=(gr, gc), p=[0.4, 0.35, 0.25])
    kinds = np.where(full_block_mask(rows, cols, bo, bi), kinds, BlockKind.DENSE).astype(np.uint8)
    matrix = rng.integers(-127, 128, size=(rows, cols)).astype(np.int32)
    per_weight = np.repeat(np.repeat(kinds, bo, 0), bi, 1)[:rows, :cols]
    magnitudes = np.repeat(rng.integers(0, 128, size=(rows, gc)), bi, 1)[:, :cols]
    signs = np.where(rng.random((rows, cols)) < 0.5, -1, 1)
    matrix = np.where(per_weight == BlockKind.UNIFIED, signs * magnitudes, matrix)
    matrix = np.where(per_weight == BlockKind.PRUNED, 0, matrix).astype(np.int8)
    return matrix, BlockStructure.from_matrix(matrix, kinds, bo, bi)


class ChainBuilder:
    """Appends ops to a single-input chain; every new activation gets a fresh scale and zero point."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, ...]):
        self.rng = rng
        self.tensors: dict[str, Tensor] = {}
        self.ops: list[Op] = []
        self.current = self._activation("input", shape, scale=0.05)
        self.input = self.current

    def _activation(self, name: str, shape, scale: float, zero_point: int | None = None) -> str:
        zp = int(self.rng.integers(-20, 21)) if zero_point is None else zero_point
        self.tensors[name] = Tensor(name, tuple(int(d) for d in shape), "int8", Quant(np.array([scale]), np.array([zp])))
        return name

    def _const(self, name: str, data: np.ndarray, quant: Quant | None = None, blocks=None) -> str:
        self.tensors[name] = Tensor(name, tuple(data.shape), str(data.dtype), quant, data, blocks)
        return name

    def shape(self, name: str | None = None) -> tuple[int, ...]:
        return self.tensors[name or self.current].shape

    def scale(self, name: str | None = None) -> float:
        return float(self.tensors[name or self.current].quant.scale[0])

    def _emit(self, op_type: str, inputs, out_shape, out_scale: float, attrs: dict, zero_point=None) -> str:
        index = len(self.ops)
        out = self._activation(f"t{index}", out_shape, out_scale, zero_point)
        self.ops.append(Op(f"{op_type.lower()}_{index}", op_type, tuple(inputs), (out,), attrs))
        self.current = out
        return out

    def _weighted(self, op_type: str, matrix_rows: int, matrix_cols: int, weight_shape, out_shape, attrs,
                  taps_per_output: int, blocked: bool, block_shape: tuple[int, int] | None = None,
                  activation: str | None = None) -> str:
        rng = self.rng
        if blocked:
            matrix, blocks = random_blocks(rng, matrix_rows, matrix_cols, block_shape)
        else:
            matrix, blocks = rng.integers(-127, 128, size=(matrix_rows, matrix_cols)).astype(np.int8), None
        weight = matrix_to_weight(op_type, matrix, weight_shape)
        axis = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}[op_type]
        per_channel = op_type != "FULLY_CONNECTED" or rng.random() < 0.5
        channels = weight_shape[axis]
        w_scales = rng.uniform(0.002, 0.01, size=channels if per_channel else 1)
        index = len(self.ops)
        w = self._const(f"w{index}", weight, Quant(w_scales, np.zeros(len(w_scales), np.int64),
                                                    axis if per_channel else None), blocks)
        bias_scale = self.scale() * w_scales
        bias = rng.integers(-3000, 3001, size=channels).astype(np.int32)
        b = self._const(f"b{index}", bias, Quant(bias_scale, np.zeros(len(bias_scale), np.int64),
                                                  0 if per_channel else None))
        # accumulators are sums of ~taps products of two ~N(0, 70) values: aim the output std at ~40 steps
        out_scale = float(self.scale() * np.mean(w_scales) * 70 * 70 * np.sqrt(taps_per_output) / 40)
        attrs = dict(attrs, activation=activation or str(rng.choice(ACTIVATIONS)))
        return self._emit(op_type, (self.current, w, b), out_shape, out_scale, attrs)

    def conv(self, blocked: bool = True) -> str:
        rng = self.rng
        n, h, w, cin = self.shape()
        cout = int(rng.integers(1, 13))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        padding = str(rng.choice(["SAME", "VALID"]))
        out_hw = _out_hw(padding, (h, w), (kh, kw), stride, dilation)
        if out_hw is None:
            padding, out_hw = "SAME", _out_hw("SAME", (h, w), (kh, kw), stride, dilation)
        attrs = {"stride": stride, "dilation": dilation, "padding": padding}
        return self._weighted("CONV_2D", cout, kh * kw * cin, (cout, kh, kw, cin), (n, *out_hw, cout), attrs,
                              kh * kw * cin, blocked)

    def conv_3x3_same(self, cout: int, block_shape: tuple[int, int] | None = None,
                      activation: str | None = None) -> str:
        """A 3x3 / stride 1 SAME conv to `cout` channels, 1 x bi (`block_shape`) or dense weights."""
        n, h, w, cin = self.shape()
        attrs = {"stride": (1, 1), "dilation": (1, 1), "padding": "SAME"}
        return self._weighted("CONV_2D", cout, 9 * cin, (cout, 3, 3, cin), (n, h, w, cout), attrs, 9 * cin,
                              block_shape is not None, block_shape, activation)

    def max_pool_2x2(self, padding: str = "VALID", activation: str = "NONE") -> str:
        n, h, w, c = self.shape()
        q = self.tensors[self.current].quant
        attrs = {"filter": (2, 2), "stride": (2, 2), "padding": padding, "activation": activation}
        out_hw = _out_hw(padding, (h, w), (2, 2), (2, 2), (1, 1))
        return self._emit("MAX_POOL_2D", (self.current,), (n, *out_hw, c), float(q.scale[0]), attrs,
                          zero_point=int(q.zero_point[0]))

    def depthwise(self, blocked: bool = True, kernel: tuple[int, int] | None = None) -> str:
        rng = self.rng
        n, h, w, cin = self.shape()
        multiplier = int(rng.choice([1, 1, 2]))
        kh, kw = kernel or (int(rng.integers(1, 4)), int(rng.integers(2, 5)))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        dilation = (int(rng.integers(1, 3)), 1)
        padding = str(rng.choice(["SAME", "VALID"]))
        out_hw = _out_hw(padding, (h, w), (kh, kw), stride, dilation)
        if out_hw is None:
            padding, out_hw = "SAME", _out_hw("SAME", (h, w), (kh, kw), stride, dilation)
        attrs = {"stride": stride, "dilation": dilation, "padding": padding, "depth_multiplier": multiplier}
        channels = cin * multiplier
        return self._weighted("DEPTHWISE_CONV_2D", channels, kh * kw, (1, kh, kw, channels), (n, *out_hw, channels),
                              attrs, kh * kw, blocked)

    def fully_connected(self, units: int, blocked: bool = True) -> str:
        """Over the last axis; the leading axes are the batch."""
        batches, size = int(np.prod(self.shape()[:-1])), self.shape()[-1]
        return self._weighted("FULLY_CONNECTED", units, size, (units, size), (batches, units), {}, size, blocked)

    def pool(self, op_type: str) -> str:
        rng = self.rng
        n, h, w, c = self.shape()
        filt = (int(rng.integers(1, min(h, 3) + 1)), int(rng.integers(1, min(w, 3) + 1)))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        padding = str(rng.choice(["SAME", "VALID"]))
        out_hw = _out_hw(padding, (h, w), filt, stride, (1, 1))
        if out_hw is None:
            padding, out_hw = "SAME", _out_hw("SAME", (h, w), filt, stride, (1, 1))
        q = self.tensors[self.current].quant
        attrs = {"filter": filt, "stride": stride, "padding": padding, "activation": str(rng.choice(ACTIVATIONS))}
        return self._emit(op_type, (self.current,), (n, *out_hw, c), float(q.scale[0]), attrs,
                          zero_point=int(q.zero_point[0]))

    def binary(self, op_type: str, other: str) -> str:
        """ADD or MUL of the current tensor and `other` (same shape or broadcastable to it)."""
        if op_type == "ADD":
            out_scale = (self.scale() + self.scale(other)) * float(self.rng.uniform(0.6, 1.2))
        else:
            out_scale = self.scale() * self.scale(other) * 40 * float(self.rng.uniform(0.5, 1.5))
        attrs = {"activation": str(self.rng.choice(ACTIVATIONS))}
        return self._emit(op_type, (self.current, other), self.shape(), out_scale, attrs)

    def constant_like(self, shape) -> str:
        data = self.rng.integers(-128, 128, size=shape).astype(np.int8)
        name = f"c{len(self.ops)}"
        self.tensors[name] = Tensor(name, tuple(shape), "int8",
                                    Quant(np.array([float(self.rng.uniform(0.01, 0.05))]),
                                          np.array([int(self.rng.integers(-10, 11))])), data)
        return name

    def pad(self) -> str:
        rank = len(self.shape())
        pads = self.rng.integers(0, 3, size=(rank, 2)).astype(np.int32)
        pads[0] = 0
        p = self._const(f"p{len(self.ops)}", pads)
        out_shape = tuple(int(d + a + b) for d, (a, b) in zip(self.shape(), pads))
        q = self.tensors[self.current].quant
        return self._emit("PAD", (self.current, p), out_shape, float(q.scale[0]), {}, zero_point=int(q.zero_point[0]))

    def reshape(self, shape) -> str:
        q = self.tensors[self.current].quant
        return self._emit("RESHAPE", (self.current,), shape, float(q.scale[0]), {}, zero_point=int(q.zero_point[0]))

    def softmax(self) -> str:
        return self._emit("SOFTMAX", (self.current,), self.shape(), 1.0 / 256, {"beta": float(self.rng.uniform(0.5, 2))},
                          zero_point=-128)

    def graph(self, name: str) -> Graph:
        g = Graph(name, dict(self.tensors), tuple(self.ops), (self.input,), (self.current,))
        g.validate()
        return g


def _out_hw(padding, in_hw, filt, stride, dilation):
    out = []
    for size, f, s, d in zip(in_hw, filt, stride, dilation):
        effective = (f - 1) * d + 1
        o = (size + s - 1) // s if padding == "SAME" else (size + s - effective) // s
        if o < 1:
            return None
        out.append(o)
    return tuple(out)


def random_chain(seed: int, blocked: bool = True) -> Graph:
    """conv -> depthwise -> pad -> conv -> max pool -> ADD (residual) -> MUL (broadcast constant) -> avg pool
    -> reshape -> fully connected -> fully connected -> softmax, every op with random geometry."""
    rng = np.random.default_rng(seed)
    b = ChainBuilder(rng, (1, int(rng.integers(3, 10)), int(rng.integers(3, 10)), int(rng.integers(1, 9))))
    b.conv(blocked)
    b.depthwise(blocked)
    b.pad()
    b.conv(blocked)
    b.pool("MAX_POOL_2D")
    skip = b.current
    b.depthwise(blocked)
    if b.shape() == b.shape(skip):
        b.binary("ADD", skip)
    else:
        b.binary("ADD", b.constant_like(b.shape()))
    b.binary("MUL", b.constant_like((1, 1, 1, b.shape()[-1])))
    b.pool("AVERAGE_POOL_2D")
    b.reshape((1, int(np.prod(b.shape()))))
    b.fully_connected(int(rng.integers(5, 40)), blocked)
    b.fully_connected(int(rng.integers(2, 12)), blocked)
    b.softmax()
    return b.graph(f"random_chain_{seed}")


def mnist_cnn_chain(seed: int, block_shape: tuple[int, int] | None = None, activation: str | None = None) -> Graph:
    """The MNIST CNN's shapes with random int8 weights: 28 x 28 x 1, conv 3x3 SAME to 16, max pool 2x2, conv to 32,
    pool, conv to 48, pool (7 x 7 -> 3 x 3: row and column 6 never read), reshape, FC to 10; `block_shape`: the
    blocks of the second and third conv (dense, unified and pruned), else dense; `activation` of the convs
    (None: random)."""
    rng = np.random.default_rng(seed)
    b = ChainBuilder(rng, (1, 28, 28, 1))
    for cout, blocks in ((16, None), (32, block_shape), (48, block_shape)):
        b.conv_3x3_same(cout, blocks, activation)
        b.max_pool_2x2()
    b.reshape((1, int(np.prod(b.shape()))))
    b.fully_connected(10, blocked=False)
    return b.graph(f"mnist_cnn_chain_{seed}")


def random_input(graph: Graph, rng: np.random.Generator) -> np.ndarray:
    t = graph.tensor(graph.inputs[0])
    return rng.integers(-128, 128, size=t.shape).astype(np.int8)


def impose_blocks(graph: Graph, seed: int) -> Graph:
    """Give every weight of a real model a random block structure: unified block rows take the largest
    magnitude of the row and keep the signs, pruned blocks become zero."""
    from toolchain.ir import weight_matrix

    rng = np.random.default_rng(seed)
    for op in graph.ops:
        w = graph.weight_of(op)
        if w is None:
            continue
        matrix = weight_matrix(op.type, w.data).astype(np.int32)
        rows, cols = matrix.shape
        bo, bi = int(rng.choice(BO_CHOICES)), int(rng.choice(BI_CHOICES))
        gr, gc = grid_shape(rows, cols, bo, bi)
        kinds = rng.choice(np.array([0, 1, 2], np.uint8), size=(gr, gc), p=[0.3, 0.4, 0.3])
        kinds = np.where(full_block_mask(rows, cols, bo, bi), kinds, BlockKind.DENSE).astype(np.uint8)
        per_weight = np.repeat(np.repeat(kinds, bo, 0), bi, 1)[:rows, :cols]
        padded = np.zeros((rows, gc * bi), np.int32)
        padded[:, :cols] = np.abs(matrix)
        row_max = np.repeat(np.minimum(padded.reshape(rows, gc, bi).max(axis=2), 127), bi, 1)[:, :cols]
        signs = np.where(matrix < 0, -1, 1)
        matrix = np.where(per_weight == BlockKind.UNIFIED, signs * row_max, matrix)
        matrix = np.where(per_weight == BlockKind.PRUNED, 0, matrix).astype(np.int8)
        blocks = BlockStructure.from_matrix(matrix, kinds, bo, bi)
        graph = graph.with_tensor(w.replace(data=matrix_to_weight(op.type, matrix, w.shape), blocks=blocks))
    graph.validate()
    return graph


def batched_chain(seed: int) -> Graph:
    """Two images through conv, depthwise and pools, then a fully connected layer over both rows."""
    rng = np.random.default_rng(seed)
    b = ChainBuilder(rng, (2, int(rng.integers(3, 8)), int(rng.integers(3, 8)), int(rng.integers(1, 6))))
    b.conv()
    b.depthwise()
    b.pool("AVERAGE_POOL_2D")
    b.reshape((2, int(np.prod(b.shape()[1:]))))
    b.fully_connected(int(rng.integers(3, 20)))
    b.softmax()
    return b.graph(f"batched_chain_{seed}")


def forced_kernels(graph: Graph, seed: int) -> dict[str, str]:
    """Op name -> generic kernel to force: the k-th layer of an op type in the chain runs that type's kernel
    number (seed * layers of the type + k), so a few seeds run every generic kernel."""
    from toolchain.plan.kernels.generic import GENERIC_VARIANTS

    matrix_ops = [op for op in graph.ops if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    force = {}
    for op_type in sorted({op.type for op in matrix_ops}):
        names = list(dict.fromkeys(v.name for v in GENERIC_VARIANTS if v.op_type == op_type))
        ops = [op for op in matrix_ops if op.type == op_type]
        for k, op in enumerate(ops):
            force[op.name] = names[(seed * len(ops) + k) % len(names)]
    return force
