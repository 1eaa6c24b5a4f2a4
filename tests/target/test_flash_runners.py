"""Flashing runners. The GDB-remote runner end to end against QEMU's gdbstub (flash with gdb-multiarch, reset,
run over the serial line, bit-exact, the firmware's exit status); the OpenOCD, pyOCD and SSH runners through
--dry-run (no board here); --runner / --port overrides; `munify boards` reachability."""

import dataclasses
import json
import socket
import subprocess
import time
from pathlib import Path

import pytest
from serial.tools.list_ports_common import ListPortInfo

from target_support import require_tools, tiny_fc_model
from toolchain.boards import BoardError, load_board, with_overrides
from toolchain.cli import main
from toolchain.runners import qemu, reachable, runner_for
from toolchain.runners.flashers import GdbRunner, OpenocdRunner, PyocdRunner
from toolchain.runners.ssh import SshRunner

pytestmark = pytest.mark.qemu

BOARDS_DIR = Path(__file__).parents[2] / "boards"


def gdb_board(tmp_path: Path, gdb_port: int, serial_port: int) -> Path:
    """netduinoplus2 reached like a real board: flashed through a GDB server, run over its serial line."""
    text = (BOARDS_DIR / "netduinoplus2.toml").read_text().replace('name = "netduinoplus2"', 'name = "gdb-board"')
    text = text.replace('runner = "qemu-system"', 'runner = "gdb"')
    text += (f'\n[hardware]\nserial_port = "socket://127.0.0.1:{serial_port}"\ngdb_remote = "127.0.0.1:{gdb_port}"\n'
             'gdb_reset = "monitor system_reset"\n')
    path = tmp_path / "gdb-board.toml"
    path.write_text(text)
    return path


def empty_qemu(gdb_port: int, serial_port: int) -> subprocess.Popen:
    """A netduinoplus2 with nothing loaded, halted (-S) with its gdbstub and its USART1 on TCP ports."""
    return subprocess.Popen(
        ["qemu-system-arm", "-M", "netduinoplus2", "-cpu", "cortex-m4", "-nographic", "-monitor", "none", "-S",
         "-gdb", f"tcp:127.0.0.1:{gdb_port}", "-serial", f"tcp:127.0.0.1:{serial_port},server=on,wait=off",
         "-semihosting-config", "enable=on,target=native", "-icount", "shift=0,align=off,sleep=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"QEMU did not listen on {port}"
            time.sleep(0.05)


def test_gdb_runner_flashes_through_qemus_gdbstub_and_runs_bit_exact(tmp_path, capsys):
    """munify run as on a desk: build, flash through the GDB server, run over the serial port given by --port."""
    require_tools("gdb-multiarch")
    gdb_port, serial_port = qemu.free_tcp_port(), qemu.free_tcp_port()
    board_file = gdb_board(tmp_path, gdb_port, 9)  # the board file's port is wrong: --port corrects it
    model = tiny_fc_model(tmp_path / "tiny.mun")
    build_dir = tmp_path / "build"
    target = empty_qemu(gdb_port, serial_port)
    try:
        wait_listening(gdb_port)
        status = main(["run", str(model), "--board", str(board_file), "--port", f"socket://127.0.0.1:{serial_port}",
                       "--inputs", "2", "--build-dir", str(build_dir), "--json", str(tmp_path / "report.json")])
        assert target.wait(timeout=20) == 0  # 'munify exit 0' reached QEMU through semihosting
    finally:
        target.kill()
        target.wait()
    out = capsys.readouterr().out
    assert status == 0 and "bit-exact: yes (2/2 match the reference)" in out and "ms per inference" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["runner"] == "gdb" and report["latency"]["unit"] == "cycles"
    assert report["clock_source"] == "board file" and report["latency_ms"] > 0


def test_gdb_runner_command_is_load_reset_detach(tmp_path):
    board = load_board(str(gdb_board(tmp_path, 3333, 4444)))
    command = GdbRunner(board, tmp_path / "fw.elf").flash_command()
    assert command[:3] == ["gdb-multiarch", "-nx", "-batch"] and command[-1] == str(tmp_path / "fw.elf")
    assert [command[i + 1] for i, arg in enumerate(command) if arg == "-ex"][3:] == [
        "target extended-remote 127.0.0.1:3333", "load", "monitor system_reset", "detach"]


def test_dry_run_shows_the_openocd_flash_and_the_serial_port(tmp_path, capsys):
    assert main(["run", "m.mun", "--board", "nucleo-l4r5zi", "--build-dir", str(tmp_path / "b"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (f"openocd -f board/st_nucleo_l4.cfg -c 'program {tmp_path / 'b' / 'firmware.elf'} verify reset exit'"
            in out)
    assert "open /dev/ttyACM0 at 115200 baud" in out and not (tmp_path / "b").exists()


@pytest.mark.parametrize("runner, expected", [
    ("pyocd", "pyocd flash --target stm32f446retx "),
    ("gdb", "-ex 'target extended-remote localhost:3333' -ex load -ex 'monitor reset' -ex detach "),
])
def test_runner_override_and_port(runner, expected, tmp_path, capsys):
    argv = ["run", "m.mun", "--board", "nucleo-f446re", "--runner", runner, "--port", "/dev/ttyUSB3",
            "--build-dir", str(tmp_path / "b"), "--dry-run"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert expected in out and "open /dev/ttyUSB3 at 115200 baud" in out


def test_runner_classes_are_chosen_per_board():
    elf = Path("fw.elf")
    assert type(runner_for(load_board("nucleo-l4r5zi"), elf)) is OpenocdRunner
    assert type(runner_for(load_board("nrf52840-dk"), elf)) is PyocdRunner
    assert type(runner_for(with_overrides(load_board("nrf52840-dk"), "openocd"), elf)) is OpenocdRunner


def test_bad_overrides_are_one_line_errors(capsys):
    with pytest.raises(BoardError, match=r"board 'nucleo-l4r5zi' is a real board: QEMU does not emulate it"):
        with_overrides(load_board("nucleo-l4r5zi"), "qemu-system")
    with pytest.raises(BoardError, match=r"missing required key 'hardware.ssh_host' \(runner 'ssh' needs it\); add it "
                                         r"to the board file or pass --port$"):
        with_overrides(load_board("aarch64-linux"), "ssh")
    with pytest.raises(BoardError, match=r"missing required key 'hardware.openocd_args' \(runner 'openocd' needs it\); "
                                         r"add it to the board file$"):
        with_overrides(dataclasses.replace(load_board("nrf52840-dk"), hardware=None), "openocd", "/dev/ttyACM0")
    with pytest.raises(BoardError, match=r"board 'nucleo-l4r5zi': runner 'ssh' cannot run a 'cortex-m' firmware"):
        with_overrides(load_board("nucleo-l4r5zi"), "ssh", "pi@raspberrypi")
    assert with_overrides(load_board("aarch64-linux"), "ssh", "pi@raspberrypi").hardware.ssh_host == "pi@raspberrypi"
    with pytest.raises(BoardError, match=r"--port needs a runner that reaches a real board"):
        with_overrides(load_board("mps2-an386"), port="/dev/ttyACM0")
    assert main(["run", "m.mun", "--board", "mps2-an386", "--port", "/dev/ttyACM0", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("munify: error: board 'mps2-an386': --port needs") and err.count("\n") == 1


def test_ssh_runner_dry_run_copies_then_runs_with_the_protocol_on_stdio(tmp_path, capsys):
    text = (BOARDS_DIR / "aarch64-linux.toml").read_text().replace('name = "aarch64-linux"', 'name = "pi"')
    text = text.replace('runner = "qemu-user"', 'runner = "ssh"') + '\n[hardware]\nssh_host = "pi@raspberrypi"\n'
    board_file = tmp_path / "pi.toml"
    board_file.write_text(text)
    elf = tmp_path / "b" / "firmware.elf"
    assert main(["run", "m.mun", "--board", str(board_file), "--build-dir", str(tmp_path / "b"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"scp -q -o BatchMode=yes -o ConnectTimeout=10 {elf} pi@raspberrypi:/tmp/munify-pi-firmware" in out
    assert ("ssh -T -o BatchMode=yes -o ConnectTimeout=10 pi@raspberrypi 'chmod +x /tmp/munify-pi-firmware && "
            "exec /tmp/munify-pi-firmware'   (protocol on the remote stdin/stdout)") in out
    assert type(runner_for(load_board(str(board_file)), elf)) is SshRunner and not (tmp_path / "b").exists()


def _port(device: str, vid: int | None) -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.description = vid, 0x374B if vid else None, "test port"
    return info


def test_boards_lists_which_boards_are_reachable_now(monkeypatch, capsys):
    import json

    monkeypatch.setattr(reachable.list_ports, "comports", lambda: [_port("/dev/ttyACM0", 0x0483),
                                                                   _port("/dev/ttyS0", None)])
    assert main(["boards", "--json"]) == 0
    found = {b["name"]: b["reachable"] for b in json.loads(capsys.readouterr().out)}
    assert found["nucleo-l4r5zi"] == "yes (/dev/ttyACM0)"  # an ST-LINK on its configured port
    assert found["nrf52840-dk"] == "no (J-Link not connected)"
    assert found["mps2-an386"] == "yes (qemu-system-arm)"
    monkeypatch.setattr(reachable.list_ports, "comports", lambda: [_port("/dev/ttyACM3", 0x0483)])
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    assert "maybe (ST-LINK on /dev/ttyACM3; pass --port)" in out and "serial ports: /dev/ttyACM3 (ST-LINK)" in out


def test_real_board_latency_is_cycles_and_ms_at_the_measured_clock():
    runner = runner_for(load_board("nucleo-l4r5zi"), Path("fw.elf"))
    assert runner.time_unit == "cycles"
    assert runner.count(1_200_000, 118_000_000) == 1_200_000  # measured ticks are core cycles
    assert runner.report_details(1_200_000) == {"clock_hz": 118_000_000, "clock_source": "measured",
                                                "latency_ms": round(1_200_000 * 1000 / 118_000_000, 6)}
