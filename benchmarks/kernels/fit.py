"""The cost-model fit the calibration scripts share: coefficients of instructions = sum(coefficient x term)
that minimise the relative errors (every layer counts the same)."""

from __future__ import annotations

import numpy as np


def fit_relative(terms: np.ndarray, measured: np.ndarray, fixed: np.ndarray | float = 0.0,
                 nonnegative: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of terms @ coefficients against measured - fixed, each row (layer) weighted by 1 / (measured
    - fixed); `fixed`: each row's instructions outside the fit (a per-call constant, terms not fitted);
    `nonnegative`: every coefficient >= 0 (scipy's NNLS). The coefficients and each row's error relative to
    its measured count."""
    terms, measured = np.asarray(terms, float), np.asarray(measured, float)
    target = measured - fixed
    weight = 1.0 / np.maximum(target, 1.0)
    if nonnegative:
        from scipy.optimize import nnls  # scipy: the compress extra (pyproject.toml)

        coef, _ = nnls(terms * weight[:, None], target * weight)
    else:
        coef, *_ = np.linalg.lstsq(terms * weight[:, None], target * weight, rcond=None)
    return coef, (terms @ coef + fixed) / measured - 1
