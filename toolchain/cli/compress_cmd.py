"""`munify compress --recipe R.toml -o OUT.mun [--json PATH]`: ADMM block unification/pruning, int8 export."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..errors import MunifyError
from ..extras import require_compress_extra
from ..fsutil import atomic_write_text

HELP = "compress a model with ADMM block unification/pruning (TOML recipe) and export it int8 to a .mun file"
OUTPUT_FILES = ("output", "json")
OUTPUT_DIRS = ("cache_dir",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe", type=Path, required=True, help="TOML recipe (see examples/*.toml)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the int8 IR file to write (.mun)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the report as JSON to PATH")
    parser.add_argument("--cache-dir", type=Path, default=Path("munify-out/cache"),
                        help="where trained dense models are cached (default: munify-out/cache)")
    parser.add_argument("--no-cache", action="store_true", help="always train the dense model afresh")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: small models train fastest on one thread, and "
                             "results are bit-identical only for the same thread count)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    require_compress_extra("munify compress")
    from ..compress.pipeline import run_recipe
    from ..compress.recipe import load_recipe
    from ..compress.report import format_report

    import torch

    if args.threads < 1:
        raise MunifyError(f"--threads {args.threads}: need at least 1 thread")
    torch.set_num_threads(args.threads)
    recipe = load_recipe(args.recipe)
    rank, world_size = _distributed()
    report = run_recipe(recipe, args.output, None if args.no_cache else args.cache_dir, progress=not args.quiet,
                        rank=rank, world_size=world_size)
    if rank != 0:
        return 0
    doc = report.to_json()
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(doc, indent=1) + "\n")
    print(format_report(doc))
    print(f"wrote {args.output}")
    return 0


def _distributed() -> tuple[int, int]:
    """(rank, world size); under `torchrun --nproc_per_node N munify compress ...` joins the gloo group."""
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1
