"""Portable C kernels (codegen_templates/kernels/generic/) and the built-in packed weight layouts (`packing`)."""

from .kernels import GENERIC_VARIANTS

__all__ = ["GENERIC_VARIANTS"]
