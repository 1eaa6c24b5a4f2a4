"""The run side's layers (docs/ARCHITECTURE.md, "Layers"), read from the source with `ast`: a module imports only
its own layer and the layers below, nothing below `build` reaches into the pipeline (IR, plan, code
generation), and no run-side module imports a munify module inside a function (where it would hide a cycle).
Imports under `if TYPE_CHECKING:` are annotations only and do not count."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import toolchain

PACKAGE = Path(toolchain.__file__).resolve().parent
# Bottom up; a module belongs to the first layer one of whose prefixes it matches.
LAYERS = (
    ("process", ("toolchain.process",)),
    ("device", ("toolchain.harness",)),
    ("runners", ("toolchain.runners",)),
    ("boards", ("toolchain.boards",)),
    ("build", ("toolchain.build", "toolchain.host_build")),
    ("workflows", ("toolchain.run", "toolchain.bench", "toolchain.demo", "toolchain.verify", "toolchain.cli")),
)
BELOW_BUILD = ("process", "device", "runners")
PIPELINE = ("toolchain.ir", "toolchain.plan", "toolchain.codegen", "toolchain.importers", "toolchain.compress",
            "toolchain.quantize")
PIPELINE_ALLOWED = ("toolchain.codegen.names",)  # the one way a model string reaches the device protocol


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The munify modules an import statement of `module` loads."""
    if node.level:
        package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if not base.startswith("toolchain"):
        return []
    submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES]
    return submodules + ([base] if len(submodules) < len(node.names) else [])


def imports_of(module: str) -> list[tuple[str, int, bool]]:
    """(imported munify module, line, inside a function) for every import that runs."""
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other, in_function)
                continue
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.ImportFrom):
                found.extend((target, child.lineno, in_function) for target in _resolve(module, child))
            elif isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, in_function) for alias in child.names
                             if alias.name.startswith("toolchain"))
            visit(child, nested)

    visit(ast.parse(MODULES[module].read_text()), False)
    return found


RUN_SIDE = sorted(m for m in MODULES if layer_of(m) is not None)


def test_every_layer_has_modules():
    assert {LAYERS[layer_of(m)][0] for m in RUN_SIDE} == {name for name, _ in LAYERS}


@pytest.mark.parametrize("module", RUN_SIDE)
def test_imports_go_down_only(module):
    own = layer_of(module)
    upward = [f"line {line}: {target} ({LAYERS[layer_of(target)][0]})" for target, line, _ in imports_of(module)
              if layer_of(target) is not None and layer_of(target) > own]
    assert not upward, f"{module} ({LAYERS[own][0]}) imports a higher layer: {upward}"


@pytest.mark.parametrize("module", [m for m in RUN_SIDE if LAYERS[layer_of(m)][0] in BELOW_BUILD])
def test_nothing_below_build_plans_or_generates(module):
    reached = [f"line {line}: {target}" for target, line, _ in imports_of(module)
               if target.startswith(PIPELINE) and not target.startswith(PIPELINE_ALLOWED)]
    assert not reached, f"{module} reaches into the pipeline: {reached}"


@pytest.mark.parametrize("module", [m for m in RUN_SIDE if not m.startswith(("toolchain.bench", "toolchain.demo",
                                                                               "toolchain.cli"))])
def test_no_function_local_munify_imports(module):
    """The workflows that need torch (bench, demo, their CLI commands) import it late on purpose: not checked."""
    local = [f"line {line}: {target}" for target, line, in_function in imports_of(module) if in_function]
    assert not local, f"{module} imports inside functions: {local}"


def test_the_run_side_has_no_import_cycle():
    graph = {m: sorted({t for t, _, _ in imports_of(m) if t in MODULES and layer_of(t) is not None} - {m})
             for m in RUN_SIDE}
    state: dict[str, str] = {}

    def cycle_from(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in graph[module]:
            if state.get(target) == "open":
                return path[path.index(target):] + [target] if target in path else [module, target]
            if target not in state and (found := cycle_from(target, path + [target])):
                return found
        state[module] = "done"
        return None

    for module in RUN_SIDE:
        if module not in state:
            found = cycle_from(module, [module])
            assert found is None, f"import cycle: {' -> '.join(found)}"


def test_the_checks_see_an_upward_import(tmp_path, monkeypatch):
    """The walker itself: a device-layer module importing the build, and a plan module inside a function."""
    source = ("from typing import TYPE_CHECKING\nfrom ..build import BUILD_INFO\nif TYPE_CHECKING:\n"
              "    from ..run import run_model\n\ndef f():\n    from ..plan import make_plan\n")
    (tmp_path / "transport.py").write_text(source)
    monkeypatch.setitem(MODULES, "toolchain.harness.transport", tmp_path / "transport.py")
    assert imports_of("toolchain.harness.transport") == [("toolchain.build", 2, False), ("toolchain.plan", 7, True)]
    with pytest.raises(AssertionError, match="imports a higher layer"):
        test_imports_go_down_only("toolchain.harness.transport")
