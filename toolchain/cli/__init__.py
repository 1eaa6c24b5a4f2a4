"""The `munify` command. Each subcommand lives in its own module `toolchain/cli/<name>_cmd.py` exposing
`HELP`, `add_arguments(parser)` and `run(args) -> int`; this module only dispatches."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import MunifyError

COMMANDS = ("import", "export", "inspect", "verify", "compress", "plan", "build", "run", "boards", "demo", "bench")


def _command_module(name: str):
    return importlib.import_module(f"{__name__}.{name}_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="munify", description="munify: compress neural networks with micro-structured weight unification and compile them to bit-exact C for microcontrollers.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = _command_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}_cmd":
                raise
            continue
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except MunifyError as exc:
        print(f"munify: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("munify: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (e.g. `munify plan ... | head`): stop quietly, like other Unix tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
