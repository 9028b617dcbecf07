"""The two empirical CDFs on the pooled sorted sample (KS, Wasserstein, energy).

Between two consecutive pooled values both ECDFs are constant, so every distance
between them is a finite sum over the pooled values; this module builds the pieces.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["ecdf_steps"]


def ecdf_steps(
    reference_sorted: NDArray[np.float64], current_sorted: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Both ECDFs on each step ``[v_i, v_{i+1})`` of the pooled sorted values.

    Returns ``(reference_cdf, current_cdf, widths)``, each of length ``n + m - 1``:
    the ECDFs evaluated at ``v_i`` and the step widths ``v_{i+1} - v_i``. The same
    construction as scipy's ``_cdf_distance`` (two binary searches of the pooled values).

    >>> ecdf_steps(np.array([0.0, 2.0]), np.array([1.0]))
    (array([0.5, 0.5]), array([0., 1.]), array([1., 1.]))
    """
    pooled = np.concatenate((reference_sorted, current_sorted))
    pooled.sort(kind="stable")  # two sorted runs: a merge, close to linear
    points = pooled[:-1]
    reference_cdf = np.searchsorted(reference_sorted, points, side="right") / reference_sorted.size
    current_cdf = np.searchsorted(current_sorted, points, side="right") / current_sorted.size
    return reference_cdf, current_cdf, np.diff(pooled)
