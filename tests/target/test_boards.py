"""Board files: the built-in boards load, every file of the invalid corpus raises its documented error."""

from pathlib import Path

import pytest

from toolchain.boards import DEFAULT_BOARD, BoardError, Pin, list_boards, load_board, parse_board
from toolchain.cli import main

INVALID = sorted((Path(__file__).parent / "fixtures" / "invalid_boards").glob("*.toml"))
QEMU_BOARDS = ("mps2-an385", "mps2-an386", "mps2-an500", "mps3-an547")


def expected_error(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <error text>'"
    return first[len("# expect: "):]


def test_builtin_boards_load_with_their_features():
    boards = {b.name: b for b in list_boards()}
    assert set(QEMU_BOARDS) <= set(boards)
    assert boards["mps2-an385"].features == frozenset()
    assert boards["mps2-an386"].features == {"dsp", "fpu"}
    assert boards["mps2-an500"].features == {"dsp", "fpu"}
    assert boards["mps3-an547"].features == {"dsp", "fpu", "mve"}
    assert boards["mps3-an547"].uart.base == 0x49303000
    assert boards["mps3-an547"].flash.length == boards["mps3-an547"].ram.length == 512 * 1024
    assert DEFAULT_BOARD == "mps2-an386"
    assert boards["microbit"].features == frozenset() and boards["microbit"].ram.length == 16 * 1024
    assert boards["nucleo-l4r5zi"].uart.tx_pin == Pin(6, 7) and boards["nucleo-l4r5zi"].uart.pin_function == 8
    assert boards["nrf52840-dk"].uart.rx_pin == Pin(0, 8) and boards["nrf52840-dk"].soc == "nrf52"
    assert boards["mps2-an386"].soc == "none" and not boards["mps2-an386"].timer.measured


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(BoardError, match=r"unknown board 'nope'; known boards: ") as info:
        load_board("nope")
    assert str(info.value).split("known boards: ")[1].split(", ") == [b.name for b in list_boards()]


def test_invalid_corpus_is_not_empty():
    assert len(INVALID) >= 20


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_board_file_raises_documented_error(path):
    with pytest.raises(BoardError) as info:
        parse_board(path)
    message = str(info.value)
    assert expected_error(path) in message
    assert str(path) in message and "\n" not in message


def test_board_file_name_must_match_its_name(tmp_path):
    text = (Path(__file__).parents[2] / "boards" / "mps2-an386.toml").read_text()
    path = tmp_path / "other.toml"
    path.write_text(text)
    with pytest.raises(BoardError, match="key 'name' is 'mps2-an386' but the file is other.toml"):
        parse_board(path, expected_name="other")
    assert load_board(str(path)).name == "mps2-an386"  # a path is taken as is


def test_boards_command_lists_every_board(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    for name in QEMU_BOARDS:
        assert name in out
    assert main(["boards", "--json"]) == 0
    import json
    boards = json.loads(capsys.readouterr().out)
    assert {b["name"] for b in boards} >= set(QEMU_BOARDS)
    assert [b["name"] for b in boards if b["default"]] == [DEFAULT_BOARD]


def test_unknown_board_is_a_one_line_cli_error(capsys):
    assert main(["build", "x.mun", "--board", "nope", "-o", "out"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("munify: error: unknown board 'nope'") and err.count("\n") == 1
