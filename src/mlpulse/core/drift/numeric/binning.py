"""Shared histogram bins for the binned divergences (PSI, KL, Jensen–Shannon, Hellinger).

The bins are cut at the reference's quantiles ``1/bins, 2/bins, ..., (bins-1)/bins``
(numpy's default linear interpolation), so each bin holds about the same share of the
reference. Tied cut points (heavy ties, e.g. a column that is mostly zero) are merged,
so there may be fewer than ``bins`` bins. The first and last bins are open to
``-inf`` and ``+inf``: current values outside the reference's range still land in a bin.
A bin is ``[left, right)``; a value equal to a cut point belongs to the bin above it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mlpulse.errors import parameter_error

__all__ = ["SMOOTHING", "check_bins", "proportions", "smoothed"]

# Added to every proportion before the logarithm of PSI and KL (see ``smoothed``).
SMOOTHING = 1e-4


def check_bins(bins: object, owner: str) -> int:
    """Return ``bins`` as an int, or raise the house ParameterError.

    >>> check_bins(10, "psi")
    10
    """
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
        raise parameter_error("bins", owner, "an int in [2, inf)", bins)
    return int(bins)


def proportions(
    reference: NDArray[np.float64], current: NDArray[np.float64], bins: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The share of ``reference`` and of ``current`` in each reference-quantile bin.

    Both inputs are clean 1-D samples (see :mod:`.samples`); neither needs to be sorted.
    Cost: one partial sort of the reference (``np.quantile``) and a binary search of
    each value among at most ``bins - 1`` cut points.

    >>> ref, cur = proportions(np.arange(10.0), np.array([-5.0, 100.0]), 2)
    >>> ref.tolist(), cur.tolist()
    ([0.5, 0.5], [0.5, 0.5])
    """
    levels = np.arange(1, bins) / bins
    edges = np.unique(np.quantile(reference, levels))
    size = edges.size + 1
    ref_counts = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=size)
    cur_counts = np.bincount(np.searchsorted(edges, current, side="right"), minlength=size)
    return ref_counts / reference.size, cur_counts / current.size


def smoothed(shares: NDArray[np.float64]) -> NDArray[np.float64]:
    """Add :data:`SMOOTHING` to every share and renormalise to a sum of 1.

    An empty bin would make ``log(p / q)`` infinite. Adding a fixed ``1e-4`` to the
    proportions (rather than Laplace's +1 to the counts) smooths a 50-row window and a
    million-row window alike, and caps an empty bin's contribution at about
    ``p * ln(p / 1e-4)``; identical histograms stay identical, so PSI(x, x) is 0.

    >>> smoothed(np.array([1.0, 0.0])).round(6).tolist()
    [0.9999, 0.0001]
    """
    lifted = shares + SMOOTHING
    result: NDArray[np.float64] = lifted / lifted.sum()
    return result
