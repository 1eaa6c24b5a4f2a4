"""Hostile model strings: graph, op and tensor names that try to inject C, break a line of the device protocol
or blow up a buffer reach the generated C only as escaped labels. The C still compiles with -Werror for the
host, Cortex-M and aarch64, the injected symbol is absent from the objects, and the models still run bit-exact
(host, and `munify build` + `munify run --layers` under QEMU)."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess

import numpy as np
import pytest

from random_graphs import random_chain, random_input
from toolchain.cli import main
from toolchain.codegen import render
from toolchain.codegen.render import environment
from toolchain.codegen.names import LABEL_MAX, c_string, label
from toolchain.ir import Graph, Op, reference, save
from toolchain.plan import make_plan
from toolchain.host_build import build_graph

INJECTION = 'x */ #define MUNIFY_INJECTED 1\nstatic const char injected[] = "owned"; /* y'
HOSTILE = [
    INJECTION,
    "line\nbreak",
    "carriage\rreturn\r\n",
    "nul\x00byte",
    "back\\slash\\",
    "splice\\\n#error spliced",
    "trigraph ??/",
    "??=define X ??( ??)",
    'quote " and \' apostrophe',
    "/* nested comment",
    "// line comment",
    "]-[kernel]-[protocol",
    "%infer 1 1%",
    "ansi \x1b[31m red \t tab \x7f del",
    "unicode é ü 漢字 😀",
    "A" * 10_000,
    "A" * 9_999 + "B",
    "",
]
CROSS_COMPILERS = {
    "arm-none-eabi-gcc": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "aarch64-linux-gnu-gcc": [],
}
WERROR = ["-std=c99", "-O1", "-Wall", "-Wextra", "-Werror"]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_label_is_short_printable_ascii_without_c_or_protocol_syntax(text):
    shown = label(text)
    assert len(shown) <= LABEL_MAX and all(32 <= ord(c) < 127 for c in shown)
    for token in ("*", "?", "\\", '"', "[", "]", "%"):
        assert token not in shown, token
    assert re.fullmatch(r"(?:[^<]|<[0-9a-f]{2}>|<U\+[0-9A-F]{4,6}>)*(?:\.\.\.~[0-9a-f]{8})?", shown)
    assert c_string(text) == f'"{shown}"'


def test_labels_keep_ordinary_names_and_tell_long_names_apart():
    assert label("sequential/conv2d_1/Relu;fused-bias") == "sequential/conv2d_1/Relu;fused-bias"
    assert label("A" * 10_000) != label("A" * 9_999 + "B")
    assert label("a\nb") == "a<0a>b" and label("é") == "<e9>" and label("😀") == "<U+1F600>"
    assert label("x */ y") == "x <2a>/ y" and label("<0a>") == "<3c>0a>"


def hostile_graph(seed: int = 3) -> Graph:
    """A random chain whose graph, op and tensor names are all hostile (tensor names made unique)."""
    graph = random_chain(seed)
    pick = lambda i: HOSTILE[i % len(HOSTILE)]  # noqa: E731
    tensor_names = {name: f"{pick(i + 5)}#{i}" for i, name in enumerate(graph.tensors)}
    rename = lambda names: tuple(tensor_names[n] if n else n for n in names)  # noqa: E731
    tensors = {tensor_names[n]: dataclasses.replace(t, name=tensor_names[n]) for n, t in graph.tensors.items()}
    ops = tuple(Op(f"{pick(i)}#{i}", op.type, rename(op.inputs), rename(op.outputs), op.attrs)
                for i, op in enumerate(graph.ops))
    return Graph(INJECTION, tensors, ops, rename(graph.inputs), rename(graph.outputs), graph.metadata)


def test_hostile_names_are_escaped_everywhere_and_the_host_build_runs_bit_exact(host_cache, tmp_path):
    graph = hostile_graph()
    plan = make_plan(graph, frozenset())
    files = render(plan)
    assert render(make_plan(hostile_graph(), frozenset())) == files  # deterministic
    identifiers = [layer.function for layer in plan.layers] + [array.name for array in plan.arrays]
    assert all(re.fullmatch(r"munify_layer_\d+(_\w+)?", name) for name in identifiers)  # never from names
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        assert all(32 <= ord(c) < 127 for c in text.replace("\n", "")) and "??" not in text, name
    macros = subprocess.run(["gcc", "-dM", "-E", "-I", str(tmp_path), str(tmp_path / "model.c")],
                            capture_output=True, text=True, check=True).stdout
    defined = re.findall(r"^#define (\w+)", macros, re.M)
    assert "MUNIFY_MODEL_NAME" in defined and "MUNIFY_INJECTED" not in defined
    model = build_graph(graph, host_cache)  # gcc -Wall -Wextra -Werror
    assert "injected" not in _symbols(["nm", str(model.executable)])
    rng = np.random.default_rng(0)
    x = random_input(graph, rng)
    np.testing.assert_array_equal(model.run([x])[0], reference.run(graph, [x])[0].reshape(-1))


def test_a_template_that_forgets_to_escape_a_model_string_fails_to_render():
    plan = make_plan(hostile_graph(), frozenset())
    env = environment(plan)
    with pytest.raises(ValueError, match="without c_string or c_comment"):
        env.from_string("/* {{ plan.layers[1].name }} */").render(plan=plan)
    assert env.from_string("/* {{ plan.layers[1].name | c_comment }} */").render(plan=plan) == \
        f"/* {label(plan.layers[1].name)} */"


@pytest.mark.parametrize("cc", sorted(CROSS_COMPILERS))
def test_hostile_names_cross_compile_with_werror(cc, tmp_path):
    features = frozenset({"dsp"}) if cc.startswith("arm") else frozenset()
    files = render(make_plan(hostile_graph(), features))
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    objects = []
    for source in sorted(n for n in files if n.endswith(".c")):
        obj = tmp_path / (source + ".o")
        proc = subprocess.run([cc, *CROSS_COMPILERS[cc], *WERROR, "-I", str(tmp_path), "-c", str(tmp_path / source),
                               "-o", str(obj)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        objects.append(str(obj))
    assert "injected" not in _symbols([cc.replace("-gcc", "-nm"), *objects])


def test_munify_build_and_run_on_qemu_with_hostile_names(tmp_path, capsys):
    graph = hostile_graph()
    model = tmp_path / "hostile.mun"
    save(graph, model)
    build_dir = tmp_path / "build"
    assert main(["build", str(model), "--board", "mps2-an386", "-o", str(build_dir)]) == 0
    assert "injected" not in _symbols(["arm-none-eabi-nm", str(build_dir / "obj" / "model" / "model.o")])
    report = tmp_path / "run.json"
    assert main(["run", str(model), "--board", "mps2-an386", "--build-dir", str(build_dir), "--inputs", "2",
                 "--layers", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "bit-exact" in out and INJECTION not in out
    doc = json.loads(report.read_text())
    assert doc["bit_exact"] is True
    assert [(layer["name"], layer["op"]) for layer in doc["layers"]] == [(label(op.name), op.type) for op in graph.ops]


def _symbols(command: list[str]) -> str:
    proc = subprocess.run(command, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
