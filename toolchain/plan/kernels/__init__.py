"""Kernel families, one package per ISA: layouts and packers, fitted costs, scratch sizes, registry entries."""
