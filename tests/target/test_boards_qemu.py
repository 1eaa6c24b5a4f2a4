"""The fake-model firmware on every QEMU board: boots, answers, is bit-exact, counts instructions right,
and hands its exit status to QEMU through semihosting. No QEMU survives a failed or interrupted run."""

import os

import pytest

from target_support import ALL_BOARDS, SPIN_INSTRUCTIONS, fake_reference
from toolchain.harness.protocol import DeviceClient
from toolchain.harness.transport import DeviceError
from toolchain.runners import runner_for
from toolchain.runners.qemu import QemuSystemRunner

pytestmark = pytest.mark.qemu

INPUT = bytes((37 * i - 70) & 0xFF for i in range(16))  # negative, positive and saturating
# Layer 0 of the fake model runs on Helium or the FPU where the board has them: startup must enable them.
SCALE_KERNEL = {"mps2-an385": "fake_scale_s8", "mps2-an386": "fake_scale_fpu", "mps2-an500": "fake_scale_fpu",
                "mps3-an547": "fake_scale_mve", "aarch64-linux": "fake_scale_fpu", "netduinoplus2": "fake_scale_fpu",
                "stm32vldiscovery": "fake_scale_s8", "microbit": "fake_scale_s8", "mps2-an505": "fake_scale_fpu"}
# Layer 1 spins exactly SPIN_INSTRUCTIONS instructions plus a few dozen of its own work.
LAYER_OVERHEAD = 600


@pytest.mark.parametrize("board", ALL_BOARDS)
def test_board_runs_bit_exact_counts_instructions_and_exits_with_status(fake_builds, board):
    build = fake_builds[board]
    runner = runner_for(build.board, build.elf)
    with runner as transport:
        client = DeviceClient(transport, timeout=20)
        client.wait_ready()
        assert client.info().layers[0] == ("scale", SCALE_KERNEL[board])
        client.load(INPUT)
        client.trace("tensors")
        result = client.infer(1, 0)
        assert (result.tensors[0], result.output) == fake_reference(INPUT)
        client.trace("ticks")
        result = client.infer(1, 0)
        assert result.tick_hz == build.board.timer.hz
        if runner.time_unit == "instructions":  # icount: ticks are exact instruction counts
            spin = QemuSystemRunner.count(result.layer_ticks[1], result.tick_hz)
            assert SPIN_INSTRUCTIONS <= spin <= SPIN_INSTRUCTIONS + LAYER_OVERHEAD
        client.exit(7)
        assert runner.wait_exit() == 7


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _qemu_processes_running(elf) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
            except OSError:
                continue
            if str(elf).encode() in cmdline and b"qemu" in cmdline:
                pids.append(int(entry))
    return pids


def test_no_orphan_qemu_after_an_error(fake_builds):
    build = fake_builds["mps2-an386"]
    runner = QemuSystemRunner(build.board, build.elf)
    with pytest.raises(DeviceError, match="no reply from the device"):
        with runner as transport:
            pid = runner.process.pid
            client = DeviceClient(transport, timeout=20)
            client.wait_ready()
            transport.write(b"name")  # no terminator: the firmware waits, the host times out
            transport.read_until("m-ready", 0.5)
    assert not _alive(pid)
    assert _qemu_processes_running(build.elf) == []


def test_no_orphan_qemu_after_ctrl_c(fake_builds):
    build = fake_builds["mps2-an386"]
    runner = QemuSystemRunner(build.board, build.elf)
    with pytest.raises(KeyboardInterrupt):
        with runner:
            pid = runner.process.pid
            raise KeyboardInterrupt
    assert not _alive(pid)


def test_firmware_exit_is_reported_as_device_error(fake_builds):
    build = fake_builds["mps2-an386"]
    runner = QemuSystemRunner(build.board, build.elf)
    with runner as transport:
        client = DeviceClient(transport, timeout=20)
        client.wait_ready()
        client.exit(0)
        assert runner.wait_exit() == 0
        with pytest.raises(DeviceError):
            client.command("name")


def test_crashing_model_is_reported_not_hung(tmp_path):
    from target_support import crash_model
    from toolchain.boards import load_board
    from toolchain.build import build_sources
    from toolchain.harness.session import Case
    from toolchain.run import run_cases

    build = build_sources(crash_model(tmp_path / "crash_model"), load_board("mps2-an386"), tmp_path / "crash")
    with pytest.raises(DeviceError, match=r"the firmware crashed \(CPU fault, exit status 3\).*"
                                          r"e-\[CPU fault: the firmware crashed at pc 0x[0-9a-f]{8}, CFSR 0x00010000"):
        run_cases(build, lambda info: [Case(bytes(16), bytes(8), {})], {})
    assert _qemu_processes_running(build.elf) == []


def test_no_orphan_qemu_when_munify_is_killed(fake_builds):
    """SIGKILL runs no finally block; QEMU must still die with its parent."""
    import subprocess
    import sys
    import time

    build = fake_builds["mps2-an386"]
    script = ("import sys, time\n"
              "from toolchain.boards import load_board\n"
              "from toolchain.runners.qemu import QemuSystemRunner\n"
              f"runner = QemuSystemRunner(load_board('mps2-an386'), {str(build.elf)!r})\n"
              "runner.start()\n"
              "print(runner.process.pid, flush=True)\n"
              "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        qemu_pid = int(parent.stdout.readline())
        assert _alive(qemu_pid)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while _qemu_processes_running(build.elf) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _qemu_processes_running(build.elf) == []
    finally:
        parent.kill()
        parent.stdout.close()


@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547"])
def test_timing_is_repeatable_across_boots(fake_builds, board):
    """Inferences start right after a SysTick interrupt (hal_tick_sync), which under icount comes at an exact
    instruction count, so the tick readings do not depend on when the host's bytes arrived."""
    import time

    build = fake_builds[board]
    readings = set()
    for delay in (0.0, 0.03):
        with runner_for(build.board, build.elf) as transport:
            client = DeviceClient(transport, timeout=20)
            client.wait_ready()
            time.sleep(delay)  # shifts the guest's polling phase
            client.load(INPUT)
            client.trace("ticks")
            first, second = client.infer(2, 1), client.infer(1, 0)
            readings.add((first.ticks_min, first.ticks_max, first.layer_ticks, second.ticks_sum, second.layer_ticks))
    assert len(readings) == 1, readings


def test_a_taken_port_is_detected_and_another_one_used(fake_builds, monkeypatch):
    """Another program listens on the port we picked (it took it after our probe): QEMU cannot bind it, and
    the runner must neither talk to that program nor give up."""
    import socket

    from toolchain.runners import qemu

    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    ports = iter([squatter.getsockname()[1]])
    real_free_port = qemu.free_tcp_port
    monkeypatch.setattr(qemu, "free_tcp_port", lambda: next(ports, None) or real_free_port())
    build = fake_builds["mps2-an386"]
    runner = QemuSystemRunner(build.board, build.elf)
    try:
        with runner as transport:
            assert runner.port != squatter.getsockname()[1]
            client = DeviceClient(transport, timeout=20)
            assert client.wait_ready()[-1] == "m-ready"
            assert client.name() == "munify"
    finally:
        squatter.close()
