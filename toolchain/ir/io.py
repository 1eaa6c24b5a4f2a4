"""The `.mun` file: a zip holding `graph.json` (schema-versioned) and one `.npy` per array.

Saving is deterministic (sorted entries, fixed timestamps) and atomic; loading refuses anything it does not
fully understand with an IRError naming the tensor or op.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib
from pathlib import Path
from tokenize import TokenError

import numpy as np

from ..errors import IRError
from ..fsutil import atomic_path
from .blocks import BlockStructure
from .graph import OP_ATTRS, SCHEMA_VERSION, Graph, Op, Quant, Tensor

FORMAT_NAME = "munify-ir"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_BLOCK_ARRAYS = {"kinds": np.uint8, "magnitudes": np.int8, "signs": np.uint16}
_TUPLE_ATTRS = {"stride", "dilation", "filter"}


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
            return _parse(zf, path)
    except zipfile.BadZipFile as exc:
        raise IRError(f"{path}: not a munify IR file (bad zip: {exc}); re-create it with 'munify import'") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise IRError(f"{path}: malformed IR file ({type(exc).__name__}: {exc}); re-create it") from None


def _parse(zf: zipfile.ZipFile, path: Path) -> Graph:
    try:
        doc = json.loads(zf.read("graph.json"))
    except KeyError:
        raise IRError(f"{path}: graph.json is missing; not a munify IR file") from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise IRError(f"{path}: graph.json cannot be read ({exc}); the file is damaged") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise IRError(f"{path}: not a munify IR file (format tag missing)")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise IRError(f"{path}: IR schema version {version} is not supported (this munify reads version "
                      f"{SCHEMA_VERSION}); re-create the file with this version of munify")
    tensors = {}
    for entry in doc["tensors"]:
        t = _parse_tensor(zf, entry)
        tensors[t.name] = t
    ops = []
    for entry in doc["ops"]:
        if entry["type"] not in OP_ATTRS:
            raise IRError(f"op '{entry.get('name')}': unknown op type '{entry['type']}'")
        if not isinstance(entry["attrs"], dict):
            raise IRError(f"op '{entry.get('name')}': attrs must be a mapping of attribute name to value")
        attrs = {k: tuple(v) if k in _TUPLE_ATTRS else v for k, v in entry["attrs"].items()}
        ops.append(Op(entry["name"], entry["type"], tuple(entry["inputs"]), tuple(entry["outputs"]), attrs))
    graph = Graph(doc["name"], tensors, tuple(ops), tuple(doc["inputs"]), tuple(doc["outputs"]),
                  doc.get("metadata", {}))
    graph.validate()
    return graph


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
    name = entry["name"]
    quant = Quant.from_json(entry["quant"]) if entry.get("quant") else None
    data = _read_array(zf, entry["data"], name) if entry.get("data") else None
    blocks = None
    if entry.get("blocks"):
        b = entry["blocks"]
        arrays = {}
        for key, dtype in _BLOCK_ARRAYS.items():
            arr = _read_array(zf, b[key], name)
            if arr.dtype != dtype:
                raise IRError(f"tensor '{name}': block {key} has dtype {arr.dtype}, expected {np.dtype(dtype)}")
            arrays[key] = arr
        blocks = BlockStructure(int(b["bo"]), int(b["bi"]), int(b["rows"]), int(b["cols"]), **arrays)
    return Tensor(name, tuple(int(d) for d in entry["shape"]), entry["dtype"], quant, data, blocks)
