"""Population stability index (PSI) of two category distributions."""

from __future__ import annotations

import numpy as np

from mlpulse.core.drift.categorical.counts import CategoryCounts, FloatArray, aligned
from mlpulse.errors import parameter_error

__all__ = ["psi"]


def _smoothed(shares: FloatArray, epsilon: float) -> FloatArray:
    smoothed: FloatArray = np.where(shares > 0, shares, epsilon)
    return smoothed


def psi(
    reference_counts: CategoryCounts,
    current_counts: CategoryCounts,
    *,
    epsilon: float = 1e-4,
) -> float:
    """Population stability index of the current proportions against the reference ones.

    .. math:: PSI(p, q) = \\textstyle\\sum_i (q_i - p_i) \\ln(q_i / p_i).

    Smoothing: a category empty on one side (an unseen or a vanished category) would make
    the index infinite, so a zero share is replaced by ``epsilon`` (the common practice,
    e.g. Evidently's 0.0001), without renormalising. Each term
    :math:`(q_i - p_i) \\ln(q_i / p_i)` is ≥ 0 on its own, so the index stays ≥ 0,
    symmetric, 0 for equal proportions and unchanged when both count vectors are scaled;
    and the effect of an empty category stays local, whatever the number of categories
    (renormalising would shift every share on columns with thousands of empty ones).
    The common reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift.

    Parameters
    ----------
    reference_counts, current_counts : Mapping
        Category → non-negative count.
    epsilon : float, default 1e-4
        The share given to a category empty on one side, in (0, 1).

    Returns
    -------
    float
        The index, ≥ 0.

    Raises
    ------
    ParameterError
        If ``epsilon`` is not in (0, 1).
    InvalidInputError
        If a count is invalid or a side has no observations.

    References
    ----------
    Siddiqi, N. (2006). *Credit Risk Scorecards*, Wiley, chapter 8. Yurdakul, B. (2018).
    *Statistical Properties of Population Stability Index*, PhD thesis, Western Michigan
    University.

    Examples
    --------
    >>> round(psi({"a": 50, "b": 50}, {"a": 25, "b": 75}), 4)
    0.2747
    >>> round(psi({"a": 50, "b": 50}, {"a": 50, "b": 50, "c": 10}), 4)
    0.6273
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or not 0 < epsilon < 1:
        raise parameter_error("epsilon", "psi", "a float in (0, 1)", epsilon)
    p, q = aligned(reference_counts, current_counts).proportions()
    p, q = _smoothed(p, epsilon), _smoothed(q, epsilon)
    return max(0.0, float(np.sum((q - p) * (np.log(q) - np.log(p)))))
