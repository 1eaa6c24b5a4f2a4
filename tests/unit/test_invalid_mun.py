"""The committed corpus of invalid .mun files (tests/unit/invalid_mun, written by make_corpus.py): every file is
refused with the IRError its manifest names, by `ir.load` and by the CLI (exit 2, one line, nothing written);
the corpus is what the script makes. Also: zip entries are bounded before inflating, JSON depth is bounded,
and a graph built in memory with issue 11's inconsistent shapes is refused by `make_plan`."""

from __future__ import annotations

import io
import json
import re
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from toolchain.cli import main as munify
from toolchain.errors import IRError
from toolchain.ir import Graph, Op, Quant, Tensor, load, save
from toolchain.ir.io import MAX_GRAPH_JSON_BYTES, MAX_JSON_DEPTH
from toolchain.plan import make_plan

CORPUS = Path(__file__).resolve().parent / "invalid_mun"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())


def test_the_corpus_is_large_and_covers_the_issues():
    assert len(MANIFEST) >= 50
    sources = {case["source"] for case in MANIFEST.values()}
    assert {"issue 11", "issue 14.3", "issue 14.6", "issue 14.8"} <= sources


@pytest.mark.parametrize("case", sorted(MANIFEST))
def test_corpus_file_is_refused_with_its_error(case):
    entry = MANIFEST[case]
    with pytest.raises(IRError, match=entry["error"]):
        load(CORPUS / entry["file"])


def test_the_cli_refuses_every_corpus_file_in_one_line(tmp_path, capsys):
    for case, entry in sorted(MANIFEST.items()):
        out = tmp_path / case
        assert munify(["build", str(CORPUS / entry["file"]), "--board", "mps2-an386", "-o", str(out)]) == 2, case
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("munify: error: ") and re.search(entry["error"], err), err
        assert not out.exists()


def test_the_committed_corpus_is_what_the_script_writes():
    result = subprocess.run([sys.executable, str(CORPUS / "make_corpus.py"), "--check"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _declare_size(data: bytes, member: str, size: int) -> bytes:
    """Rewrite the uncompressed size the central directory declares for `member`."""
    data = bytearray(data)
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46:pos + 46 + name_len] == member.encode():
            struct.pack_into("<I", data, pos + 24, size)
            return bytes(data)
        pos = data.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(f"{member} is not in the zip directory")


@pytest.fixture(scope="module")
def good_entries(imported_model, tmp_path_factory) -> dict[str, bytes]:
    path = tmp_path_factory.mktemp("good") / "kws.mun"
    save(imported_model("kws"), path)
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_a_bomb_declaring_600_mb_is_refused_without_inflating(good_entries, tmp_path):
    """Issue 14 item 6: the entry sizes the zip directory declares are checked before anything is read."""
    bomb = tmp_path / "bomb.mun"
    bomb.write_bytes(_declare_size(_zip(good_entries), "graph.json", 600 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(IRError, match=r"entry graph.json inflates to 629145600 bytes, more than the 16777216"):
            load(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_an_entry_larger_than_it_declares_is_read_no_further(good_entries, tmp_path):
    """A directory that understates a size: zipfile stops at the declared size and the CRC check refuses it."""
    entries = dict(good_entries)
    entries["graph.json"] = good_entries["graph.json"] + b" " * (MAX_GRAPH_JSON_BYTES * 2)
    liar = tmp_path / "liar.mun"
    liar.write_bytes(_declare_size(_zip(entries), "graph.json", len(good_entries["graph.json"])))
    with pytest.raises(IRError, match=r"graph.json cannot be read|bad zip|damaged"):
        load(liar)


@pytest.mark.parametrize("depth, refused", [(MAX_JSON_DEPTH, False), (MAX_JSON_DEPTH + 1, True)])
def test_json_depth_bound_is_exact(good_entries, tmp_path, depth, refused):
    doc = json.loads(good_entries["graph.json"])
    nested: object = 1
    for _ in range(depth - 2):  # the document and its metadata object are two levels
        nested = [nested]
    doc["metadata"]["deep"] = nested
    path = tmp_path / "deep.mun"
    path.write_bytes(_zip({**good_entries, "graph.json": json.dumps(doc).encode()}))
    if refused:
        with pytest.raises(IRError, match=rf"graph.json nests {depth} levels deep, more than {MAX_JSON_DEPTH}"):
            load(path)
    else:
        assert load(path).metadata["deep"] == nested


def test_brackets_inside_strings_do_not_count_as_depth(good_entries, tmp_path):
    doc = json.loads(good_entries["graph.json"])
    doc["metadata"]["note"] = "[" * 10_000 + "\\\"{" * 100
    path = tmp_path / "strings.mun"
    path.write_bytes(_zip({**good_entries, "graph.json": json.dumps(doc).encode()}))
    assert load(path).metadata["note"] == doc["metadata"]["note"]


def _kws_conv_output(graph, channels):
    out = graph.tensor(graph.ops[0].outputs[0])
    return graph.with_tensor(out.replace(shape=out.shape[:3] + (channels,)))


def test_plan_refuses_an_inconsistent_graph_built_in_memory(imported_model):
    """`make_plan` validates too: a graph that never went through a file is refused the same way."""
    graph = _kws_conv_output(imported_model("kws"), 32)
    with pytest.raises(IRError, match=r"op 'conv_2d_0' \(CONV_2D\): output .* has shape \[1, 25, 5, 32\], "
                                      r"expected \[1, 25, 5, 64\]"):
        make_plan(graph, frozenset({"dsp"}))


def test_huge_dimensions_reach_the_memory_fit_check_with_the_bytes_named(tmp_path, capsys):
    """Issue 14 item 8: within the IR's bound (2^28 elements per tensor) a huge model fails at the board's
    memory-fit check, naming the bytes; zero and larger dimensions are refused by the IR (corpus above)."""
    q = Quant(np.array([0.05]), np.array([0]))
    tensors = {"x": Tensor("x", (1, 4096, 4096, 1), "int8", q), "y": Tensor("y", (1, 2048, 2048, 1), "int8", q)}
    pool = Op("pool", "MAX_POOL_2D", ("x",), ("y",), {"filter": (2, 2), "stride": (2, 2)})
    path = tmp_path / "huge.mun"
    save(Graph("huge", tensors, (pool,), ("x",), ("y",)), path)
    out = tmp_path / "build"
    assert munify(["build", str(path), "--board", "mps2-an386", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"model 'huge' is too large for board 'mps2-an386': .*RAM .*needs \d{8,} bytes, the board has "
                     r"\d+ .*: \d{8,} bytes over", err), err
    assert not out.exists()


def test_every_attribute_of_every_op_has_a_check():
    from toolchain.ir import OP_ATTRS
    from toolchain.ir.graph import _ATTR_CHECKS

    assert {key for attrs in OP_ATTRS.values() for key in attrs} <= set(_ATTR_CHECKS)
