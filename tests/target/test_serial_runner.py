"""The serial runner (real boards) over a real tty: a pseudo-terminal whose other end is the Linux user-mode
firmware under qemu-aarch64, standing in for a board on /dev/ttyACM0. Flashing runs the board file's
flash_command with its placeholders filled in."""

import os
import subprocess
import tty
from pathlib import Path

import pytest

from target_support import FAKE_MODEL, fake_reference, require_tools
from toolchain.boards import load_board
from toolchain.build import build_sources
from toolchain.harness.session import Case
from toolchain.run import run_cases

pytestmark = pytest.mark.qemu

BOARD_FILE = Path(__file__).parents[2] / "boards" / "aarch64-linux.toml"
INPUT = bytes(range(0, 160, 10))


def serial_board(tmp_path: Path, port: str) -> Path:
    text = BOARD_FILE.read_text().replace('name = "aarch64-linux"', 'name = "pty-board"')
    text = text.replace('runner = "qemu-user"', 'runner = "serial"')
    text += (f'\n[hardware]\nserial_port = "{port}"\nbaud = 115200\npyocd_target = "fake_target"\n'
             f'flash_command = ["cp", "{{elf}}", "{tmp_path}/flashed-{{pyocd_target}}.elf"]\n')
    path = tmp_path / "pty-board.toml"
    path.write_text(text)
    return path


def test_serial_runner_flashes_and_runs_over_a_tty(tmp_path):
    require_tools()
    master, slave = os.openpty()
    tty.setraw(slave)  # a board's UART has no line discipline
    board = load_board(str(serial_board(tmp_path, os.ttyname(slave))))
    build = build_sources(FAKE_MODEL, board, tmp_path / "build")
    device = subprocess.Popen(["qemu-aarch64", str(build.elf)], stdin=master, stdout=master, start_new_session=True)
    # The test keeps the master open too: a board's port does not hang up when its firmware stops.
    try:
        report = run_cases(build, lambda info: [Case(INPUT, fake_reference(INPUT)[1], {})], {})
        assert device.wait(timeout=10) == 0  # 'munify exit 0' ended the firmware
    finally:
        device.kill()
        device.wait()
        os.close(master)
        os.close(slave)
    assert (tmp_path / "flashed-fake_target.elf").read_bytes() == build.elf.read_bytes()
    assert report.bit_exact and report.inputs == 1
    assert report.latency.unit == "cycles" and report.latency.per_inference > 0
    assert [layer.name for layer in report.layers] == ["scale", "pairdiff"]


def test_pyocd_runner_flashes_with_pyocd(tmp_path, monkeypatch):
    from toolchain.errors import SetupError
    from toolchain.runners import runner_for

    text = serial_board(tmp_path, "/dev/null").read_text().replace('runner = "serial"', 'runner = "pyocd"')
    text = text[:text.index("flash_command")]  # runner pyocd flashes with pyOCD by default
    path = tmp_path / "pyocd-board.toml"
    path.write_text(text.replace('name = "pty-board"', 'name = "pyocd-board"'))
    runner = runner_for(load_board(str(path)), tmp_path / "firmware.elf")
    assert runner.describe()[0] == f"pyocd flash --target fake_target {tmp_path / 'firmware.elf'}"
    monkeypatch.setenv("PATH", str(tmp_path))  # no pyocd here
    with pytest.raises(SetupError, match=r"'pyocd' not found; install it \(pip install 'munify\[hil\]'\)"):
        with runner:
            pass
