"""The MLCommons Tiny runner's side of accuracy and performance mode (toolchain.harness.mlperf_runner: its
command sequence, framing, normalisation and timing checks) against KWS and ad01 firmware under QEMU's MLPerf
mode, through the pseudo-terminal QEMU opens (`-serial pty`) and a plain pyserial `Serial` on it."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from target_support import require_tools
from toolchain.boards import load_board
from toolchain.build import build_model
from toolchain.harness import mlperf_runner as mlcommons
from toolchain.harness.mlperf import profile_of
from toolchain.harness.protocol import DeviceClient
from toolchain.importers.tflite import import_tflite
from toolchain.inputs import draw_inputs
from toolchain.ir import reference, save
from toolchain.runners.mlperf_serve import served_on_pty
from toolchain.runners.qemu import QemuSystemRunner, mlperf_icount_shift

pytestmark = pytest.mark.qemu

BOARD = "mps2-an386"
MODEL_FILES = {"kws01": "kws_ref_model.tflite", "ad01": "ad01_int8.tflite"}
AD01_FRAME_BYTES = 128 * 4  # the runner's ad01 stride: one frame of 128 float32 features
# Besides the model's instructions a window holds the loop's (the host-byte check and two tick readings per
# inference) and the SysTick interrupts, one per 65,536 ticks: more of them at 32 ns than at 1 ns per
# instruction.
LOOP_OVERHEAD_INSTRUCTIONS = 120
SYSTICK_PERIOD_TICKS = 65536
SYSTICK_HANDLER_INSTRUCTIONS = 40
ALIGN_SLACK_SECONDS = 0.3


@pytest.fixture(scope="module")
def firmware(tmp_path_factory, models_dir):
    """model id -> (graph, profile, build) on mps2-an386, the model id defaulting from the shipped model."""
    require_tools()
    root = tmp_path_factory.mktemp("mlperf")
    built = {}
    for model_id, file in MODEL_FILES.items():
        graph = import_tflite(models_dir / file)
        save(graph, root / f"{model_id}.mun")
        build = build_model(root / f"{model_id}.mun", load_board(BOARD), root / f"build-{model_id}")
        built[model_id] = (graph, profile_of(graph), build)
    return built


@contextlib.contextmanager
def runner_on_pty(build):
    """QEMU in MLPerf mode, and the runner's own pyserial Serial on its quiet pty."""
    with served_on_pty(build.board, build.elf) as qemu, mlcommons.RunnerSide(qemu.pty) as runner:
        yield runner


def reference_output(graph, tensor: np.ndarray) -> bytes:
    return reference.run(graph, [tensor.reshape(graph.tensor(graph.inputs[0]).shape)])[0].tobytes()


def instructions_per_inference(build, wire: bytes) -> int:
    """The exact figure (munify run's): one inference under -icount shift=0."""
    with QemuSystemRunner(build.board, build.elf) as transport:
        client = DeviceClient(transport, timeout=60)
        client.wait_ready()
        client.load(wire)
        result = client.infer(1, 0)
        return QemuSystemRunner.count(result.ticks_sum, result.tick_hz)


def test_accuracy_mode_kws01_scores_rank_as_the_reference(firmware):
    graph, profile, build = firmware["kws01"]
    tensors = [inputs[0] for inputs in draw_inputs(graph, 3, seed=5)]
    wires = [profile.encode(t.tobytes()) for t in tensors]
    with runner_on_pty(build) as runner:
        assert runner.identify() == ("munify", "kws01")
        results = runner.accuracy(wires)
    for tensor, wire, got in zip(tensors, wires, results):
        output = reference_output(graph, tensor)
        assert list(got) == pytest.approx(profile.results(wire, output), rel=1e-7, abs=0)
        scores = mlcommons.normalize(got)
        assert sum(got) > 0 and abs(sum(scores) - 1) < 1e-9
        assert int(np.argmax(scores)) == int(np.argmax(np.frombuffer(output, np.int8)))
    predictions = [mlcommons.file_prediction([r]) for r in results]
    labels = [int(np.argmax(np.frombuffer(reference_output(graph, t), np.int8))) for t in tensors]
    assert mlcommons.top1(predictions, labels) == 100.0


def test_accuracy_mode_ad01_scores_every_segment_of_a_float_file(firmware):
    graph, profile, build = firmware["ad01"]
    rng = np.random.default_rng(11)
    frames = 5 + 1  # one 640-feature window and one more a frame later
    features = rng.normal(0.0, 12.0, size=frames * 128).astype("<f4")
    file_bytes = features.tobytes()
    pieces = mlcommons.segments(file_bytes, profile.input_size * 4, AD01_FRAME_BYTES)
    assert len(pieces) == 2
    with runner_on_pty(build) as runner:
        assert runner.identify()[1] == "ad01"
        results = runner.accuracy(pieces)
    expected = [profile.results(p, reference_output(graph, profile.decode(p)))[0] for p in pieces]
    assert [len(r) for r in results] == [1] * len(pieces)
    assert [r[0] for r in results] == pytest.approx(expected, rel=1e-5)
    assert np.argsort([r[0] for r in results]).tolist() == np.argsort(expected).tolist()
    assert mlcommons.file_prediction(results) == pytest.approx(np.mean(expected), rel=1e-5)


@pytest.mark.parametrize("model_id, iterations, warmups", [("ad01", 20, 2), ("kws01", 2, 1)])
def test_performance_mode_windows_time_the_inferences_at_the_emulated_clock(firmware, model_id, iterations,
                                                                           warmups):
    """The runner's loop of 5 windows, shortened (the real counts take minutes: benchmarks/mlperf_runner.py).
    Each window's laps must equal the exact instruction figure at 2^S ns per instruction, the same in every
    window, and the host must have waited at least as long as the laps say (QEMU's align=on), which is what
    makes the runner's own counts meet its 10-second checks."""
    graph, profile, build = firmware[model_id]
    # The int8 tensor: ad01's dataset form (float32, 4x the bytes) costs seconds per window under QEMU's pty and
    # changes nothing in the window; the accuracy test above downloads it.
    wire = next(iter(draw_inputs(graph, 1, seed=2)))[0].tobytes()
    instructions = instructions_per_inference(build, wire)
    ns_per_instruction = 2 ** mlperf_icount_shift(build.board)
    started = time.monotonic()
    with runner_on_pty(build) as runner:
        runner.identify()
        performance = runner.performance([wire], iterations, warmups)
        host_seconds = time.monotonic() - started
    windows = performance.windows
    assert len(windows) == mlcommons.PERFORMANCE_WINDOWS and "ERROR 1" not in " ".join(performance.errors)
    assert len({w.elapsed_us for w in windows}) == 1  # deterministic: one length for every window
    expected_us = iterations * instructions * ns_per_instruction / 1000
    interrupts = expected_us * build.board.timer.hz / 1e6 / SYSTICK_PERIOD_TICKS + 1
    overhead = iterations * LOOP_OVERHEAD_INSTRUCTIONS + interrupts * SYSTICK_HANDLER_INSTRUCTIONS
    slack_us = overhead * ns_per_instruction / 1000 + 1
    assert expected_us <= windows[0].elapsed_us <= expected_us + slack_us
    # The lap count runs since boot (each window only moves its epoch): guest seconds, never ahead of the host's
    # since QEMU started (align=on lets a late guest catch up, so this holds from the start, not per window).
    assert host_seconds >= windows[-1].end_us / 1e6 - ALIGN_SLACK_SECONDS
    runner_iterations, _ = mlcommons.performance_counts(model_id, instructions * ns_per_instruction / 1e9)
    assert runner_iterations * instructions * ns_per_instruction / 1e9 > mlcommons.MIN_WINDOW_SECONDS


def test_performance_counts_keep_the_runner_counts_unless_the_window_would_be_short():
    assert mlcommons.performance_counts("ad01", 0.01) == (1500, 10)  # 15 s: the published count
    assert mlcommons.performance_counts("kws01", 0.14) == (79, 10)  # 70 x 0.14 s = 9.8 s: raised past 11 s


def test_munify_run_serve_mlperf_hands_the_runner_a_quiet_pty_until_ctrl_c(firmware):
    _, _, build = firmware["ad01"]
    model = build.out_dir.parent / "ad01.mun"
    command = [sys.executable, "-m", "toolchain", "run", str(model), "--board", BOARD, "--build-dir",
               str(build.out_dir), "--serve-mlperf"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        announced = server.stdout.readline()
        pty = re.search(r" on (/dev/\S+), QEMU -icount shift=5,align=on,sleep=on", announced)
        assert pty and "(model id ad01)" in announced, announced + server.stderr.read()
        with mlcommons.RunnerSide(pty.group(1)) as runner:
            assert runner.identify() == ("munify", "ad01")
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=20) == 0
    finally:
        server.kill()
        server.wait()
    assert not os.path.exists(pty.group(1))  # QEMU, which owned the pty, is gone
