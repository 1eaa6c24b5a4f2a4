"""Logged subprocess calls: every command munify runs is logged (`-v`) and can be printed instead (`--dry-run`)."""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
from pathlib import Path

from .errors import SetupError

log = logging.getLogger("munify")


def format_command(cmd: list[str], cwd: Path | None = None) -> str:
    text = shlex.join(str(c) for c in cmd)
    return f"(cd {shlex.quote(str(cwd))} && {text})" if cwd else text


def run_logged(cmd: list[str], cwd: Path | None = None, timeout: float | None = None,
               install_hint: str = "see README: make setup") -> subprocess.CompletedProcess:
    """Run a command to completion, capturing its output; a missing program is a set-up error."""
    log.info("run: %s", format_command(cmd, cwd))
    try:
        result = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise SetupError(f"'{cmd[0]}' not found; install it ({install_hint})") from None
    except subprocess.TimeoutExpired:
        raise SetupError(f"'{cmd[0]}' did not finish within {timeout:.0f} s") from None
    if result.stdout:
        log.debug("%s", result.stdout.rstrip())
    if result.stderr:
        log.debug("%s", result.stderr.rstrip())
    return result


def end_process_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Send `sig` to the group of a process started with `start_new_session` (unless it has exited), reap it
    and close its pipes."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
    process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def configure_logging(verbose: bool) -> None:
    """`-v`: log every subprocess call (and its output at -vv) to stderr."""
    if not verbose:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("munify: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)

