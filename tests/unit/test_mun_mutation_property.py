"""Property: a randomly edited graph.json of a shipped model is either refused with a clean MunifyError (by
`ir.load`, `make_plan` or the build), or it is a graph whose generated C, compiled with the host gcc, runs
bit-exact with the reference executor. Never a traceback of another type, never firmware that disagrees.

Edits touch what a user can type into graph.json: shapes (0, -1, off by one, huge, float, string, bool),
attributes (every attribute of the op's type, with valid and invalid values), names (op and tensor renames,
rewired inputs) and quantization (scales, zero points, axes). Seeded, with a bounded number of cases and
builds so that it stays within a few seconds of host compilation.
"""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from toolchain.errors import MunifyError
from toolchain.inputs import draw_inputs
from toolchain.ir import OP_ATTRS, load, reference, save
from toolchain.plan import make_plan
from toolchain import host_build

SEED = 20261203
CASES = 40
MAX_BUILDS = 3  # valid mutants beyond this are planned but not compiled (each build is a host gcc run)
MODELS = ("kws", "ad01", "resnet")

SHAPE_VALUES = (0, -1, 1, "d+1", "d-1", "2d", 10 ** 30, 1e30, 2.5, "7", True, None)
ATTR_VALUES = ([1, 1], [2, 2], [3, 3], [0, 1], [1], [2, 2, 2], "SAME", "VALID", "NONE", "RELU", "RELU6",
               "RELU_N1_TO_1", "TANH", 0, 1, 2, 3, -1, 1.5, True, "2", None, [True, 1], [1e30, 1], 0.5, 2.0)


def _shape_edit(doc, rng):
    t = doc["tensors"][int(rng.integers(len(doc["tensors"])))]
    if not t["shape"]:
        return f"tensor {t['name']} (scalar) unchanged"
    axis = int(rng.integers(len(t["shape"])))
    d, value = t["shape"][axis], SHAPE_VALUES[int(rng.integers(len(SHAPE_VALUES)))]
    value = {"d+1": d + 1, "d-1": d - 1, "2d": 2 * d}.get(value, value) if isinstance(value, str) else value
    t["shape"][axis] = value
    return f"tensor {t['name']} shape[{axis}] = {value!r}"


def _attr_edit(doc, rng):
    op = doc["ops"][int(rng.integers(len(doc["ops"])))]
    keys = sorted(OP_ATTRS[op["type"]]) + ["bogus"]
    key = keys[int(rng.integers(len(keys)))]
    value = ATTR_VALUES[int(rng.integers(len(ATTR_VALUES)))]
    op["attrs"][key] = value
    return f"op {op['name']} {key} = {value!r}"


def _name_edit(doc, rng):
    ops, tensors = doc["ops"], doc["tensors"]
    op = ops[int(rng.integers(len(ops)))]
    kind = int(rng.integers(5))
    if kind == 0:
        op["name"] = f"renamed_{op['name']}"
    elif kind == 1:
        op["name"] = ops[int(rng.integers(len(ops)))]["name"]
    elif kind == 2 and op["inputs"]:
        op["inputs"][int(rng.integers(len(op["inputs"])))] = tensors[int(rng.integers(len(tensors)))]["name"]
    elif kind == 3:
        _rename_tensor(doc, tensors[int(rng.integers(len(tensors)))]["name"], f"t{int(rng.integers(1000))}")
    else:
        op["outputs"] = [tensors[int(rng.integers(len(tensors)))]["name"]]
    return f"names: kind {kind} on op {op['name']}"


def _rename_tensor(doc, old, new):
    """A consistent rename: the graph stays valid."""
    for t in doc["tensors"]:
        if t["name"] == old:
            t["name"] = new
    for op in doc["ops"]:
        op["inputs"] = [new if n == old else n for n in op["inputs"]]
        op["outputs"] = [new if n == old else n for n in op["outputs"]]
    doc["inputs"] = [new if n == old else n for n in doc["inputs"]]
    doc["outputs"] = [new if n == old else n for n in doc["outputs"]]


def _quant_edit(doc, rng):
    quantized = [t for t in doc["tensors"] if t.get("quant")]
    t = quantized[int(rng.integers(len(quantized)))]
    q = t["quant"]
    kind = int(rng.integers(5))
    if kind == 0:
        q["scale"] = [s * float(rng.uniform(0.5, 2.0)) for s in q["scale"]]
    elif kind == 1:
        q["zero_point"] = [int(rng.integers(-300, 300))] * len(q["zero_point"])
    elif kind == 2:
        q["axis"] = int(rng.integers(-1, 4))
    elif kind == 3:
        q["scale"] = q["scale"][:-1] or [0.0]
    else:
        q["scale"] = [[-1.0, 0.0, float("inf"), "x"][int(rng.integers(4))]] * len(q["scale"])
    return f"tensor {t['name']} quant edit {kind}"


EDITS = (_shape_edit, _attr_edit, _name_edit, _quant_edit)


@pytest.fixture(scope="module")
def shipped(imported_model, tmp_path_factory) -> dict[str, dict[str, bytes]]:
    folder = tmp_path_factory.mktemp("shipped")
    entries = {}
    for name in MODELS:
        path = folder / f"{name}.mun"
        save(imported_model(name), path)
        with zipfile.ZipFile(path) as zf:
            entries[name] = {member: zf.read(member) for member in zf.namelist()}
    return entries


def _write(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _bit_exact_on_host(graph, cache: Path) -> None:
    model = host_build.build_graph(graph, cache)
    inputs = [x[0] for x in draw_inputs(graph, 2, seed=5)]
    for x, got in zip(inputs, model.run(inputs)):
        np.testing.assert_array_equal(got, reference.run(graph, [x])[0].reshape(-1))


def test_mutated_shipped_models_are_refused_cleanly_or_run_bit_exact(shipped, tmp_path, tmp_path_factory):
    rng = np.random.default_rng(SEED)
    cache = tmp_path_factory.mktemp("host-builds")
    outcomes = {"refused": 0, "built": 0, "planned": 0}
    for case in range(CASES):
        model = MODELS[case % len(MODELS)]
        doc = json.loads(shipped[model]["graph.json"])
        edit = EDITS[int(rng.integers(len(EDITS)))]
        what = edit(doc, rng)
        entries = dict(shipped[model], **{"graph.json": json.dumps(doc).encode()})
        path = _write(tmp_path / f"case{case}.mun", entries)
        try:
            graph = load(path)
            if outcomes["built"] < MAX_BUILDS:
                _bit_exact_on_host(graph, cache)
                outcomes["built"] += 1
            else:
                make_plan(graph, frozenset({"dsp"}))
                outcomes["planned"] += 1
        except MunifyError:
            outcomes["refused"] += 1
        except Exception as exc:  # pragma: no cover - the failure message is the point
            raise AssertionError(f"case {case} ({model}: {what}) raised {type(exc).__name__}: {exc}") from exc
    assert outcomes["refused"] >= CASES // 3 and outcomes["built"] == MAX_BUILDS, outcomes


def test_the_edits_change_the_document(shipped):
    """Guard against a generator that silently edits nothing: most edits must change graph.json."""
    rng = np.random.default_rng(SEED + 1)
    changed = 0
    for i in range(40):
        doc = json.loads(shipped[MODELS[i % len(MODELS)]]["graph.json"])
        before = copy.deepcopy(doc)
        EDITS[i % len(EDITS)](doc, rng)
        changed += doc != before
    assert changed >= 30
