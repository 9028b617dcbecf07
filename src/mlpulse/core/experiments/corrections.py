"""Adjusted p-values for many comparisons (metrics × variants) in one experiment.

Each function returns adjusted p-values in the input's order, equal to
``statsmodels.stats.multitest.multipletests(p_values, method=...)[1]`` for the methods
``"bonferroni"``, ``"holm"`` and ``"fdr_bh"``; reject where adjusted ≤ ``alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlpulse.errors import parameter_error

__all__ = [
    "AdjustedPValuesResult",
    "adjust_p_values",
    "benjamini_hochberg",
    "bonferroni",
    "holm",
]

Method = Literal["bonferroni", "holm", "fdr_bh"]


@dataclass(frozen=True, slots=True)
class AdjustedPValuesResult:
    """Raw and adjusted p-values, in the input's order, and which are rejected."""

    method: Method
    alpha: float
    p_values: tuple[float, ...]
    adjusted: tuple[float, ...]
    rejected: tuple[bool, ...]


def _p_values(p_values: ArrayLike, owner: str) -> NDArray[np.float64]:
    try:
        p = np.asarray(p_values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        expected = "a 1-D array of floats in [0, 1]"
        raise parameter_error("p_values", owner, expected, p_values) from exc
    if p.ndim != 1 or not ((p >= 0.0) & (p <= 1.0)).all():
        raise parameter_error("p_values", owner, "a 1-D array of floats in [0, 1]", p_values)
    return p


def bonferroni(p_values: ArrayLike) -> NDArray[np.float64]:
    """Bonferroni: ``min(1, m p)``; controls the family-wise error rate.

    References
    ----------
    Dunn, O. J. (1961). Multiple comparisons among means. *JASA* 56, 52–64.

    Examples
    --------
    >>> bonferroni([0.01, 0.02, 0.5]).tolist()
    [0.03, 0.06, 1.0]
    """
    p = _p_values(p_values, "bonferroni")
    return np.minimum(p * p.size, 1.0)


def holm(p_values: ArrayLike) -> NDArray[np.float64]:
    """Holm's step-down: the i-th smallest (from 0) becomes ``max_{j<=i} (m - j) p_(j)``.

    Controls the family-wise error rate like Bonferroni, and never rejects less.

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure.
    *Scandinavian Journal of Statistics* 6(2), 65–70.

    Examples
    --------
    >>> holm([0.01, 0.02, 0.5]).tolist()
    [0.03, 0.04, 0.5]
    """
    p = _p_values(p_values, "holm")
    order = np.argsort(p, kind="stable")
    steps = np.arange(p.size, 0, -1, dtype=np.float64)
    adjusted = np.minimum(np.maximum.accumulate(p[order] * steps), 1.0)
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


def benjamini_hochberg(p_values: ArrayLike) -> NDArray[np.float64]:
    """Benjamini–Hochberg step-up: ``min_{j>=i} m p_(j) / (j + 1)``, from the largest.

    Controls the false discovery rate for independent (or positively dependent) tests.

    References
    ----------
    Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate: a
    practical and powerful approach to multiple testing. *JRSS B* 57(1), 289–300.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.02, 0.5]).tolist()
    [0.03, 0.03, 0.5]
    """
    p = _p_values(p_values, "benjamini_hochberg")
    order = np.argsort(p, kind="stable")
    ranks = np.arange(1, p.size + 1, dtype=np.float64)
    ordered = p[order]
    raw = ordered * p.size / ranks
    adjusted = np.minimum(np.minimum.accumulate(raw[::-1])[::-1], 1.0)
    # m p / m can round one ulp below p; the adjusted value is never below the raw one.
    adjusted = np.maximum(adjusted, ordered)
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


_METHODS = {"bonferroni": bonferroni, "holm": holm, "fdr_bh": benjamini_hochberg}


def adjust_p_values(
    p_values: ArrayLike, *, method: Method = "holm", alpha: float = 0.05
) -> AdjustedPValuesResult:
    """Adjust p-values with one of the methods above, named as in statsmodels.

    Parameters
    ----------
    p_values : array_like
        1-D, each in [0, 1] (NaN is refused: statsmodels would give wrong results).
    method : {"bonferroni", "holm", "fdr_bh"}, default "holm"
        statsmodels' ``multipletests`` defaults to ``"hs"`` (Holm–Šidák); we default to
        Holm, which needs no independence and is as simple to explain as Bonferroni.
    alpha : float, default 0.05
        The family-wise error rate (or, for ``"fdr_bh"``, the false discovery rate).

    Examples
    --------
    >>> adjust_p_values([0.01, 0.04, 0.03], method="fdr_bh").rejected
    (True, True, True)
    """
    if method not in _METHODS:
        raise parameter_error("method", "adjust_p_values", "one of " + ", ".join(_METHODS), method)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise parameter_error("alpha", "adjust_p_values", "a float in (0, 1)", alpha)
    p = _p_values(p_values, "adjust_p_values")
    adjusted = _METHODS[method](p)
    return AdjustedPValuesResult(
        method,
        alpha,
        tuple(float(v) for v in p),
        tuple(float(v) for v in adjusted),
        tuple(bool(v) for v in adjusted <= alpha),
    )
