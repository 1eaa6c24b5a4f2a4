"""The `munify` command. Each subcommand lives in its own module `toolchain/cli/<name>_cmd.py` exposing
`HELP`, `add_arguments(parser)` and `run(args) -> int`, and optionally the argument names of its outputs:
`OUTPUT_FILES`, `OUTPUT_DIRS` and `REPLACED_DIRS` (directories a build replaces). This module checks those
paths before any work starts and dispatches.

Errors: a `MunifyError` is one line, exit 2. Any other exception escaping a subcommand is a munify bug: one
line saying so and where to report it, exit 1; `--debug` or MUNIFY_DEBUG=1 shows the traceback. Outputs are
written atomically (`toolchain.fsutil`), so a failed command leaves nothing half-written."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from pathlib import Path

from ..errors import MunifyError
from ..fsutil import check_output_dir, check_output_file

COMMANDS = ("import", "export", "inspect", "verify", "compress", "plan", "build", "run", "boards", "demo", "bench")


def _command_module(name: str):
    return importlib.import_module(f"{__name__}.{name}_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="munify", description="munify: compress neural networks with micro-structured weight unification and compile them to bit-exact C for microcontrollers.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error "
                                                             "(also MUNIFY_DEBUG=1)")
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
        options = {action.dest: action.option_strings[0] for action in cmd._actions if action.option_strings}
        cmd.set_defaults(_run=module.run, _module=module, _options=options)
    return parser


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse unusable output paths (a directory for a file, a file for a directory, read-only places)."""
    module = args._module
    option = args._options.get
    for dest in getattr(module, "OUTPUT_FILES", ()):
        if isinstance(getattr(args, dest, None), Path):
            check_output_file(getattr(args, dest), option(dest))
    for dest in getattr(module, "OUTPUT_DIRS", ()):
        if isinstance(getattr(args, dest, None), Path):
            check_output_dir(getattr(args, dest), option(dest))
    for dest in getattr(module, "REPLACED_DIRS", ()):
        if isinstance(getattr(args, dest, None), Path):
            check_output_dir(getattr(args, dest), option(dest), replaced_if_holds="build.json")


def issue_tracker() -> str:
    """Where to report a bug: the package's Issues / Bug Tracker URL when its metadata has one."""
    from importlib import metadata

    try:
        urls = metadata.metadata("munify").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("issues", "bug tracker", "bugs", "tracker"):
            return url.strip()
    return "the munify issue tracker"


def _report_bug(exc: Exception, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    message = " ".join(str(exc).split())
    if len(message) > 300:
        message = message[:297] + "..."
    hint = "" if debug else "; --debug or MUNIFY_DEBUG=1 shows the traceback"
    print(f"munify bug: {type(exc).__name__}: {message} (please report it at {issue_tracker()}{hint})",
          file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get("MUNIFY_DEBUG", "") not in ("", "0")
    try:
        check_outputs(args)
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
    except Exception as exc:
        return _report_bug(exc, debug)


if __name__ == "__main__":
    sys.exit(main())
