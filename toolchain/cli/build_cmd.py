"""`munify build`: generate C for a model and build the firmware for one board."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..boards import DEFAULT_BOARD, load_board
from ..build import OPTIMIZE_LEVELS, build_model, dry_run_commands
from ..process import configure_logging

HELP = "generate C for a .mun model and build the firmware for a board (make + gcc, size report)"
REPLACED_DIRS = ("output",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="the model (.mun)")
    parser.add_argument("--board", default=DEFAULT_BOARD, help=f"board name or board .toml (default {DEFAULT_BOARD})")
    parser.add_argument("-o", "--output", type=Path, required=True, help="build directory (replaced atomically)")
    parser.add_argument("--optimize", choices=OPTIMIZE_LEVELS, default="balanced",
                        help="kernel choice and compiler flags: speed, size or balanced (default)")
    parser.add_argument("--model-id", metavar="ID",
                        help="the MLPerf Tiny model id the firmware reports (kws01, ic01, vww01, ad01; default: the "
                             "model's own, or a shipped MLPerf model's by its hash or name)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log every command (-vv: and its output)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, build nothing")


def size_lines(sizes) -> list[str]:
    flash_cap = f" of {sizes.flash_capacity:,}" if sizes.flash_capacity else ""
    ram_cap = f" of {sizes.ram_capacity:,}" if sizes.ram_capacity else ""
    return [f"flash:      {sizes.flash_bytes:>10,} B{flash_cap}",
            f"  weights:  {sizes.weights_bytes:>10,} B",
            f"  code:     {sizes.code_bytes:>10,} B",
            f"  rodata:   {sizes.rodata_bytes:>10,} B",
            f"  data:     {sizes.data_bytes:>10,} B",
            f"static RAM: {sizes.static_ram_bytes:>10,} B{ram_cap} (+ {sizes.stack_reserved_bytes:,} B stack)",
            f"  arena:    {sizes.arena_bytes:>10,} B"]


def run(args: argparse.Namespace) -> int:
    configure_logging(args.verbose)
    board = load_board(args.board)
    if args.dry_run:
        print("\n".join(dry_run_commands(board, args.output, args.optimize)))
        return 0
    result = build_model(args.model, board, args.output, args.optimize, args.model_id)
    print(f"built {result.model_name} for {board.name} -> {result.elf}")
    print("\n".join(size_lines(result.sizes)))
    return 0
