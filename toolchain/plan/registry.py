"""Kernel registry: which kernel variants exist, what they need, and what they cost.

`select_variant` picks, for one layer, the cheapest variant whose op type matches, whose ISA features the board
has, whose weight layout can hold the block kinds the weight uses and that is offered for the `optimize` mode.
`size` ranks candidates by (weight bytes, cost), `speed` by (cost, weight bytes) and `balanced` takes the
fastest candidate whose weights need at most BALANCED_BYTES_SLACK times the bytes of the smallest candidate,
or BALANCED_BYTES_ALLOWANCE more bytes, whichever is larger (compressed weights stay compressed; on small
layers a few hundred bytes of padding or tables do not decide; within that budget time wins). Ties go to the variant listed first (generic dense
kernels come first), so the choice is deterministic. Every matrix variant can run any block structure (the
dense layout stores the full matrix), so a block kernel is chosen only where the ranking prefers it.

Adding a variant (e.g. a Cortex-M DSP kernel): append a `KernelVariant` to `toolchain/plan/variants_dsp.py`
(or to `GENERIC_VARIANTS` here for a portable one) and write its template under `codegen_templates/`.

Kernel template contract
------------------------
A kernel template renders one C source per layer. It is rendered with `jinja2.StrictUndefined` and receives:

  layer   `toolchain.plan.types.LayerPlan`
          .function    C function to define (external linkage), e.g. `munify_layer_3`
          .params      dict: every number the kernel uses (see below); never compute in the template
          .arrays      dict role -> ConstArray (.name is the C identifier declared in "weights.h", .length)
          .inputs/.output/.scratch  Buffers (.size in bytes); .scratch is None when `scratch_bytes` is 0
          .layout      the weight layout (docs/FORMAT.md), "none" for ops without weights
  plan    the whole `Plan` (read-only; model name, features, optimize)

The source includes "munify_kernels.h" (requantization helpers, bit-exact with `toolchain.ir.arith`) and
"weights.h", and defines

  void <function>(const int8_t *input, int8_t *output, int8_t *scratch)                 one input
  void <function>(const int8_t *input, const int8_t *input2, int8_t *output, int8_t *scratch)  ADD, MUL

`scratch` points to `params["scratch_bytes"]` bytes of the arena that live only during the layer (NULL when 0).
`output` may equal `input` for ops planned in place (ADD, MUL): read each element before writing it.

Params of the matrix ops (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED), all ints unless noted:
  geometry   batches in_h in_w cin out_h out_w cout kh kw taps stride_h stride_w dil_h dil_w pad_top pad_left
             depth_multiplier (FC: a 1x1 convolution over in_w = batch pixels of cin = reduction channels)
  walk       in_row = in_w*cin, in_image, out_image, in_step_x = stride_w*cin, in_step_y = stride_h*in_row,
             dil_step_x, dil_step_y, patch_row = kw*cin, max_ix0 (a patch row starting at ix0 <= max_ix0 lies
             inside), pointwise (bool: the input pixel is the column), paired (bool: two pixels per weight load),
             columns (1 or 2), pair_out, im2col_bytes, unroll_taps (bool), scratch_bytes
  matrix     k = cols, out_rows = rows of the weight matrix; k_pairs k_odd k_quads k_rem row_pairs rows_odd
  quant      input_zp output_offset act_min act_max per_channel (bool) mult shift (per-tensor values)
  weights    weights_min (the smallest weight: -128 rules out kernels that add two int8 products in int16)
  blocks     layout bo bi full_row_blocks full_col_blocks tail_rows tail_cols col_blocks sign_bytes tail_row_start
             tail_col_start kind_skip tail_row_pairs tail_rows_odd, and offsets for unrolled micro-block code:
             block_bytes dense_at[r][j] tail_block_bytes tail_at[r][j] bits_block_bytes bits_mag_at[r]
             bits_sign_at[r][k] sign_lift[j] wide_block_bytes wide_mag_at[r] wide_mask_at[r][j]
  tables     lut (bool, set by the LUT variants) lut_limit lut_groups lut_entries lut_mask lut_block lut_column lut_offset
             lut_steps[g] lut_group_shift[g] lut_group_at[g] lut_x_at[g]
Arrays: "bias" (int32, input-offset term folded in unless the variant sets fold_input_offset=False), "mult"
and "shift" (int32, only when per_channel), "zp_row" (depthwise: cin bytes of the input zero point, where taps
in the padding point), "lut_cols" (LUT variants), the packed weights "weights" plus "kinds" (blocks-min) or
"entries" (index layouts), or whatever the variant's own `pack` returns.
Params of the other ops are listed in the docstrings of their builders in `toolchain/plan/layers.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..errors import MunifyError
from ..ir.blocks import BlockKind

OPTIMIZE_MODES = ("speed", "balanced", "size")
ALL_KINDS = frozenset(BlockKind)
DENSE_ONLY = frozenset({BlockKind.DENSE})


@dataclass(frozen=True)
class LayerFacts:
    """What the cost models see of a layer."""

    op_type: str
    positions: int  # how often the weight matrix is applied (output pixels), or elements for other ops
    rows: int = 0
    cols: int = 0
    dense_weights: int = 0  # weights in dense blocks (edge blocks included)
    unified_weights: int = 0
    unified_rows: int = 0  # unified block rows (one multiply each)
    listed_blocks: int = 0  # full blocks that are not pruned
    full_blocks: int = 0
    unified_cols: int = 0  # full column blocks that hold at least one unified block
    bi: int = 1
    paired: bool = False  # two output pixels share every load (matrix kernels)
    kinds: frozenset = DENSE_ONLY
    patch_copies: float = 0.0  # CONV_2D through im2col: memcpy / memset runs per output pixel (patch_copies)


@dataclass(frozen=True)
class KernelVariant:
    name: str
    op_type: str
    template: str  # relative to codegen_templates/
    cost: Callable[[LayerFacts], float]  # estimated retired instructions on a Cortex-M (QEMU -icount)
    layout: str = "none"
    features: frozenset = frozenset()
    block_kinds: frozenset = DENSE_ONLY
    optimize: frozenset = frozenset(OPTIMIZE_MODES)
    applies: Callable[[dict], bool] = field(default=lambda params: True)  # shape limits, on the layer params
    # Weight packer for a layout of your own: (matrix [rows, cols], BlockStructure | None) -> {role: array};
    # None packs `layout` with `toolchain.plan.packing.pack`.
    pack: Callable | None = None
    fold_input_offset: bool = True  # "bias" holds bias + input_offset * row sum of the weights
    support_files: tuple[str, ...] = ()  # static sources copied verbatim into the output (relative paths)
    # Scratch bytes the kernel needs, from the layer params; None keeps the op's own (im2col) scratch.
    scratch: Callable[[dict], int] | None = None
    options: dict = field(default_factory=dict)  # extra template params that select a code path, e.g. lut


# Retired instructions of the generic C on a Cortex-M3 at -O2 (QEMU -icount), fitted to the per-layer counts
# of benchmarks/codegen_blocks.py on KWS and ResNet-8 (dense and 2x8 blocks). Matrix ops (CONV_2D, FC) share
# every load between two output pixels and two rows; depthwise reads each tap through a pointer.


@dataclass(frozen=True)
class MatrixCosts:
    mac: float  # per dense weight
    unified: float  # per unified weight, sign bit field (row multiply included)
    unified_wide: float  # per unified weight, byte sign mask
    block: float  # per listed (not pruned) full block
    kind_decode: float  # per full block, blocks-min only
    mac_single: float = 0.0  # per dense weight when one output pixel runs alone (0: same as mac)
    requant: float = 31.0  # per output channel

    def mac_for(self, f: LayerFacts) -> float:
        return self.mac_single if self.mac_single and not f.paired else self.mac


MATRIX = MatrixCosts(mac=2.65, unified=5.4, unified_wide=5.3, block=6.0, kind_decode=6.0, mac_single=3.5)
DEPTHWISE = MatrixCosts(mac=4.45, unified=9.5, unified_wide=9.5, block=20.0, kind_decode=4.0)
LUT_ENTRY = 3.0  # per sign-pattern table entry built (per output pixel)
LUT_LOOKUP = 2.7  # per table lookup (one per 4 weights of a unified block row)


def dense_matrix_cost(c: MatrixCosts) -> Callable[[LayerFacts], float]:
    return lambda f: f.positions * f.rows * (f.cols * c.mac_for(f) + c.requant)


def block_matrix_cost(c: MatrixCosts, wide: bool, decode_all: bool) -> Callable[[LayerFacts], float]:
    def cost(f: LayerFacts) -> float:
        unified = c.unified_wide if wide else c.unified
        decode = f.full_blocks * c.kind_decode if decode_all else 0.0
        per_position = (f.dense_weights * c.mac_for(f) + f.unified_weights * unified + f.listed_blocks * c.block
                        + decode + f.rows * c.requant)
        return f.positions * per_position
    return cost


def lut_matrix_cost(decode_all: bool) -> Callable[[LayerFacts], float]:
    """Per output pixel: the tables of every column block some unified block reads, then one lookup per
    4 weights of each unified block row."""
    def cost(f: LayerFacts) -> float:
        groups = max(f.bi // 4, 1)
        build = f.unified_cols * groups * (1 << min(f.bi, 4)) * LUT_ENTRY
        decode = f.full_blocks * MATRIX.kind_decode if decode_all else 0.0
        per_position = (f.dense_weights * MATRIX.mac_for(f) + f.unified_rows * groups * LUT_LOOKUP + build + decode
                        + f.listed_blocks * MATRIX.block + f.rows * MATRIX.requant)
        return f.positions * per_position
    return cost


def lut_scratch(params: dict) -> int:
    """Sign-pattern tables (int16) of every full column block for each column, then the im2col patches."""
    return params["lut_offset"] + params["im2col_bytes"]


def elementwise_cost(per_element: float) -> Callable[[LayerFacts], float]:
    return lambda f: f.positions * per_element


# Bytes of tables `balanced` and `size` accept for a LUT kernel (`speed`: any): 4 KiB, or the largest activation
# of the model (the planner sets params["lut_limit"]), which the arena holds anyway.
LUT_SCRATCH_LIMIT = 4096


def _small_tables(params: dict) -> bool:
    return params["lut_offset"] <= max(LUT_SCRATCH_LIMIT, params.get("lut_limit", 0))


def _matrix_variants(op_type: str, stem: str, template: str, costs: MatrixCosts,
                     shared_columns: bool) -> list[KernelVariant]:
    variants = [
        KernelVariant(f"{stem}_dense_generic", op_type, template, dense_matrix_cost(costs), layout="dense",
                      block_kinds=ALL_KINDS),
        KernelVariant(f"{stem}_blocks_min_generic", op_type, template, block_matrix_cost(costs, False, True),
                      layout="blocks-min", block_kinds=ALL_KINDS, optimize=frozenset({"size"})),
        KernelVariant(f"{stem}_blocks_index_generic", op_type, template, block_matrix_cost(costs, False, False),
                      layout="blocks-index", block_kinds=ALL_KINDS, optimize=frozenset({"balanced", "speed"})),
        KernelVariant(f"{stem}_blocks_wide_generic", op_type, template, block_matrix_cost(costs, True, False),
                      layout="blocks-wide", block_kinds=ALL_KINDS, optimize=frozenset({"speed"})),
    ]
    if shared_columns:  # every row reads the same activations, so one set of tables serves all rows
        lut = {"block_kinds": ALL_KINDS, "options": {"lut": True}, "scratch": lut_scratch}
        variants += [
            KernelVariant(f"{stem}_blocks_lut_generic", op_type, template, lut_matrix_cost(False),
                          layout="blocks-index", optimize=frozenset({"speed"}), **lut),
            KernelVariant(f"{stem}_blocks_lut_generic", op_type, template, lut_matrix_cost(False),
                          layout="blocks-index", optimize=frozenset({"balanced"}), applies=_small_tables, **lut),
            KernelVariant(f"{stem}_blocks_min_lut_generic", op_type, template, lut_matrix_cost(True),
                          layout="blocks-min", optimize=frozenset({"size"}), applies=_small_tables, **lut),
        ]
    return variants


GENERIC_VARIANTS: tuple[KernelVariant, ...] = (
    *_matrix_variants("CONV_2D", "conv", "kernels/generic/conv.c.j2", MATRIX, shared_columns=True),
    *_matrix_variants("FULLY_CONNECTED", "fc", "kernels/generic/conv.c.j2", MATRIX, shared_columns=True),
    *_matrix_variants("DEPTHWISE_CONV_2D", "dwconv", "kernels/generic/depthwise.c.j2", DEPTHWISE,
                      shared_columns=False),
    KernelVariant("avgpool_generic", "AVERAGE_POOL_2D", "kernels/generic/avgpool.c.j2", elementwise_cost(4.0)),
    # per window element (out elements x kernel taps); mps2-an386, the MNIST CNN's pools: 4.05-4.10
    KernelVariant("maxpool_generic", "MAX_POOL_2D", "kernels/generic/maxpool.c.j2", elementwise_cost(4.1)),
    KernelVariant("add_generic", "ADD", "kernels/generic/add.c.j2", elementwise_cost(40.0)),
    KernelVariant("mul_generic", "MUL", "kernels/generic/mul.c.j2", elementwise_cost(25.0)),
    KernelVariant("reshape_copy_generic", "RESHAPE", "kernels/generic/copy.c.j2", elementwise_cost(0.5)),
    KernelVariant("softmax_generic", "SOFTMAX", "kernels/generic/softmax.c.j2", elementwise_cost(120.0)),
    KernelVariant("pad_generic", "PAD", "kernels/generic/pad.c.j2", elementwise_cost(1.0)),
)

# A RESHAPE whose output can share its input's storage runs no code at all.
RESHAPE_ALIAS = "reshape_alias"


def all_variants() -> tuple[KernelVariant, ...]:
    from .variants_dsp import DSP_VARIANTS
    from .variants_mve import MVE_VARIANTS
    from .variants_neon import NEON_VARIANTS

    return GENERIC_VARIANTS + tuple(DSP_VARIANTS) + tuple(MVE_VARIANTS) + tuple(NEON_VARIANTS)


def candidates(op_type: str, features: frozenset, kinds: frozenset, optimize: str,
               params: dict) -> list[KernelVariant]:
    return [v for v in all_variants()
            if v.op_type == op_type and v.features <= features and kinds <= v.block_kinds
            and optimize in v.optimize and v.applies(params)]


def forced_variant(op_type: str, name: str, facts: LayerFacts, features: frozenset) -> KernelVariant:
    """The variant called `name` for `op_type`, if the features and block kinds allow it."""
    for v in all_variants():
        if v.name == name and v.op_type == op_type:
            if not (v.features <= features and facts.kinds <= v.block_kinds):
                raise MunifyError(f"kernel {name} needs features {sorted(v.features)} and block kinds "
                                  f"{sorted(k.name.lower() for k in v.block_kinds)}; pick another kernel")
            return v
    names = sorted({v.name for v in all_variants() if v.op_type == op_type})
    raise MunifyError(f"no kernel '{name}' for {op_type}; choose one of {', '.join(names)}")


BALANCED_BYTES_SLACK = 1.2
BALANCED_BYTES_ALLOWANCE = 1024


def select_variant(op_type: str, facts: LayerFacts, features: frozenset, optimize: str, params: dict,
                   weight_bytes: Callable[["KernelVariant"], int]) -> KernelVariant:
    if optimize not in OPTIMIZE_MODES:
        raise MunifyError(f"unknown optimize mode '{optimize}'; use one of {', '.join(OPTIMIZE_MODES)}")
    found = candidates(op_type, features, facts.kinds, optimize, params)
    if not found:
        raise MunifyError(f"no kernel for {op_type} with features {sorted(features)} and optimize={optimize}; "
                          f"use another --optimize or board")

    order = {id(v): i for i, v in enumerate(all_variants())}
    if optimize == "balanced":
        smallest = min(weight_bytes(v) for v in found)
        budget = max(BALANCED_BYTES_SLACK * smallest, smallest + BALANCED_BYTES_ALLOWANCE)
        found = [v for v in found if weight_bytes(v) <= budget]

    def rank(v: KernelVariant):
        cost, size = round(v.cost(facts)), weight_bytes(v)
        if optimize == "size":
            return (size, cost, order[id(v)])
        return (cost, size, order[id(v)])

    return min(found, key=rank)
