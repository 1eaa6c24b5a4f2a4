"""generate(): deterministic output, the model.h API, -Werror builds for Cortex-M3 and Cortex-M4."""

import filecmp
import re
import shutil
import subprocess

import pytest

from random_graphs import forced_kernels, impose_blocks, random_chain
from toolchain.codegen import generate, write
from toolchain.plan import make_plan
from toolchain.errors import SetupError

ARM_GCC = "arm-none-eabi-gcc"
ARM_TARGETS = {
    "cortex-m4": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "cortex-m3": ["-mcpu=cortex-m3", "-mthumb"],
}
WERROR = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]


def _files(directory):
    return sorted(p.name for p in directory.iterdir())


def test_same_ir_features_optimize_give_identical_c(tmp_path, imported_model):
    graph = impose_blocks(imported_model("kws"), seed=5)
    first = generate(graph, tmp_path / "a", frozenset({"fpu"}), "size")
    generate(graph, tmp_path / "b", frozenset({"fpu"}), "size")
    names = _files(tmp_path / "a")
    assert names == _files(tmp_path / "b") and ".munify-generated" in names
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert not mismatch and not errors
    assert len(names) == 6 + len([layer for layer in first.layers if not layer.alias])


def test_regenerating_into_a_directory_removes_only_stale_generated_files(tmp_path, imported_model):
    out = tmp_path / "gen"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    generate(imported_model("resnet"), out, frozenset({"dsp"}))
    assert any(p.name.startswith("munify_dsp") for p in out.iterdir())
    generate(imported_model("ad01"), out)
    assert len(list(out.glob("layer_*.c"))) == 10
    assert not any(p.name.startswith("munify_dsp") for p in out.iterdir())
    assert (out / "notes.txt").read_text() == "mine"


def test_model_h_declares_the_contract(tmp_path, imported_model):
    graph = imported_model("kws")
    plan = generate(graph, tmp_path)
    header = (tmp_path / "model.h").read_text()
    assert '#define MUNIFY_MODEL_NAME "kws_ref_model"' in header
    assert f"#define MUNIFY_INPUT_SIZE {49 * 10}" in header
    assert "#define MUNIFY_OUTPUT_SIZE 12" in header
    assert f"#define MUNIFY_NUM_LAYERS {len(graph.ops)}" in header
    assert f"#define MUNIFY_ARENA_SIZE {plan.arena_size}" in header
    for declaration in ("munify_layer_names[MUNIFY_NUM_LAYERS]", "munify_layer_kernels[MUNIFY_NUM_LAYERS]",
                        "int munify_model_run(const int8_t *input, int8_t *output);", "munify_layer_hook hook"):
        assert declaration in header
    model_c = (tmp_path / "model.c").read_text()
    kernels = re.search(r"munify_layer_kernels\[MUNIFY_NUM_LAYERS\] = \{(.*?)\};", model_c, re.S).group(1)
    assert [k.strip().strip('",') for k in kernels.split("\n") if k.strip()] == [l.variant for l in plan.layers]
    assert "malloc" not in "".join(p.read_text() for p in tmp_path.iterdir())


def _arm_compile(src_dir, flags):
    gcc = shutil.which(ARM_GCC)
    if gcc is None:
        raise SetupError(f"{ARM_GCC} not found; run 'make setup'")
    sources = sorted(str(p) for p in src_dir.glob("*.c"))
    for source in sources:
        proc = subprocess.run([gcc, *flags, *WERROR, "-I", str(src_dir), "-c", source, "-o", "/dev/null"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, f"{source}:\n{proc.stderr}"


@pytest.mark.parametrize("cpu", sorted(ARM_TARGETS))
def test_generated_c_builds_with_werror_for_cortex_m(cpu, tmp_path, imported_model):
    flags = ARM_TARGETS[cpu]
    features = frozenset({"dsp", "fpu"}) if cpu == "cortex-m4" else frozenset()
    generate(imported_model("resnet"), tmp_path / "resnet", features)
    _arm_compile(tmp_path / "resnet", flags)
    for seed in range(3):  # every generic kernel, forced onto the layers of three random chains
        graph = random_chain(seed)
        out = tmp_path / f"chain{seed}"
        write(make_plan(graph, features, force=forced_kernels(graph, seed)), out)
        _arm_compile(out, flags)


def test_host_model_refuses_inputs_of_the_wrong_size(imported_model, host_cache):
    import numpy as np

    from toolchain.errors import MunifyError
    from toolchain import host_build

    model = host_build.build_graph(imported_model("ad01"), host_cache)
    with pytest.raises(MunifyError, match="640 int8 values"):
        model.run([np.zeros(639, np.int8)])
    with pytest.raises(MunifyError, match="640 int8 values"):
        model.run([np.zeros(640, np.int16)])
    assert model.run([np.zeros(640, np.int8)])[0].shape == (640,)


def test_generated_c_that_fails_to_compile_is_reported(tmp_path, imported_model):
    from toolchain.errors import MunifyError
    from toolchain import host_build

    plan = make_plan(imported_model("ad01"), frozenset())
    with pytest.raises(MunifyError, match="host compile of the generated C failed"):
        host_build.build(plan, tmp_path, cflags=("-std=c99", "-DMUNIFY_MODEL_H", "-Werror"))


def test_host_main_reads_an_input_file(imported_model, host_cache, tmp_path):
    import numpy as np

    from toolchain.ir import reference
    from toolchain import host_build

    graph = imported_model("kws")
    model = host_build.build_graph(graph, host_cache)
    rng = np.random.default_rng(3)
    inputs = [rng.integers(-128, 128, size=490).astype(np.int8) for _ in range(2)]
    path = tmp_path / "inputs.bin"
    path.write_bytes(b"".join(x.tobytes() for x in inputs))
    out = subprocess.run([str(model.executable), str(path)], capture_output=True, check=True).stdout
    expected = b"".join(reference.run(graph, [x.reshape(1, 49, 10, 1)])[0].tobytes() for x in inputs)
    assert out == expected
    missing = subprocess.run([str(model.executable), str(tmp_path / "nope.bin")], capture_output=True)
    assert missing.returncode == 2 and b"cannot open" in missing.stderr
