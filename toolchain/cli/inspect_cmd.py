"""`munify inspect MODEL(.tflite|.mun) [--json]`: per-op MACs, weight bytes and block structure of a model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import MunifyError
from ..importers import import_tflite
from ..ir import Graph, load
from ..summary import format_table, summarize

HELP = "show per-op MACs, parameters, weight bytes and block structure of a .tflite or .mun model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="an int8 .tflite model or a munify IR file (.mun)")
    parser.add_argument("--json", action="store_true", help="print a JSON document instead of a table")


def load_model(path: Path) -> Graph:
    """A .tflite or .mun model as IR, chosen by suffix."""
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        return import_tflite(path)
    if suffix == ".mun":
        return load(path)
    raise MunifyError(f"{path}: unknown model type '{suffix}'; give a .tflite model or a .mun IR file")


def run(args: argparse.Namespace) -> int:
    summary = summarize(load_model(args.model))
    if args.json:
        print(json.dumps(summary.to_json(), indent=1))
    else:
        print(format_table(summary))
    return 0
