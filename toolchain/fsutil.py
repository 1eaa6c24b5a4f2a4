"""Atomic file output: a command that fails leaves nothing half-written behind. Output paths are checked
before any work starts (`check_output_file`, `check_output_dir`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import MunifyError


class OutputPathError(MunifyError):
    """An output path that cannot be written (a directory where a file is wanted, under a file, read-only)."""


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside `target`; it replaces `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def check_output_file(path: str | os.PathLike, option: str) -> None:
    """Refuse, before any work starts, a file output that could not be written: a directory, a place under
    a file, or a directory munify may not write in."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{option} {path} is a directory; give the path of a file to write")
    _check_parent(path, option)


def check_output_dir(path: str | os.PathLike, option: str, replaced_if_holds: str | None = None) -> None:
    """Like `check_output_file` for an output directory. A directory that `atomic_dir` will replace
    (`replaced_if_holds` names the file an earlier run left in it) must be new, empty or such an output:
    `-o .` must never wipe a working directory."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{option} {path} is an existing file; give a directory (it is created or replaced)")
    if replaced_if_holds and path.is_dir() and any(path.iterdir()) and not (path / replaced_if_holds).is_file():
        raise OutputPathError(f"{option} {path} is a non-empty directory munify did not make (no "
                              f"{replaced_if_holds}) and would be replaced; give a new or empty directory")
    _check_parent(path, option)


def _check_parent(path: Path, option: str) -> None:
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError(f"{option} {path}: {ancestor} is a file, not a directory; choose another path")
    if not _can_create_in(ancestor):
        raise OutputPathError(f"{option} {path}: cannot write in {ancestor}; choose a writable place")


def _can_create_in(directory: Path) -> bool:
    """Try it: permission bits do not tell for root, read-only mounts or /proc."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".munify-probe.", dir=directory)
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True
