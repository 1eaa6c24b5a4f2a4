"""Kernel variants that need the Cortex-M DSP extension (SMLAD, SXTB16, USAD8, SEL).

Each entry is a `toolchain.plan.registry.KernelVariant` with `features=frozenset({"dsp"})` and a template under
`codegen_templates/kernels/dsp/`; the template contract is in the `toolchain.plan.registry` docstring.
"""

from __future__ import annotations

from .kernels import DSP_VARIANTS

__all__ = ["DSP_VARIANTS"]
