"""A corpus of invalid .mun files: each is refused with an IRError that names the problem (tensor, op, file).

Also: saving is deterministic (byte-identical twice) and atomic (nothing half-written, no temp file left).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from toolchain.errors import IRError
from toolchain.ir import BlockKind, BlockStructure, load, save, weight_matrix

FC_WEIGHT = "functional_1/dense_1/MatMul"  # ad01 layer 1, 128x128, given a block structure below
FC_BIAS = "functional_1/dense_1/BiasAdd/ReadVariableOp/resource"


@pytest.fixture(scope="module")
def structured_graph(imported_model):
    """ad01 with layer 1's weight unified/pruned in 1x8 blocks (alternating dense, unified, pruned)."""
    graph = imported_model("ad01")
    op = graph.ops[1]
    weight = graph.weight_of(op)
    assert weight.name == FC_WEIGHT
    matrix = weight_matrix(op.type, weight.data).copy()
    kinds = (np.arange(128 * 16).reshape(128, 16) % 3).astype(np.uint8)
    per_weight = np.repeat(kinds, 8, axis=1)
    matrix[per_weight == BlockKind.PRUNED] = 0
    matrix = np.where(per_weight == BlockKind.UNIFIED, np.where(matrix < 0, -5, 5), matrix).astype(np.int8)
    blocks = BlockStructure.from_matrix(matrix, kinds, 1, 8)
    return graph.with_tensor(weight.replace(data=matrix, blocks=blocks))


@pytest.fixture
def mun(structured_graph, tmp_path) -> Path:
    path = tmp_path / "good.mun"
    save(structured_graph, path)
    return path


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _write(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _doc(entries) -> dict:
    return json.loads(entries["graph.json"])


def _tensor_entry(doc: dict, name: str) -> dict:
    return next(t for t in doc["tensors"] if t["name"] == name)


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=array.dtype == object)
    return buf.getvalue()


def _edit_json(edit):
    def apply(entries):
        doc = _doc(entries)
        edit(doc)
        entries["graph.json"] = json.dumps(doc).encode()
    return apply


def _edit_array(tensor: str, key: str, change):
    """Replace the .npy of `tensor` (key "data" or a block array) by change(old_array)."""
    def apply(entries):
        entry = _tensor_entry(_doc(entries), tensor)
        member = entry["data"] if key == "data" else entry["blocks"][key]
        entries[member] = _npy(change(np.load(io.BytesIO(entries[member]))))
    return apply


def _drop_array(tensor: str):
    def apply(entries):
        del entries[_tensor_entry(_doc(entries), tensor)["data"]]
    return apply


def _flip_one_unified_weight(w: np.ndarray) -> np.ndarray:
    w = w.copy()
    w[0, 8] = -w[0, 8]  # row 0, column block 1 is unified (kinds = index % 3)
    return w


def _set(path_in_doc, value):
    def edit(doc):
        target = doc
        for key in path_in_doc[:-1]:
            target = target[key]
        target[path_in_doc[-1]] = value
    return edit


def _rename_op_type(doc):
    doc["ops"][2]["type"] = "CONV_3D"


def _bad_attr(doc):
    doc["ops"][0]["attrs"]["stride"] = [2, 2]


def _dangling_input(doc):
    doc["ops"][3]["inputs"][0] = "no_such_tensor"


def _out_of_order(doc):
    doc["ops"][0], doc["ops"][1] = doc["ops"][1], doc["ops"][0]


def _tensor_index(doc, name):
    return next(i for i, t in enumerate(doc["tensors"]) if t["name"] == name)


CORPUS = {
    # case: (mutation of the entries dict, pattern the IRError message must match)
    "wrong schema version": (_edit_json(_set(["schema_version"], 99)), r"schema version 99 is not supported"),
    "not a munify file": (_edit_json(_set(["format"], "onnx")), r"not a munify IR file"),
    "missing graph.json": (lambda e: e.pop("graph.json"), r"graph.json is missing"),
    "graph.json not json": (lambda e: e.update({"graph.json": b"{nope"}), r"malformed IR file"),
    "missing array": (_drop_array(FC_BIAS), rf"tensor '{FC_BIAS}': array .* is missing"),
    "wrong dtype": (_edit_array(FC_WEIGHT, "data", lambda w: w.astype(np.int16)),
                    rf"tensor '{FC_WEIGHT}': data dtype int16 does not match dtype int8"),
    "wrong shape": (_edit_array(FC_BIAS, "data", lambda b: b[:64]),
                    rf"tensor '{FC_BIAS}': data shape \(64,\) does not match"),
    "object array": (_edit_array(FC_BIAS, "data", lambda b: np.array([None] * 128, dtype=object)),
                     rf"tensor '{FC_BIAS}': array .* is not a valid .npy"),
    "broken unified block": (_edit_array(FC_WEIGHT, "data", _flip_one_unified_weight),
                             rf"tensor '{FC_WEIGHT}': weight \(0, 8\) = .* breaks its unified block \(0, 1\)"),
    "block kinds wrong dtype": (_edit_array(FC_WEIGHT, "kinds", lambda k: k.astype(np.int32)),
                                rf"tensor '{FC_WEIGHT}': block kinds has dtype int32"),
    "block kind out of range": (_edit_array(FC_WEIGHT, "kinds", lambda k: np.where(k == 2, 3, k).astype(np.uint8)),
                                rf"tensor '{FC_WEIGHT}': block kinds must be"),
    "magnitude on a dense block": (_edit_array(FC_WEIGHT, "magnitudes", lambda m: np.full_like(m, 3)),
                                   rf"tensor '{FC_WEIGHT}'"),
    "unknown op type": (_edit_json(_rename_op_type), r"op 'fully_connected_2': unknown op type 'CONV_3D'"),
    "unknown attribute": (_edit_json(_bad_attr), r"op 'fully_connected_0' \(FULLY_CONNECTED\): unknown attribute"),
    "attrs not a mapping": (_edit_json(_set(["ops", 0, "attrs"], [1, 2])), r"op 'fully_connected_0': attrs must be"),
    "quant not a mapping": (_edit_json(lambda d: _tensor_entry(d, FC_BIAS).update(quant="x")),
                            rf"the quant of tensor '{FC_BIAS}' must be a JSON object"),
    "dangling input": (_edit_json(_dangling_input), r"op 'fully_connected_3': input tensor 'no_such_tensor'"),
    "ops out of order": (_edit_json(_out_of_order), r"op 'fully_connected_1': input .* used before it is produced"),
    "unknown dtype": (_edit_json(lambda d: _tensor_entry(d, FC_BIAS).update(dtype="int4")),
                      rf"tensor '{FC_BIAS}': dtype 'int4'"),
    "negative scale": (_edit_json(lambda d: _tensor_entry(d, FC_WEIGHT)["quant"].update(scale=[-1.0])),
                       rf"tensor '{FC_WEIGHT}': quantization scales must be finite and positive"),
    "constant graph output": (_edit_json(_set(["outputs"], [FC_BIAS])), rf"graph output '{FC_BIAS}' is a constant"),
}


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_invalid_mun_is_refused_naming_the_culprit(case, mun, tmp_path):
    mutation, pattern = CORPUS[case]
    entries = _entries(mun)
    mutation(entries)
    bad = _write(tmp_path / "bad.mun", entries)
    with pytest.raises(IRError, match=pattern):
        load(bad)


@pytest.mark.parametrize("cut", [0, 10, 100, 1000, -22, -1])
def test_truncated_zip_is_refused(cut, mun, tmp_path):
    data = mun.read_bytes()
    bad = tmp_path / "cut.mun"
    bad.write_bytes(data[:cut] if cut >= 0 else data[:len(data) + cut])
    with pytest.raises(IRError, match=r"not a munify IR file|damaged|malformed"):
        load(bad)


def test_corrupted_compressed_array_is_refused(mun, tmp_path):
    """Damage inside a deflate stream (zip directory intact) must still be an IRError, not a zlib error."""
    data = bytearray(mun.read_bytes())
    with zipfile.ZipFile(mun) as zf:
        info = zf.getinfo(_tensor_entry(json.loads(zf.read("graph.json")), FC_WEIGHT)["data"])
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start, start + min(info.compress_size, 64)):
        data[i] ^= 0xFF
    bad = tmp_path / "corrupt.mun"
    bad.write_bytes(bytes(data))
    with pytest.raises(IRError, match=rf"tensor '{FC_WEIGHT}'.*damaged"):
        load(bad)


def test_roundtrip_keeps_everything(structured_graph, mun):
    graph = load(mun)
    assert [op.name for op in graph.ops] == [op.name for op in structured_graph.ops]
    for name, t in structured_graph.tensors.items():
        u = graph.tensor(name)
        assert (u.shape, u.dtype) == (t.shape, t.dtype)
        if t.data is not None:
            np.testing.assert_array_equal(u.data, t.data)
    blocks = graph.tensor(FC_WEIGHT).blocks
    np.testing.assert_array_equal(blocks.kinds, structured_graph.tensor(FC_WEIGHT).blocks.kinds)
    assert graph.metadata == structured_graph.metadata


def test_save_is_byte_identical(structured_graph, mun, tmp_path):
    again = tmp_path / "again.mun"
    save(structured_graph, again)
    assert again.read_bytes() == mun.read_bytes()
    resaved = tmp_path / "resaved.mun"
    save(load(mun), resaved)
    assert resaved.read_bytes() == mun.read_bytes()


def test_failed_save_leaves_the_old_file_and_no_temp_file(structured_graph, mun, monkeypatch):
    before = mun.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        save(structured_graph, mun)
    assert mun.read_bytes() == before
    assert sorted(p.name for p in mun.parent.iterdir()) == ["good.mun"]


def test_invalid_graph_is_not_saved(structured_graph, tmp_path):
    weight = structured_graph.tensor(FC_WEIGHT)
    broken = weight.data.copy()
    broken[0, 8] = -broken[0, 8]
    target = tmp_path / "broken.mun"
    with pytest.raises(IRError, match="breaks its unified block"):
        save(structured_graph.with_tensor(weight.replace(data=broken)), target)
    assert list(tmp_path.iterdir()) == []


def test_npy_header_claiming_a_huge_array_is_refused_without_allocating(mun, tmp_path):
    entries = _entries(mun)
    member = _tensor_entry(_doc(entries), FC_BIAS)["data"]
    header_end = entries[member].index(b"\n") + 1
    header = entries[member][:header_end]
    grown = header.replace(b"(128,)", b"(99999999999,)")
    extra = len(grown) - len(header)
    assert grown[-1 - extra:-1] == b" " * extra  # take the growth out of the padding: header length stays
    entries[member] = grown[:-1 - extra] + b"\n" + entries[member][header_end:]
    with pytest.raises(IRError, match=rf"tensor '{FC_BIAS}': .*header claims shape \(99999999999,\)"):
        load(_write(tmp_path / "huge.mun", entries))


def _flip_bits(data: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    for _ in range(int(rng.integers(1, 6))):
        b[int(rng.integers(len(b)))] ^= 1 << int(rng.integers(8))
    return bytes(b)


def test_random_damage_is_always_an_ir_error(mun, tmp_path):
    """Seeded bit flips in the zip bytes and in the stored members: load() succeeds or raises IRError."""
    rng = np.random.default_rng(31337)
    raw, entries = mun.read_bytes(), _entries(mun)
    outcomes = {"loaded": 0, "refused": 0}
    for i in range(240):
        if i % 2:
            damaged = dict(entries)
            member = "graph.json" if i % 4 == 1 else sorted(entries)[int(rng.integers(len(entries)))]
            damaged[member] = _flip_bits(entries[member], rng)
            path = _write(tmp_path / f"m{i}.mun", damaged)
        else:
            path = tmp_path / f"m{i}.mun"
            path.write_bytes(_flip_bits(raw, rng))
        try:
            load(path)
            outcomes["loaded"] += 1
        except IRError:
            outcomes["refused"] += 1
    assert outcomes["refused"] >= 100 and outcomes["loaded"] >= 10, outcomes
