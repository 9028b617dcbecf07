"""Total variation distance between two category distributions."""

from __future__ import annotations

import numpy as np

from mlpulse.core.drift.categorical.counts import CategoryCounts, aligned

__all__ = ["total_variation"]


def total_variation(reference_counts: CategoryCounts, current_counts: CategoryCounts) -> float:
    """Total variation distance between the reference and current proportions.

    .. math:: TV(p, q) = \\tfrac12 \\textstyle\\sum_i |p_i - q_i|,

    the largest difference in probability the two distributions give to any set of
    categories; in [0, 1], symmetric, a metric.

    Parameters
    ----------
    reference_counts, current_counts : Mapping
        Category → non-negative count.

    Returns
    -------
    float
        The distance, in [0, 1].

    Raises
    ------
    InvalidInputError
        If a count is invalid or a side has no observations.

    References
    ----------
    Levin, D. A., Peres, Y. & Wilmer, E. L. (2009). *Markov Chains and Mixing Times*,
    American Mathematical Society, section 4.1.

    Examples
    --------
    >>> total_variation({"a": 1, "b": 1}, {"a": 1, "b": 3})
    0.25
    """
    p, q = aligned(reference_counts, current_counts).proportions()
    return min(1.0, float(np.abs(p - q).sum()) / 2)
