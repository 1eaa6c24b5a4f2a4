"""`munify verify MODEL.tflite --against tflm|litert`: is the reference executor bit-exact on this model?"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..fsutil import atomic_write_text
from ..inputs import DEFAULT_SIGMA
from ..interpreters import AGAINST
from ..verify import verify_model

HELP = "check the integer reference executor bit for bit against TensorFlow Lite Micro or LiteRT"
OUTPUT_FILES = ("json",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="int8 .tflite model")
    parser.add_argument("--against", choices=AGAINST, default="tflm",
                        help="interpreter to compare with (litert also compares every intermediate tensor)")
    parser.add_argument("--inputs", type=int, default=10, metavar="N", help="number of random inputs (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument("--sigma", type=float, default=DEFAULT_SIGMA,
                        help=f"spread of the random inputs around the zero point, in quantization steps "
                             f"(default {DEFAULT_SIGMA:g}; wider reaches more rounding ties, saturates classifiers)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the result as JSON")


def run(args: argparse.Namespace) -> int:
    report = verify_model(args.model, args.against, args.inputs, args.seed, args.sigma)
    print(report.summary())
    if args.json:
        atomic_write_text(args.json, json.dumps(report.to_json(), indent=1) + "\n")
    return 0 if report.bit_exact else 1
