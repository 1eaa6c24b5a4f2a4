"""IR -> formats other runtimes read."""

from .tflite import export_tflite, tflite_bytes

__all__ = ["export_tflite", "tflite_bytes"]
