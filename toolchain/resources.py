"""Where the templates, firmware sources and board files live: inside the installed package
(toolchain/_bundled/, copied there by setup.py) or, in a source checkout, at the top of the repository."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """`name` is one of codegen_templates, firmware, boards, examples."""
    for candidate in (_PACKAGE_DIR / "_bundled" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"munify resource directory '{name}' not found; reinstall munify")


def templates_dir() -> Path:
    return resource_dir("codegen_templates")


def firmware_dir() -> Path:
    return resource_dir("firmware")


def boards_dir() -> Path:
    return resource_dir("boards")
