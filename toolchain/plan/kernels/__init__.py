"""Kernel families, one package per ISA: layouts and packers, fitted costs, scratch sizes, registry entries.

Generic variants come first: ranking ties go to the variant listed first.
"""

from .dsp import DSP_VARIANTS
from .generic import GENERIC_VARIANTS
from .mve import MVE_VARIANTS
from .neon import NEON_VARIANTS

ALL_VARIANTS = GENERIC_VARIANTS + tuple(DSP_VARIANTS) + tuple(MVE_VARIANTS) + tuple(NEON_VARIANTS)
