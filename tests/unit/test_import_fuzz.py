"""Damaged .tflite files: every mutation either imports to a valid IR or raises ModelImportError.

Mutations are seeded and aimed mostly at the flatbuffer's structure (tables, vtables, offsets, names), not at
weight bytes, where a flip would only change a value. Each case runs in a worker process with a timeout, so a
hang fails the test instead of stalling it. A subset also goes through `munify import -o`, which must leave
either a loadable .mun or nothing at all.
"""

from __future__ import annotations

import collections
import contextlib
import io
import multiprocessing
import tempfile
import traceback
from pathlib import Path

import numpy as np
import pytest
import tflite

MODELS = ("kws_ref_model.tflite", "pretrainedResnet_quant.tflite", "ad01_int8.tflite", "kws_ref_model_float32.tflite")
KINDS = ("truncate", "bitflip", "garble_offset", "swap_words", "zero_region")
CASES_PER_MODEL_AND_KIND = 16  # 4 models x 5 kinds x 16 = 320 cases
CLI_EVERY = 8  # every 8th case also runs through the CLI
CASE_TIMEOUT_S = 15
SEED = 20240611


def weight_data_mask(buf: bytes) -> np.ndarray:
    """True for bytes inside the data vector of a buffer (weights, biases)."""
    model = tflite.Model.GetRootAs(buf, 0)
    mask = np.zeros(len(buf), bool)
    for i in range(model.BuffersLength()):
        table = model.Buffers(i)._tab
        field = table.Offset(4)
        if field:
            start = table.Vector(field)
            mask[start:start + table.VectorLen(field)] = True
    return mask


def mutate(buf: bytes, kind: str, rng: np.random.Generator, structure: np.ndarray) -> bytes:
    b = bytearray(buf)

    def structure_word() -> int:
        return int(rng.choice(structure)) & ~3

    if kind == "truncate":
        # short prefixes (header, root table) and arbitrary cuts
        cut = int(rng.integers(0, 64)) if rng.random() < 0.25 else int(rng.integers(64, len(b)))
        return bytes(b[:cut])
    if kind == "bitflip":
        for _ in range(int(rng.integers(1, 9))):
            pos = int(rng.choice(structure)) if rng.random() < 0.85 else int(rng.integers(len(b)))
            b[pos] ^= 1 << int(rng.integers(8))
    elif kind == "garble_offset":
        pos = structure_word()
        old = int.from_bytes(b[pos:pos + 4], "little")
        choice = rng.integers(3)
        value = [int(rng.integers(0, 2**32)), int(rng.integers(0, 64)), (old + int(rng.integers(-64, 64))) % 2**32][choice]
        b[pos:pos + 4] = value.to_bytes(4, "little")
    elif kind == "swap_words":
        p, q = structure_word(), structure_word()
        b[p:p + 4], b[q:q + 4] = b[q:q + 4], b[p:p + 4]
    elif kind == "zero_region":
        pos = int(rng.choice(structure))
        size = int(rng.integers(1, 256))
        b[pos:pos + size] = bytes(len(b[pos:pos + size]))
    return bytes(b)


def make_cases(models_dir: Path) -> list[tuple[str, str, bytes, bool]]:
    rng = np.random.default_rng(SEED)
    cases = []
    for model in MODELS:
        buf = (models_dir / model).read_bytes()
        structure = np.flatnonzero(~weight_data_mask(buf))
        for kind in KINDS:
            for _ in range(CASES_PER_MODEL_AND_KIND):
                cases.append((model, kind, mutate(buf, kind, rng, structure), len(cases) % CLI_EVERY == 0))
    return cases


def run_case(data: bytes, through_cli: bool) -> tuple[str, str]:
    """('imported' | 'refused' | 'crash', detail). Runs in a worker process."""
    from toolchain.cli import main
    from toolchain.errors import ModelImportError
    from toolchain.importers import import_tflite
    from toolchain.ir import load
    from toolchain.summary import summarize

    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "damaged.tflite"
        model.write_bytes(data)
        try:
            graph = import_tflite(model)
            graph.validate()
            summarize(graph)
            outcome = ("imported", "")
        except ModelImportError as exc:
            outcome = ("refused", str(exc))
        except BaseException:  # noqa: BLE001 - the point of the test is to report any other exception
            return "crash", traceback.format_exc()
        if through_cli:
            problem = _cli_problem(main, load, model, outcome[0] == "imported")
            if problem:
                return "crash", problem
    return outcome


def _cli_problem(main, load, model: Path, importable: bool) -> str | None:
    out = model.with_name("damaged.mun")
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            code = main(["import", str(model), "-o", str(out)])
    except BaseException:  # noqa: BLE001
        return "CLI raised:\n" + traceback.format_exc()
    left = sorted(p.name for p in model.parent.iterdir())
    if importable:
        if code != 0 or not out.is_file():
            return f"CLI exit {code}, files {left}, stderr {stderr.getvalue()!r}"
        load(out)
        return None
    if code != 2 or left != ["damaged.tflite"] or stderr.getvalue().count("\n") != 1:
        return f"CLI exit {code}, files left {left}, stderr {stderr.getvalue()!r}"
    return None


def test_damaged_models_import_or_are_refused(models_dir):
    cases = make_cases(models_dir)
    assert len(cases) >= 300
    outcomes = collections.Counter()
    failures = []
    pool = multiprocessing.get_context("forkserver").Pool(2)
    try:
        pending = [(case, pool.apply_async(run_case, (case[2], case[3]))) for case in cases]
        for (model, kind, _, _), result in pending:
            try:
                status, detail = result.get(timeout=CASE_TIMEOUT_S)
            except multiprocessing.TimeoutError:
                status, detail = "crash", f"no answer within {CASE_TIMEOUT_S} s (hang)"
            outcomes[status] += 1
            if status == "crash":
                failures.append(f"{model} / {kind}: {detail}")
    finally:
        pool.terminate()
        pool.join()
    assert not failures, f"{len(failures)} of {len(cases)} cases broke the importer:\n" + "\n\n".join(failures[:5])
    # the campaign must exercise both outcomes, or it proves nothing
    assert outcomes["imported"] >= 20 and outcomes["refused"] >= 150, outcomes


def test_every_refusal_says_what_is_wrong(models_dir):
    """Truncated headers and broken offsets get the 'not a valid .tflite' message, not a traceback."""
    from toolchain.errors import ModelImportError
    from toolchain.importers import import_tflite

    buf = (models_dir / MODELS[0]).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        for cut in (0, 3, 8, 20, len(buf) // 2):
            path = Path(tmp) / f"cut{cut}.tflite"
            path.write_bytes(buf[:cut])
            with pytest.raises(ModelImportError, match="not a valid .tflite"):
                import_tflite(path)
