"""Optional dependencies. The .tflite path (import, inspect, verify, plan, build, run, export) needs no torch;
compression, the demo and the benchmark do, and say how to get it."""

from __future__ import annotations

import importlib

from .errors import SetupError

COMPRESS_EXTRA = "pip install 'munify[compress]' (PyTorch CPU build: pip install torch==2.13.0)"


def require_compress_extra(feature: str) -> None:
    """Raise a one-line SetupError when the compression dependencies are not installed."""
    missing = [name for name in ("torch", "tqdm", "mlxtend", "sklearn") if not _importable(name)]
    if missing:
        raise SetupError(f"{feature} needs {', '.join(missing)}, which are not installed; {COMPRESS_EXTRA}")


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True
