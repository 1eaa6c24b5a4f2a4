"""Host-side faults of a real-board run, each a one-line error (exit code 2) naming the board or port and the
fix, with the port, the probe session or QEMU released afterwards: board not found, port busy, probe missing,
no GDB server, firmware silent, reply garbled, board reset mid-run. The "board" is the Linux user-mode
firmware under qemu-aarch64 on a pseudo-terminal (a real tty, as /dev/ttyACM0 would be)."""

import os
import subprocess
import threading
import tty
from pathlib import Path

import pytest
import serial

from target_support import FAKE_MODEL, fake_reference, require_tools, tiny_fc_model
from toolchain.boards import load_board, with_overrides
from toolchain.build import build_model, build_sources
from toolchain.cli import main
from toolchain.harness.session import Case
from toolchain.run import run_cases
from toolchain.harness.transport import DeviceError
from toolchain.runners import qemu
from toolchain.runners.serial_port import FlashError, SerialPortRunner

pytestmark = pytest.mark.qemu

BOARDS_DIR = Path(__file__).parents[2] / "boards"
INPUT = bytes(range(16))


class Pty:
    """A pseudo-terminal: `port` is the board's side as munify sees it, `master` the board's own end."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)

    def firmware(self, elf: Path) -> subprocess.Popen:
        return subprocess.Popen(["qemu-aarch64", str(elf)], stdin=self.master, stdout=self.master,
                                start_new_session=True)

    def is_free(self) -> bool:
        try:
            serial.Serial(self.port, exclusive=True).close()
            return True
        except serial.SerialException:
            return False

    def close(self):
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def pty():
    line = Pty()
    yield line
    line.close()


@pytest.fixture(scope="module")
def pty_board(tmp_path_factory):
    """A board file for a board on a serial port (flashed by hand) and the tiny model built for it."""
    require_tools()
    root = tmp_path_factory.mktemp("pty-board")
    text = (BOARDS_DIR / "aarch64-linux.toml").read_text().replace('name = "aarch64-linux"', 'name = "pty-board"')
    text = text.replace('runner = "qemu-user"', 'runner = "serial"') + '\n[hardware]\nserial_port = "/dev/null"\n'
    board_file = root / "pty-board.toml"
    board_file.write_text(text)
    model = tiny_fc_model(root / "tiny.mun")
    build = build_model(model, load_board(str(board_file)), root / "build")
    return board_file, model, build


def run_cli(pty_board, port: str, capsys) -> str:
    board_file, model, build = pty_board
    assert main(["run", str(model), "--board", str(board_file), "--port", port, "--inputs", "1",
                 "--build-dir", str(build.out_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("munify: error: ") and err.count("\n") == 1, err
    return err


def test_board_not_found(pty_board, capsys):
    err = run_cli(pty_board, "/dev/ttyNOPE7", capsys)
    assert "board 'pty-board': serial port /dev/ttyNOPE7 not found (ports found now: " in err
    assert "connect the board, or pass its port with --port" in err


def test_port_busy(pty_board, pty, capsys):
    holder = serial.Serial(pty.port, exclusive=True)  # a serial terminal, or another munify run
    try:
        err = run_cli(pty_board, pty.port, capsys)
    finally:
        holder.close()
    assert f"board 'pty-board': serial port {pty.port} is busy (another program holds it); close" in err


def test_firmware_silent_times_out_and_releases_the_port(pty_board, pty, capsys, monkeypatch):
    monkeypatch.setattr(SerialPortRunner, "handshake_timeout", 1.0)
    err = run_cli(pty_board, pty.port, capsys)
    assert f"board 'pty-board' on {pty.port} is silent: no reply to 'name' within 1 s; check that munify " in err
    assert pty.is_free()


def test_reply_garbled(pty_board, pty, capsys, monkeypatch):
    monkeypatch.setattr(SerialPortRunner, "handshake_timeout", 1.0)
    stop = threading.Event()

    def wrong_baud_rate():
        while not stop.is_set():
            os.write(pty.master, b"\xf0\x0f\x99x\xe6\r\n")
            stop.wait(0.05)

    noise = threading.Thread(target=wrong_baud_rate)
    noise.start()
    try:
        err = run_cli(pty_board, pty.port, capsys)
    finally:
        stop.set()
        noise.join()
    assert f"board 'pty-board' on {pty.port} answered 'name' with " in err
    assert "not munify firmware; check the baud rate (115200)" in err and pty.is_free()


def test_board_reset_mid_run(pty_board, pty):
    board_file, _, _ = pty_board
    board = with_overrides(load_board(str(board_file)), port=pty.port)
    build = build_sources(FAKE_MODEL, board, pty_board[2].out_dir.parent / "fake")
    firmware = [pty.firmware(build.elf)]

    def reset_then_cases(info):
        firmware[0].kill()  # the board resets: its firmware starts over and prints its boot banner
        firmware[0].wait()
        firmware.append(pty.firmware(build.elf))
        return [Case(INPUT, fake_reference(INPUT)[1], {})]

    try:
        with pytest.raises(DeviceError) as info:
            run_cases(build, reset_then_cases, {})
    finally:
        for process in firmware:
            process.kill()
            process.wait()
    message = str(info.value)
    assert message.startswith(f"board 'pty-board' on {pty.port} reset during the run (its boot banner came back)")
    assert "\n" not in message and pty.is_free()


def test_probe_missing_is_reported_by_openocd(tmp_path, capsys):
    """The real OpenOCD, with no ST-LINK on this machine."""
    require_tools("openocd")
    build = build_sources(FAKE_MODEL, load_board("nucleo-l4r5zi"), tmp_path / "build")
    with pytest.raises(FlashError) as info:
        run_cases(build, lambda info: [], {})
    message = str(info.value)
    assert message.startswith("board 'nucleo-l4r5zi': no debug probe found (openocd: Error: open failed); connect "
                              "the board's debug USB port")
    assert "--runner serial" in message and "\n" not in message


def test_no_gdb_server(tmp_path):
    require_tools("gdb-multiarch")
    port = qemu.free_tcp_port()  # nothing listens there
    text = (BOARDS_DIR / "netduinoplus2.toml").read_text().replace('name = "netduinoplus2"', 'name = "gdb-board"')
    text = text.replace('runner = "qemu-system"', 'runner = "gdb"')
    text += f'\n[hardware]\nserial_port = "/dev/null"\ngdb_remote = "127.0.0.1:{port}"\n'
    (tmp_path / "gdb-board.toml").write_text(text)
    build = build_sources(FAKE_MODEL, load_board(str(tmp_path / "gdb-board.toml")), tmp_path / "build")
    with pytest.raises(FlashError, match=rf"^board 'gdb-board': no GDB server at 127.0.0.1:{port} \(.*\); start one "
                                         r"first \(pyocd gdbserver, or openocd"):
        run_cases(build, lambda info: [], {})
