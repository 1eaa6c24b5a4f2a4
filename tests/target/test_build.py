"""Building firmware: every QEMU board compiles the fake model with -Werror; a warning fails the build, a
model too big for the board fails with both sizes; a failed build leaves nothing; builds are reproducible."""

import json
import re
import shutil
from pathlib import Path

import pytest

from target_support import ALL_BOARDS, FAKE_MODEL, require_tools
from toolchain.boards import load_board
from toolchain.build import BuildError, build_sources, dry_run_commands, make_command, render_linker_script
from toolchain.cli import main

BOARD_FILE = Path(__file__).parents[2] / "boards" / "mps2-an386.toml"


@pytest.mark.parametrize("board", ALL_BOARDS)
def test_fake_model_builds_on_every_board(fake_builds, board):
    result = fake_builds[board]
    sizes = result.sizes
    assert result.model_name == "fake" and result.elf.is_file()
    assert sizes.code_bytes > 1000 and sizes.weights_bytes == 0 and sizes.arena_bytes == 16
    assert sizes.flash_bytes == sizes.code_bytes + sizes.weights_bytes + sizes.rodata_bytes + sizes.data_bytes
    assert sizes.stack_reserved_bytes == result.board.stack_bytes
    info = json.loads((result.out_dir / "build.json").read_text())
    assert info["board"] == board and info["sizes"]["flash_bytes"] == sizes.flash_bytes
    flags = make_command(result.board, result.out_dir, "balanced")
    assert any(flag.startswith("CPU_FLAGS=") and result.board.cpu in flag for flag in flags)


def test_linker_script_comes_from_the_memory_map():
    script = render_linker_script(load_board("mps3-an547"))
    assert "FLASH (rx)  : ORIGIN = 0x00000000, LENGTH = 0x80000" in script
    assert "RAM   (rwx) : ORIGIN = 0x20000000, LENGTH = 0x80000" in script


def test_compiler_warning_fails_the_build_and_leaves_nothing(tmp_path):
    require_tools()
    model = tmp_path / "warn"
    shutil.copytree(FAKE_MODEL, model)
    with open(model / "model.c", "a") as source:
        source.write("\nint unused_function_argument(int never_used) { return 0; }\n")
    out = tmp_path / "out"
    with pytest.raises(BuildError, match=r"firmware build for board 'mps2-an386' failed: .*never_used.*-Werror"):
        build_sources(model, load_board("mps2-an386"), out)
    assert not out.exists() and list(tmp_path.iterdir()) == [model]


def _board_with(tmp_path, name, **replace) -> Path:
    text = BOARD_FILE.read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace('name = "mps2-an386"', f'name = "{name}"'))
    return path


def test_model_too_big_for_flash_names_both_sizes(tmp_path):
    require_tools()
    board = load_board(str(_board_with(tmp_path, "tiny", **{"length = 0x40_0000, label = \"ZBT SSRAM1":
                                                            "length = 0x1000, label = \"ZBT SSRAM1"})))
    out = tmp_path / "out"
    with pytest.raises(BuildError, match=r"model 'fake' is too large for board 'tiny': flash needs (\d+) bytes, "
                                         r"the board has 4096 \(ZBT SSRAM1 \(code\)\): (\d+) bytes over; "
                                         r"RAM \(static data \+ arena \+ stack\) \d+ of 4194304 bytes .* fits; "
                                         r"compress the model") as info:
        build_sources(FAKE_MODEL, board, out)
    needed, over = map(int, re.search(r"needs (\d+) bytes.*: (\d+) bytes over", str(info.value)).groups())
    assert over == needed - 4096
    assert needed > 4096 and needed == build_sources(FAKE_MODEL, load_board("mps2-an386"),
                                                     tmp_path / "big").sizes.flash_bytes
    assert not out.exists()


def test_model_too_big_for_ram_names_both_sizes(tmp_path):
    require_tools()
    board = load_board(str(_board_with(tmp_path, "lowram", **{"length = 0x40_0000, label = \"ZBT SSRAM2/3":
                                                              "length = 16392, label = \"ZBT SSRAM2/3"})))
    with pytest.raises(BuildError, match=r"flash \d+ of 4194304 bytes .* fits; RAM \(static data \+ arena \+ "
                                         r"stack\) needs \d+ bytes, the board has 16392 \(ZBT SSRAM2/3\): \d+ bytes over"):
        build_sources(FAKE_MODEL, board, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_builds_are_byte_identical(tmp_path):
    require_tools()
    board = load_board("mps2-an385")
    first = build_sources(FAKE_MODEL, board, tmp_path / "a")
    second = build_sources(FAKE_MODEL, board, tmp_path / "b")
    assert first.elf.read_bytes() == second.elf.read_bytes()


def test_dry_run_prints_commands_and_builds_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["build", "model.mun", "--board", "mps2-an385", "-o", str(out), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "make --no-print-directory" in printed and "CPU_FLAGS=-mcpu=cortex-m3" in printed
    assert "arm-none-eabi-size" in printed and not out.exists()
    assert printed.strip().splitlines() == dry_run_commands(load_board("mps2-an385"), out, "balanced")


def test_run_dry_run_prints_build_and_qemu_commands(tmp_path, capsys):
    build_dir = tmp_path / "build"
    assert main(["run", "model.mun", "--board", "mps3-an547", "--build-dir", str(build_dir), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "make --no-print-directory" in printed
    assert ("qemu-system-arm -M mps3-an547 -cpu cortex-m55 -nographic -monitor none "
            "-icount shift=0,align=off,sleep=off -semihosting-config enable=on,target=native "
            "-serial tcp:127.0.0.1:<free port>,server=on,wait=on") in printed
    assert not build_dir.exists()


@pytest.mark.parametrize("argv, message", [
    (["run", "x.mun", "--inputs", "0"], "--inputs must be at least 1, not 0"),
    (["run", "x.mun", "--seed", "-3"], "--seed must be a non-negative integer, not -3"),
    (["run", "missing.mun"], "missing.mun: no such IR file"),
    (["build", "missing.mun", "-o", "out"], "missing.mun: no such IR file"),
])
def test_cli_usage_errors_are_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("munify: error: ") and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
