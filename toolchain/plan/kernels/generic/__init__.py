"""Portable C kernels (codegen_templates/kernels/generic/) and the built-in packed weight layouts (`packing`)."""

from .kernels import CORTEX_A_PER_ELEMENT, GENERIC_VARIANTS, cpu_costs

__all__ = ["CORTEX_A_PER_ELEMENT", "GENERIC_VARIANTS", "cpu_costs"]
