"""`munify import MODEL.tflite -o MODEL.mun`: convert an int8 TFLite model into the munify IR."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ModelImportError
from ..fsutil import check_output_file
from ..importers import import_tflite
from ..ir import save

HELP = "import an int8 .tflite model into a munify IR file (.mun)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="fully int8-quantized .tflite model")
    parser.add_argument("-o", "--output", type=Path, help="IR file to write (default: MODEL with suffix .mun)")


def run(args: argparse.Namespace) -> int:
    if args.model.suffix.lower() != ".tflite":
        raise ModelImportError(f"{args.model}: munify imports .tflite models; convert the model to an int8 "
                               ".tflite first")
    output = args.output or args.model.with_suffix(".mun")
    check_output_file(output, "-o")
    graph = import_tflite(args.model)
    save(graph, output)
    print(f"imported {args.model} -> {output}: {len(graph.ops)} ops, {len(graph.tensors)} tensors")
    return 0
