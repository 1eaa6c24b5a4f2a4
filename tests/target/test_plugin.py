"""The instruction-count plugin (firmware/qemu-plugin/insn_count.c, toolchain/runners/insn_count.py): its counts
agree with -icount SysTick timing, layers add up to the inference, runs repeat exactly, it works under
qemu-aarch64, and a QEMU without plugin support gets a one-line note and a report without exact counts."""

import dataclasses
import shutil
import stat

import pytest

from target_support import FAKE_MODEL, SPIN_INSTRUCTIONS, fake_reference, require_tools
from toolchain.boards import load_board
from toolchain.build import build_model, load_result
from toolchain.harness.protocol import DeviceClient
from toolchain.harness.session import Case
from toolchain.run import graph_cases, run_cases
from toolchain.importers.tflite import import_tflite
from toolchain.ir import load, save
from toolchain.runners import runner_for
from toolchain.runners.insn_count import (PluginError, build_plugin, elf_functions, inference_counts, plugin_source,
                                          read_result)

pytestmark = pytest.mark.qemu

MODELS = FAKE_MODEL.parents[3] / "examples" / "models" / "mlperf-tiny"
INPUT = bytes((37 * i - 70) & 0xFF for i in range(16))
# Instructions outside every layer in an untraced inference: hal_ticks, the call into the model, the calls
# between layers and the return (a few dozen on both ISAs).
GLUE_MAX = 200
# The hooked (traced) run the tick figures come from adds the hook's own instructions to each layer.
HOOK_MAX = 120


@pytest.fixture(scope="module")
def ad01(tmp_path_factory):
    require_tools()
    path = tmp_path_factory.mktemp("plugin") / "ad01.mun"
    save(import_tflite(MODELS / "ad01_int8.tflite"), path)
    return path


def run_ad01(ad01, board_name, build_dir, exact_counts=True):
    board = load_board(board_name)
    build_model(ad01, board, build_dir)
    graph = load(ad01)
    return run_cases(load_result(build_dir, board),
                     lambda info: graph_cases(graph, 2, 5, False, [name for name, _ in info.layers]),
                     {op.name: op.type for op in graph.ops}, exact_counts)


def test_exact_counts_agree_with_icount_ticks_and_layers_add_up(ad01, tmp_path):
    report = run_ad01(ad01, "mps2-an386", tmp_path / "build")
    tick = 1_000_000_000 // load_board("mps2-an386").timer.hz  # instructions per SysTick tick under icount
    latency, exact = report.latency, report.latency.instructions_exact
    assert latency.unit == "instructions" and exact is not None
    for ticked, counted in ((latency.min, exact.min), (latency.max, exact.max),
                            (latency.per_inference, exact.per_inference)):
        assert abs(ticked - counted) <= tick, (ticked, counted)
    layers = [layer.instructions_exact for layer in report.layers]
    assert all(count > 0 for count in layers)
    assert 0 < exact.last - sum(layers) <= GLUE_MAX
    for layer in report.layers:  # the same layer timed by ticks in a hooked run
        assert -tick <= layer.count - layer.instructions_exact <= HOOK_MAX + tick, layer
    assert report.instructions == exact.per_inference


def test_runs_repeat_exactly(fake_builds):
    """The inference windows count the same in two boots. (The whole run does not: the firmware polls its UART
    for as long as the host takes to send the next command.)"""
    build = fake_builds["mps2-an386"]
    results = []
    for _ in range(2):
        runner = runner_for(build.board, build.elf)
        assert runner.count_exactly()
        with runner as transport:
            client = DeviceClient(transport, timeout=20)
            client.wait_ready()
            client.load(INPUT)
            assert client.infer(2, 1).output == fake_reference(INPUT)[1]
            client.exit(0)
            assert runner.wait_exit() == 0
            results.append(runner.counter.result())
    windows = [inference_counts(result.marks) for result in results]
    assert windows[0] == windows[1] and len(windows[0]) == 3  # a warm-up and two inferences
    assert all(window.instructions > SPIN_INSTRUCTIONS for window in windows[0])
    assert results[0].functions["munify_model_run_hooked"] == results[1].functions["munify_model_run_hooked"]
    assert results[0].functions["munify_model_run_hooked"][1] == 3
    for result in results:
        assert result.total == result.outside + sum(count for count, _ in result.functions.values())


def test_qemu_aarch64_gets_exact_counts(ad01, tmp_path):
    first = run_ad01(ad01, "aarch64-linux", tmp_path / "build")
    second = run_ad01(ad01, "aarch64-linux", tmp_path / "build")
    assert first.latency.unit == "ns"
    exact = first.latency.instructions_exact
    assert exact is not None and first.instructions == exact.per_inference
    layers = [layer.instructions_exact for layer in first.layers]
    assert all(count > 0 for count in layers)
    assert 0 < exact.last - sum(layers) <= GLUE_MAX
    assert (second.latency.instructions_exact, [layer.instructions_exact for layer in second.layers]) == \
        (exact, layers)


REFUSAL = "plugin requires API version 1, but this QEMU supports only a minimum version of 2"
FAKE_QEMUS = {  # what a QEMU without (usable) plugin support does: (its -help, its answer to -plugin)
    "built without plugins": ('"$REAL" -help | grep -v plugin', "qemu-system-arm: -plugin: invalid option"),
    "newer plugin API": ('"$REAL" -help', f"qemu-system-arm: Could not load plugin $2: {REFUSAL}"),
}
NOTES = {
    "built without plugins": "{qemu} was built without TCG plugin support (no -plugin option)",
    "newer plugin API": "{qemu} cannot load the plugin: qemu-system-arm: Could not load plugin",
}


def _fake_qemu(tmp_path, kind):
    """qemu-system-arm behind a script that answers -help and -plugin like `kind`, and runs everything else."""
    help_command, refusal = FAKE_QEMUS[kind]
    script = tmp_path / "qemu-fake"
    script.write_text("#!/bin/sh\n"
                      f'REAL="{shutil.which("qemu-system-arm")}"\n'
                      f'if [ "$1" = -help ]; then {help_command}; exit 0; fi\n'
                      f'if [ "$1" = -plugin ]; then echo "{refusal}" >&2; exit 1; fi\n'
                      'exec "$REAL" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.mark.parametrize("kind", FAKE_QEMUS)
def test_a_qemu_without_usable_plugins_falls_back_with_a_note(fake_builds, tmp_path, capsys, kind):
    board_file = tmp_path / "fake-qemu.toml"
    original = load_board("mps2-an386").path.read_text()
    board_file.write_text(original.replace('binary = "qemu-system-arm"', f'binary = "{_fake_qemu(tmp_path, kind)}"')
                          .replace('name = "mps2-an386"', 'name = "fake-qemu"'))
    board = load_board(str(board_file))
    build = dataclasses.replace(fake_builds["mps2-an386"], board=board)
    report = run_cases(build, lambda info: [Case(INPUT, fake_reference(INPUT)[1], {})], {})
    assert report.bit_exact and report.latency.per_inference > 0
    assert report.latency.instructions_exact is None
    assert all(layer.instructions_exact is None for layer in report.layers)
    assert report.to_json()["latency"]["instructions_exact"] is None
    notes = capsys.readouterr().err.strip().splitlines()
    assert len(notes) == 1
    assert notes[0].startswith("munify: exact instruction counts off: " + NOTES[kind].format(qemu=board.qemu.binary))
    assert notes[0].endswith("; reporting the tick figures only")


def test_symbols_are_disjoint_ranges_with_the_thumb_bit_cleared(fake_builds):
    functions = elf_functions(fake_builds["mps2-an386"].elf, "arm-none-eabi-nm")
    names = {f.name for f in functions}
    assert {"hal_ticks", "layer_hook", "munify_model_run_hooked", "reset_handler"} <= names
    assert all(f.start % 2 == 0 and f.end > f.start for f in functions)
    assert all(a.end <= b.start for a, b in zip(functions, functions[1:]))


def test_missing_result_and_broken_source_are_clear_errors(tmp_path):
    with pytest.raises(PluginError, match=r"QEMU wrote no instruction counts \(.*missing\)"):
        read_result(tmp_path / "none.txt")
    broken = tmp_path / "insn_count.c"
    broken.write_text(plugin_source().read_text() + "\nint broken(void) { return undeclared; }\n")
    with pytest.raises(PluginError, match=r"cannot build the instruction-count plugin .*undeclared"):
        build_plugin(broken, tmp_path / "out" / "plugin.so")
    assert list((tmp_path / "out").iterdir()) == []  # nothing half-built left behind

def test_windows_split_untraced_and_traced_inferences():
    """hal_ticks | model run | layers | hal_ticks is an inference; a hooked one (layer_hook, hal_ticks between
    layers) has layer counts but no inference count; munify_model_run calling the hooked entry is one run."""
    from toolchain.runners.insn_count import Mark, PluginResult, exact_counts

    marks = [("hal_ticks", 100), ("munify_model_run", 130), ("munify_model_run_hooked", 131),
             ("munify_layer_0", 140), ("munify_layer_2", 1140), ("hal_ticks", 1500),
             ("hal_ticks", 2000), ("munify_model_run_hooked", 2030), ("munify_layer_0", 2040),
             ("layer_hook", 3040), ("hal_ticks", 3045), ("hal_ticks", 3060), ("munify_layer_2", 3070),
             ("layer_hook", 3400), ("hal_ticks", 3405), ("hal_ticks", 3420), ("hal_ticks", 3500)]
    windows = inference_counts(tuple(Mark(name, total) for name, total in marks))
    assert [(w.traced, w.instructions, w.layers) for w in windows] == [
        (False, 1400, {0: 1000, 2: 360}), (True, None, {0: 1000, 2: 330})]
    counts = exact_counts(PluginResult(4000, {}, 4000, tuple(Mark(n, t) for n, t in marks)), 3)
    assert (counts.per_inference, counts.layers, counts.mean) == ((1400,), (1000, None, 360), 1400)
    with pytest.raises(PluginError, match="no complete model run"):
        exact_counts(PluginResult(10, {}, 10, ()), 3)


def test_make_setup_builds_the_plugin_the_runner_looks_for(tmp_path):
    """`make plugin` and the runner's on-demand build must agree on flags and on the hashed file name."""
    import shlex
    import subprocess

    from toolchain.runners.insn_count import PLUGIN_CFLAGS, plugin_file_name

    root = plugin_source().parents[2]
    stamp = tmp_path / "installed"
    stamp.touch()
    dry = subprocess.run(["make", "-s", "-n", "plugin", f"VENV={tmp_path / 'venv'}", f"STAMP={stamp}"],
                         cwd=root, capture_output=True, text=True, check=True).stdout
    compile_line = next(line for line in dry.splitlines() if line.startswith("gcc "))
    words = shlex.split(compile_line.split("&&")[0])
    assert words[1:1 + len(PLUGIN_CFLAGS)] == list(PLUGIN_CFLAGS)
    assert words[-3:] == ["-o", f"{tmp_path}/venv/lib/munify/{plugin_file_name(plugin_source())}.tmp",
                          "firmware/qemu-plugin/insn_count.c"]


def test_dry_run_shows_the_plugin_unless_turned_off(tmp_path, capsys):
    from toolchain.cli import main

    for extra, shown in (([], True), (["--no-exact-counts"], False)):
        assert main(["run", "x.mun", "--board", "aarch64-linux", "--build-dir", str(tmp_path / "b"), "--dry-run",
                     *extra]) == 0
        printed = capsys.readouterr().out
        assert ("-plugin <insn_count-" in printed) == shown
    assert not (tmp_path / "b").exists()
