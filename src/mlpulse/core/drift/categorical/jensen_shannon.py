"""Jensen-Shannon distance between two category distributions."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import special

from mlpulse.core.drift.categorical.counts import AlignedCounts, CategoryCounts, aligned

__all__ = ["jensen_shannon", "jensen_shannon_of_vectors"]


def jensen_shannon(reference_counts: CategoryCounts, current_counts: CategoryCounts) -> float:
    """Base-2 Jensen-Shannon distance between the reference and current proportions.

    With proportions :math:`p` (reference), :math:`q` (current) and :math:`m = (p + q) / 2`,

    .. math:: JS(p, q) = \\sqrt{\\tfrac12 KL(p \\| m) + \\tfrac12 KL(q \\| m)},

    with logarithms in base 2, so the distance is in [0, 1]: 0 for equal distributions,
    1 for disjoint supports. It is symmetric, a metric, and finite with unseen categories.
    Equals ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.

    On columns with many rare categories the distance of two samples of one distribution is
    far from 0 (sampling noise); see
    :func:`~mlpulse.core.drift.categorical.high_cardinality.top_k_with_other`.

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
    Lin, J. (1991). Divergence measures based on the Shannon entropy. *IEEE Transactions on
    Information Theory* 37(1), 145-151. Endres, D. M. & Schindelin, J. E. (2003). A new metric
    for probability distributions. *IEEE Trans. Inf. Theory* 49(7), 1858-1860.

    Examples
    --------
    >>> round(jensen_shannon({"a": 1, "b": 1}, {"a": 1, "b": 3}), 4)
    0.2209
    >>> jensen_shannon({"a": 5}, {"b": 5})
    1.0
    """
    pair = aligned(reference_counts, current_counts)
    return jensen_shannon_of_vectors(pair.reference, pair.current)


def jensen_shannon_of_vectors(
    reference: NDArray[np.float64], current: NDArray[np.float64]
) -> float:
    """:func:`jensen_shannon` of two count vectors already aligned (``reference[i]`` and
    ``current[i]`` count one category); the counts must be finite and non-negative.

    >>> round(jensen_shannon_of_vectors(np.array([1.0, 1.0]), np.array([1.0, 3.0])), 4)
    0.2209
    """
    p, q = AlignedCounts((), reference, current).proportions()
    m = (p + q) / 2
    divergence = float(np.sum(special.rel_entr(p, m) + special.rel_entr(q, m))) / (2 * math.log(2))
    return min(1.0, math.sqrt(max(divergence, 0.0)))
