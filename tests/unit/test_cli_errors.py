"""The CLI's error contract: unusable output paths are refused before any work starts (one line, exit 2,
nothing written), and any unexpected exception is a one-line 'munify bug' (exit 1, no traceback unless
--debug / MUNIFY_DEBUG=1) that leaves no half-written output."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from toolchain.cli import main
from toolchain.errors import MunifyError

REPO = Path(__file__).resolve().parents[2]
TFLITE = REPO / "examples" / "models" / "mlperf-tiny" / "ad01_int8.tflite"
RECIPE = REPO / "examples" / "mnist_cnn_1x8.toml"


@pytest.fixture
def places(tmp_path):
    """A directory, a file, a non-empty directory munify did not make, and a .mun model."""
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["import", str(TFLITE), "-o", str(tmp_path / "m.mun")]) == 0
    return tmp_path


BAD_OUTPUTS = [
    (["import", str(TFLITE), "-o", "{dir}"], "-o {dir} is a directory"),
    (["import", str(TFLITE), "-o", "{file}/x.mun"], "{file} is a file, not a directory"),
    (["import", str(TFLITE), "-o", "/proc/munify-test/x.mun"], "cannot write in /proc"),
    (["export", "{tmp}/m.mun", "-o", "{dir}"], "-o {dir} is a directory"),
    (["export", "{tmp}/m.mun", "-o", "{file}/m.tflite"], "{file} is a file, not a directory"),
    (["compress", "--recipe", str(RECIPE), "-o", "{tmp}/c.mun", "--json", "{dir}"], "--json {dir} is a directory"),
    (["compress", "--recipe", str(RECIPE), "-o", "{dir}"], "-o {dir} is a directory"),
    (["compress", "--recipe", str(RECIPE), "-o", "{tmp}/c.mun", "--cache-dir", "{file}"], "is an existing file"),
    (["verify", str(TFLITE), "--json", "{dir}"], "--json {dir} is a directory"),
    (["build", "{tmp}/m.mun", "-o", "{file}"], "-o {file} is an existing file"),
    (["build", "{tmp}/m.mun", "-o", "{mine}"], "non-empty directory munify did not make"),
    (["run", "{tmp}/m.mun", "--json", "{dir}"], "--json {dir} is a directory"),
    (["run", "{tmp}/m.mun", "--build-dir", "{file}/b"], "{file} is a file, not a directory"),
    (["bench", "--quick", "--out", "{dir}"], "--out {dir} is a directory"),
    (["bench", "--quick", "--img-dir", "{file}"], "--img-dir {file} is an existing file"),
    (["demo", "-o", "{file}"], "-o {file} is an existing file"),
]


@pytest.mark.parametrize("argv,expected", BAD_OUTPUTS, ids=[" ".join(a[:1] + a[-2:-1]) for a, _ in BAD_OUTPUTS])
def test_bad_output_paths_are_refused_before_any_work(places, capsys, argv, expected):
    fill = lambda text: text.format(tmp=places, dir=places / "dir", file=places / "file",  # noqa: E731
                                    mine=places / "mine")
    before = sorted(p.relative_to(places) for p in places.rglob("*"))
    start = time.monotonic()
    assert main([fill(a) for a in argv]) == 2
    assert time.monotonic() - start < 5, "the check must come before training, building or running"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("munify: error: ") and fill(expected) in err, err
    assert sorted(p.relative_to(places) for p in places.rglob("*")) == before
    assert (places / "mine" / "notes.txt").read_text() == "keep me"


def _explode(*args, **kwargs):
    raise ZeroDivisionError("boom\nsecond line")


def test_an_unexpected_exception_is_a_one_line_munify_bug(monkeypatch, capsys):
    monkeypatch.setattr("toolchain.cli.inspect_cmd.summarize", _explode)
    monkeypatch.delenv("MUNIFY_DEBUG", raising=False)
    assert main(["inspect", str(TFLITE)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("munify bug: ZeroDivisionError: boom second line (please report it at ")
    assert "MUNIFY_DEBUG=1" in err


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback(monkeypatch, capsys, how):
    monkeypatch.setattr("toolchain.cli.inspect_cmd.summarize", _explode)
    argv = ["inspect", str(TFLITE)]
    if how == "flag":
        argv = ["--debug", *argv]
    else:
        monkeypatch.setenv("MUNIFY_DEBUG", "1")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "_explode" in err
    assert "munify bug: ZeroDivisionError" in err


def test_a_bug_in_the_middle_of_writing_leaves_nothing_behind(monkeypatch, capsys, tmp_path):
    def fail_on_arrays(*args, **kwargs):
        raise RuntimeError("disk gremlin")

    monkeypatch.setattr(np, "save", fail_on_arrays)  # after graph.json went into the .mun being written
    out = tmp_path / "sub" / "m.mun"
    assert main(["import", str(TFLITE), "-o", str(out)]) == 1
    assert "munify bug: RuntimeError: disk gremlin" in capsys.readouterr().err
    assert not out.exists() and not any(out.parent.iterdir())


def test_an_error_naming_a_hostile_string_stays_on_one_line(monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise MunifyError("op 'x\n#define Y \x1b[31m' is broken")

    monkeypatch.setattr("toolchain.cli.inspect_cmd.summarize", refuse)
    assert main(["inspect", str(TFLITE)]) == 2
    assert capsys.readouterr().err == "munify: error: op 'x\\n#define Y \\x1b[31m' is broken\n"
