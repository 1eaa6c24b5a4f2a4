"""The `munify` command. Each subcommand lives in its own module `toolchain/cli/<name>_cmd.py` exposing
`HELP`, `add_arguments(parser)` and `run(args) -> int`, and optionally the argument names of its outputs:
`OUTPUT_FILES`, `OUTPUT_DIRS` and `REPLACED_DIRS` (directories a build replaces). This module checks those
paths before any work starts and dispatches.

Errors: a `MunifyError` is one line, exit 2. Any other exception escaping a subcommand is a munify bug: one
line saying so and where to report it, exit 1; `--debug` or MUNIFY_DEBUG=1 shows the traceback. Outputs are
written atomically (`toolchain.fsutil`), so a failed command leaves nothing half-written."""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys
import traceback
from pathlib import Path

from ..build import BUILD_INFO
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


_OUTPUT_CHECKS = {
    "OUTPUT_FILES": check_output_file,
    "OUTPUT_DIRS": check_output_dir,
    "REPLACED_DIRS": functools.partial(check_output_dir, replaced_if_holds=BUILD_INFO),
}


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse unusable output paths (a directory for a file, a file for a directory, read-only places)."""
    for kind, check in _OUTPUT_CHECKS.items():
        for dest in getattr(args._module, kind, ()):
            path = getattr(args, dest, None)
            if isinstance(path, Path):
                check(path, args._options[dest])


def one_line(message: str) -> str:
    """Control characters (a newline or a terminal escape in a model's names) shown as escapes."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in message)


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
    message = one_line(" ".join(str(exc).split()))
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
        print(f"munify: error: {one_line(str(exc))}", file=sys.stderr)
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
