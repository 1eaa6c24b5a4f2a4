"""Model importers: other formats -> IR."""

from .tflite import import_tflite

__all__ = ["import_tflite"]
