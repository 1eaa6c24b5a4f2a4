"""The `.mun` file: a zip holding `graph.json` (schema-versioned) and one `.npy` per array.

Saving is deterministic (sorted entries, fixed timestamps) and atomic; loading refuses anything it does not
fully understand with an IRError naming the tensor or op.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
import zlib
from pathlib import Path
from tokenize import TokenError
from typing import Any

import numpy as np

from ..errors import IRError
from ..fsutil import atomic_path
from .blocks import BlockStructure
from .graph import SCHEMA_VERSION, Graph, Op, Quant, Tensor
from .ops import OPS

FORMAT_NAME = "munify-ir"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_BLOCK_ARRAYS = {"kinds": np.uint8, "magnitudes": np.int8, "signs": np.uint16}
_TUPLE_ATTRS = {"stride", "dilation", "filter"}
# Bounds checked before anything is inflated or parsed: far above any model a microcontroller runs.
MAX_GRAPH_JSON_BYTES = 16 << 20
MAX_ARRAY_BYTES = 64 << 20
MAX_TOTAL_BYTES = 256 << 20
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_OPENERS = np.frombuffer(b"[{", np.uint8)
_CLOSERS = np.frombuffer(b"]}", np.uint8)
_JSON_KINDS = {dict: "object", list: "list", str: "string", int: "integer"}


def save(graph: Graph, path: str | Path) -> None:
    graph.validate()
    arrays: dict[str, np.ndarray] = {}
    tensors = []
    for index, t in enumerate(graph.tensors.values()):
        entry = {"name": t.name, "shape": list(t.shape), "dtype": t.dtype,
                 "quant": t.quant.to_json() if t.quant is not None else None}
        if t.data is not None:
            entry["data"] = f"arrays/t{index}.npy"
            arrays[entry["data"]] = t.data
        if t.blocks is not None:
            b = t.blocks
            entry["blocks"] = {"bo": b.bo, "bi": b.bi, "rows": b.rows, "cols": b.cols}
            for key in _BLOCK_ARRAYS:
                entry["blocks"][key] = f"arrays/t{index}_{key}.npy"
                arrays[entry["blocks"][key]] = getattr(b, key)
        tensors.append(entry)
    doc = {
        "format": FORMAT_NAME,
        "schema_version": SCHEMA_VERSION,
        "name": graph.name,
        "inputs": list(graph.inputs),
        "outputs": list(graph.outputs),
        "tensors": tensors,
        "ops": [{"name": op.name, "type": op.type, "inputs": list(op.inputs), "outputs": list(op.outputs),
                 "attrs": {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(op.attrs.items())}}
                for op in graph.ops],
        "metadata": graph.metadata,
    }
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            _write_entry(zf, "graph.json", json.dumps(doc, indent=1, sort_keys=True).encode())
            for name in sorted(arrays):
                buf = io.BytesIO()
                np.save(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
                _write_entry(zf, name, buf.getvalue())


def _write_entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def load(path: str | Path) -> Graph:
    path = Path(path)
    if not path.is_file():
        raise IRError(f"{path}: no such IR file (make one with 'munify import' or 'munify compress')")
    try:
        with zipfile.ZipFile(path) as zf:
            _check_entry_sizes(zf, path)
            return _parse(zf, path)
    except zipfile.BadZipFile as exc:
        raise IRError(f"{path}: not a munify IR file (bad zip: {exc}); re-create it with 'munify import'") from None
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise IRError(f"{path}: malformed IR file ({type(exc).__name__}: {exc}); re-create it") from None


def _check_entry_sizes(zf: zipfile.ZipFile, path: Path) -> None:
    """Refuse a zip bomb from its directory, before anything is inflated (zipfile then reads no more than
    the sizes the directory declares)."""
    total = 0
    for info in zf.infolist():
        limit = MAX_GRAPH_JSON_BYTES if info.filename == "graph.json" else MAX_ARRAY_BYTES
        if info.file_size > limit:
            raise IRError(f"{path}: entry {info.filename} inflates to {info.file_size} bytes, more than the "
                          f"{limit} an IR entry may hold; the file is damaged or not made by munify")
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise IRError(f"{path}: entries inflate to {total} bytes in all, more than the {MAX_TOTAL_BYTES} an IR "
                      "file may hold; the file is damaged or not made by munify")


def _parse_json(raw: bytes, path: Path) -> Any:
    depth = _nesting_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise IRError(f"{path}: graph.json nests {depth} levels deep, more than {MAX_JSON_DEPTH}; "
                      "the file is damaged or not made by munify")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise IRError(f"{path}: malformed IR file (graph.json is not valid JSON: {exc}); re-create it") from None


def _nesting_depth(raw: bytes) -> int:
    """The deepest [ / { nesting outside string literals (json.loads would recurse that deep)."""
    skeleton = np.frombuffer(_JSON_STRING.sub(b'""', raw), np.uint8)
    steps = np.isin(skeleton, _OPENERS).astype(np.int64) - np.isin(skeleton, _CLOSERS)
    return int(np.cumsum(steps).max(initial=0))


def _parse(zf: zipfile.ZipFile, path: Path) -> Graph:
    try:
        doc = _parse_json(zf.read("graph.json"), path)
    except KeyError:
        raise IRError(f"{path}: graph.json is missing; not a munify IR file") from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise IRError(f"{path}: graph.json cannot be read ({exc}); the file is damaged") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise IRError(f"{path}: not a munify IR file (format tag missing)")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise IRError(f"{path}: IR schema version {version} is not supported (this munify reads version "
                      f"{SCHEMA_VERSION}); re-create the file with this version of munify")
    tensors = {}
    for entry in _field(doc, "tensors", list, "the graph"):
        t = _parse_tensor(zf, _expect(entry, dict, "a tensor entry"))
        if t.name in tensors:
            raise IRError(f"tensor name '{t.name}' is used by two tensors; tensor names must be unique")
        tensors[t.name] = t
    ops = [_parse_op(_expect(entry, dict, "an op entry")) for entry in _field(doc, "ops", list, "the graph")]
    graph = Graph(_field(doc, "name", str, "the graph"), tensors, tuple(ops),
                  _names(doc, "inputs", "the graph"), _names(doc, "outputs", "the graph"),
                  _expect(doc.get("metadata", {}), dict, "the graph metadata"))
    graph.validate()
    return graph


def _expect(value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise IRError(f"{what} must be a JSON {_JSON_KINDS[kind]}, got {_short(value)}")
    return value


def _field(entry: dict, key: str, kind: type, owner: str) -> Any:
    if key not in entry:
        raise IRError(f"{owner} has no '{key}'; the file is damaged or not made by munify")
    return _expect(entry[key], kind, f"'{key}' of {owner}")


def _names(entry: dict, key: str, owner: str) -> tuple[str, ...]:
    names = _field(entry, key, list, owner)
    for name in names:
        _expect(name, str, f"each of the '{key}' of {owner}")
    return tuple(names)


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_op(entry: dict) -> Op:
    name = _field(entry, "name", str, "an op")
    owner = f"op '{name}'"
    op_type = _field(entry, "type", str, owner)
    if op_type not in OPS:
        raise IRError(f"op '{name}': unknown op type '{op_type}'")
    if not isinstance(entry.get("attrs"), dict):
        raise IRError(f"op '{name}': attrs must be a mapping of attribute name to value")
    attrs = {k: tuple(v) if k in _TUPLE_ATTRS and isinstance(v, list) else v for k, v in entry["attrs"].items()}
    return Op(name, op_type, _names(entry, "inputs", owner), _names(entry, "outputs", owner), attrs)


def _read_array(zf: zipfile.ZipFile, member: str, owner: str) -> np.ndarray:
    try:
        raw = zf.read(member)
    except KeyError:
        raise IRError(f"tensor '{owner}': array {member} is missing from the IR file") from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        raise IRError(f"tensor '{owner}': array {member} is damaged ({exc})") from None
    try:
        return _load_npy(raw)
    except (ValueError, OSError, EOFError, SyntaxError, TokenError) as exc:
        raise IRError(f"tensor '{owner}': array {member} is not a valid .npy ({exc})") from None


def _load_npy(raw: bytes) -> np.ndarray:
    """np.load, but the header is checked against the bytes present first: numpy allocates whatever size a
    damaged header claims before it notices the data is short."""
    fp = io.BytesIO(raw)
    version = np.lib.format.read_magic(fp)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise ValueError(f".npy format version {version} is not supported")
    shape, _, dtype = readers[version](fp)
    if math.prod(shape) * dtype.itemsize > len(raw) - fp.tell():
        raise ValueError(f"header claims shape {shape} of {dtype}, the array data is shorter")
    fp.seek(0)
    return np.load(fp, allow_pickle=False)


def _parse_tensor(zf: zipfile.ZipFile, entry: dict) -> Tensor:
    name = _field(entry, "name", str, "a tensor")
    owner = f"tensor '{name}'"
    shape = tuple(_field(entry, "shape", list, owner))
    for d in shape:
        _expect(d, int, f"each dimension of {owner}")
    dtype = _field(entry, "dtype", str, owner)
    quant = _parse_quant(_expect(entry["quant"], dict, f"the quant of {owner}")) if entry.get("quant") else None
    data = _read_array(zf, _expect(entry["data"], str, f"the data of {owner}"), name) if entry.get("data") else None
    blocks = None
    if entry.get("blocks"):
        b = _expect(entry["blocks"], dict, f"the blocks of {owner}")
        arrays = {}
        for key, kind in _BLOCK_ARRAYS.items():
            arr = _read_array(zf, _field(b, key, str, f"the blocks of {owner}"), name)
            if arr.dtype != kind:
                raise IRError(f"tensor '{name}': block {key} has dtype {arr.dtype}, expected {np.dtype(kind)}")
            arrays[key] = arr
        geometry = [_field(b, key, int, f"the blocks of {owner}") for key in ("bo", "bi", "rows", "cols")]
        blocks = BlockStructure(*geometry, **arrays)
    return Tensor(name, shape, dtype, quant, data, blocks)


def _parse_quant(entry: dict) -> Quant:
    scales = _field(entry, "scale", list, "a quant")
    zero_points = _field(entry, "zero_point", list, "a quant")
    for s in scales:
        if isinstance(s, bool) or not isinstance(s, (int, float)):
            raise IRError(f"quantization scale {_short(s)} is not a number")
    for z in zero_points:
        _expect(z, int, "each quantization zero point")
        if not -(1 << 31) <= z < (1 << 31):
            raise IRError(f"quantization zero point {z} does not fit int32")
    axis = entry.get("axis")
    if axis is not None:
        _expect(axis, int, "the quantization axis")
    return Quant(np.array(scales, dtype=np.float32), np.array(zero_points, dtype=np.int64), axis)
