"""torch is an extra (munify[compress]): the whole .tflite path runs without it, and the commands that need it
say how to install it in one line. A shadowing `torch` package that fails to import stands in for a machine
without torch, in a child interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.fixture
def no_torch_env(tmp_path):
    shadow = tmp_path / "shadow" / "torch"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named torch (shadowed by the test)')\n")
    paths = [str(shadow.parent), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _munify(env, cwd, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolchain", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_tflite_path_runs_without_torch(models_dir, tmp_path, no_torch_env):
    model = str(models_dir / "ad01_int8.tflite")
    steps = (["import", model, "-o", "ad01.mun"], ["inspect", "ad01.mun"],
             ["run", "ad01.mun", "--board", "mps2-an386", "--inputs", "1"],
             ["export", "ad01.mun", "-o", "back.tflite"], ["verify", "back.tflite", "--against", "tflm", "--inputs", "1"])
    for argv in steps:
        proc = _munify(no_torch_env, tmp_path, *argv)
        assert proc.returncode == 0, (argv, proc.stderr)
        if argv[0] == "run":
            assert "bit-exact: yes" in proc.stdout


def test_compress_without_torch_names_the_extra(tmp_path, no_torch_env):
    proc = _munify(no_torch_env, tmp_path, "compress", "--recipe", "r.toml", "-o", "x.mun")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "munify[compress]" in proc.stderr and "torch" in proc.stderr
    assert not (tmp_path / "x.mun").exists()
