"""Hellinger distance between two category distributions."""

from __future__ import annotations

import math

import numpy as np

from mlpulse.core.drift.categorical.counts import CategoryCounts, aligned

__all__ = ["hellinger"]


def hellinger(reference_counts: CategoryCounts, current_counts: CategoryCounts) -> float:
    """Hellinger distance between the reference and current proportions.

    .. math:: H(p, q) = \\frac{1}{\\sqrt 2} \\lVert \\sqrt p - \\sqrt q \\rVert_2
              = \\sqrt{1 - \\textstyle\\sum_i \\sqrt{p_i q_i}},

    in [0, 1]: 0 for equal distributions, 1 for disjoint supports. Symmetric, a metric.

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
    Hellinger, E. (1909). Neue Begründung der Theorie quadratischer Formen von unendlichvielen
    Veränderlichen. *J. reine angew. Math.* 136, 210-271. Le Cam, L. & Yang, G. L. (2000).
    *Asymptotics in Statistics*, 2nd ed., Springer, section 3.2.

    Examples
    --------
    >>> round(hellinger({"a": 1, "b": 1}, {"a": 1, "b": 3}), 4)
    0.1846
    >>> hellinger({"a": 5}, {"b": 5})
    1.0
    """
    p, q = aligned(reference_counts, current_counts).proportions()
    # The norm form keeps precision near 0, where 1 - sum(sqrt(pq)) cancels.
    distance = float(np.linalg.norm(np.sqrt(p) - np.sqrt(q))) / math.sqrt(2)
    return min(1.0, distance)
