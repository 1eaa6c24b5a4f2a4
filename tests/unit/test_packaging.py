"""A non-editable install must carry the templates, firmware sources, board files and examples."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_install_finds_bundled_resources(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(REPO)], check=True, cwd=tmp_path)
    probe = (
        "import toolchain.resources as r, toolchain;"
        "print(toolchain.__file__);"
        "print(*(r.resource_dir(n) for n in ('codegen_templates', 'firmware', 'boards', 'examples')), sep='\\n')"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", probe], check=True, cwd=tmp_path, env=env,
                         capture_output=True, text=True).stdout.split()
    package_dir = Path(out[0]).parent
    assert package_dir.is_relative_to(target)
    for found in map(Path, out[1:]):
        assert found.is_relative_to(package_dir / "_bundled"), found
    assert (package_dir / "_bundled" / "boards" / "mps2-an386.toml").is_file()
    assert (package_dir / "_bundled" / "codegen_templates" / "model.c.j2").is_file()
    assert (package_dir / "_bundled" / "examples" / "mnist_cnn_1x8.toml").is_file()
    boards = subprocess.run([sys.executable, "-m", "toolchain", "boards"], check=True, cwd=tmp_path, env=env,
                            capture_output=True, text=True).stdout
    assert "mps2-an386" in boards
