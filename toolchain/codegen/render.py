"""Render a `Plan` into C with Jinja2. The templates only format numbers the plan already holds."""

from __future__ import annotations

from pathlib import Path

import jinja2

from ..fsutil import atomic_write_text
from ..plan.registry import all_variants
from ..plan.types import ConstArray, Plan
from ..resources import templates_dir

VALUES_PER_LINE = 16
COMMON_HEADER = "munify_kernels.h"
MANIFEST = ".munify-generated"  # names of the files the last `write` produced


def c_string(text: str) -> str:
    """A C string literal: printable ASCII as is, everything else as octal escapes of its UTF-8 bytes."""
    out = []
    for byte in str(text).encode("utf-8"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 32 <= byte < 127 and char != "?":
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def c_comment(text: str) -> str:
    return str(text).replace("*/", "* /")


def c_values(array: ConstArray) -> list[str]:
    values = array.values.reshape(-1).tolist() or [0]
    return [", ".join(str(v) for v in values[i:i + VALUES_PER_LINE]) + ","
            for i in range(0, len(values), VALUES_PER_LINE)]


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)
    env.filters.update(c_string=c_string, c_comment=c_comment, c_values=c_values)
    return env


def render(plan: Plan) -> dict[str, str]:
    """File name -> C text, for every file the plan needs."""
    env = environment()
    files = {name: env.get_template(f"{name}.j2").render(plan=plan)
             for name in ("model.h", "model.c", "weights.h", "weights.c")}
    for layer in plan.layers:
        if not layer.alias:
            files[layer.source] = env.get_template(layer.template).render(layer=layer, plan=plan)
    root = templates_dir()
    files[COMMON_HEADER] = (root / COMMON_HEADER).read_text()
    used = {layer.variant for layer in plan.layers}
    for variant in all_variants():
        if variant.name in used:
            for support in variant.support_files:
                files[Path(support).name] = (root / support).read_text()
    return files


def write(plan: Plan, out_dir: str | Path) -> list[Path]:
    """Write the rendered files into `out_dir`, each atomically. Files an earlier `write` generated there and
    this plan does not need (layers, kernel support sources) are removed; other files are left alone."""
    files = render(plan)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / MANIFEST
    earlier = set(manifest.read_text().split()) if manifest.is_file() else set()
    for stale in sorted(earlier - set(files)):
        (out_dir / stale).unlink(missing_ok=True)
    for name in sorted(files):
        atomic_write_text(out_dir / name, files[name])
    atomic_write_text(manifest, "".join(f"{name}\n" for name in sorted(files)))
    return [out_dir / name for name in sorted(files)]
