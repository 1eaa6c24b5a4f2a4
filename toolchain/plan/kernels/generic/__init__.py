"""Portable C kernels (codegen_templates/kernels/generic/) and the built-in packed weight layouts."""
