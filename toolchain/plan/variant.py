"""Kernel variants: what one kernel needs (op type, ISA features, block kinds, layout) and what it costs.

Each ISA package under `toolchain.plan.kernels` lists its variants; `toolchain.plan.registry` ranks them.

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
  pool       pool_fused (bool: the layer computes the MAX_POOL_2D after it, toolchain.plan.fusion; act_min /
             act_max are then both ranges intersected, the output is the pool's) pool_out_h pool_out_w pool_out_image
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
    inside_rows: float = 0.0  # CONV_2D: kernel rows per output pixel of the pixels wholly inside the input (inside_rows)
    patch_row: int = 0  # CONV_2D: inputs of one kernel row (kernel_w x in_c)
    # matrix ops: requant_folds_offset holds and the upper bound is 127 (the DSP kernels' folded requantization)
    folded_requant: bool = False
    speed_build: bool = False  # optimize speed: the layer's C is built with -O3 (else the board's flags, -O2)
    # CONV_2D fused with the 2x2 / stride 2 MAX_POOL_2D after it (toolchain.plan.fusion): the pool's output pixels;
    # positions are then the conv pixels computed (4 a window), requantized once a window
    pool_windows: int = 0
    inside_windows: int = 0  # of those, the windows whose four pixels' patches lie wholly inside the input


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
    # None packs `layout` with `toolchain.plan.kernels.generic.packing.pack`.
    pack: Callable | None = None
    fold_input_offset: bool = True  # "bias" holds bias + input_offset * row sum of the weights
    support_files: tuple[str, ...] = ()  # static sources copied verbatim into the output (relative paths)
    # Scratch bytes the kernel needs, from the layer params; None keeps the op's own (im2col) scratch.
    scratch: Callable[[dict], int] | None = None
    options: dict = field(default_factory=dict)  # extra template params that select a code path, e.g. lut
    # CONV_2D: the kernel can absorb a 2x2 / stride 2 MAX_POOL_2D that alone reads its output (params pool_fused,
    # pool_out_h, pool_out_w; toolchain.plan.fusion)
    fuses_pool: bool = False
