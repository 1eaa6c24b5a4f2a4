"""`munify export MODEL.mun -o MODEL.tflite`: write an IR (compressed ones included) as an int8 .tflite."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..exporters import export_tflite
from ..fsutil import check_output_file
from ..ir import load

HELP = "export a munify IR file (.mun) as an int8 .tflite model that LiteRT and TFLite Micro run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="IR file (.mun), e.g. from munify import or munify compress")
    parser.add_argument("-o", "--output", type=Path, help="model to write (default: MODEL with suffix .tflite)")


def run(args: argparse.Namespace) -> int:
    output = args.output or args.model.with_suffix(".tflite")
    check_output_file(output, "-o")
    graph = load(args.model)
    export_tflite(graph, output)
    print(f"exported {args.model} -> {output}: {len(graph.ops)} ops; check it with "
          f"'munify verify {output} --against tflm' (or litert)")
    return 0
