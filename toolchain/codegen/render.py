"""Render a `Plan` into C with Jinja2. The templates only format numbers the plan already holds; a model string
(graph or op name) reaches C only through the `c_string` and `c_comment` filters (`names.label`)."""

from __future__ import annotations

from pathlib import Path

import jinja2

from ..fsutil import atomic_write_text
from ..plan.registry import all_variants
from ..plan.types import ConstArray, Plan
from ..resources import templates_dir
from . import names

VALUES_PER_LINE = 16
COMMON_HEADER = "munify_kernels.h"
MANIFEST = ".munify-generated"  # names of the files the last `write` produced


class CLiteral(str):
    """Template output of `c_string` or `c_comment`: a model string made safe for C."""


def _raw_model_strings(plan: Plan) -> frozenset[str]:
    """The plan's model strings (graph, op, tensor names, op types) that C may not show as they are."""
    texts = {plan.model_name, *plan.buffers}
    for layer in plan.layers:
        texts.update((layer.name, layer.op_type, layer.output.tensor, *(b.tensor for b in layer.inputs)))
    return frozenset(t for t in texts if names.label(t) != t)


def _refuse_raw(raw: frozenset[str]):
    """Jinja2 `finalize` (every `{{ ... }}` passes here): a model string that needs escaping and reaches the
    output without `c_string` or `c_comment` is a munify bug, not a model that builds."""
    def finalize(value):
        if isinstance(value, str) and not isinstance(value, CLiteral) and value in raw:
            raise ValueError(f"a template emits the model string {value[:60]!r} without c_string or c_comment")
        return value

    return finalize


def c_string(text: str) -> CLiteral:
    return CLiteral(names.c_string(text))


def c_comment(text: str) -> CLiteral:
    return CLiteral(names.c_comment(text))


def c_values(array: ConstArray) -> list[str]:
    values = array.values.reshape(-1).tolist() or [0]
    return [", ".join(str(v) for v in values[i:i + VALUES_PER_LINE]) + ","
            for i in range(0, len(values), VALUES_PER_LINE)]


def environment(plan: Plan | None = None) -> jinja2.Environment:
    raw = _raw_model_strings(plan) if plan is not None else frozenset()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False,
                             finalize=_refuse_raw(raw))
    env.filters.update(c_string=c_string, c_comment=c_comment, c_values=c_values)
    return env


def render(plan: Plan) -> dict[str, str]:
    """File name -> C text, for every file the plan needs."""
    env = environment(plan)
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
