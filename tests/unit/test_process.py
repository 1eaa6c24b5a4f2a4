"""`end_process_group`: how the QEMU and SSH runners end the child process they started."""

import signal
import subprocess
import sys

from toolchain.process import end_process_group


def _child() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def test_a_running_child_gets_the_signal_and_its_pipes_are_closed():
    for sig in (signal.SIGKILL, signal.SIGTERM):
        child = _child()
        end_process_group(child, sig)
        assert child.returncode == -sig
        assert child.stdin.closed and child.stdout.closed and child.stderr.closed


def test_a_child_that_already_exited_is_reaped_without_a_signal():
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"], stdout=subprocess.PIPE,
                             start_new_session=True)
    child.wait()
    end_process_group(child)
    assert child.returncode == 3 and child.stdout.closed
