"""Helium (MVE, Cortex-M55) kernels: layouts and costs in `kernels`, registry entries in `variants`."""

from .variants import MVE_VARIANTS

__all__ = ["MVE_VARIANTS"]
