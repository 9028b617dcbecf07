"""The energy distance between two samples."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from mlpulse.core.drift.numeric.ecdf import ecdf_steps
from mlpulse.core.drift.numeric.samples import as_sample

__all__ = ["energy_distance"]


def energy_distance(reference: ArrayLike, current: ArrayLike) -> float:
    r"""The energy distance between two samples.

    .. math:: D = \sqrt{2\,E|X-Y| - E|X-X'| - E|Y-Y'|}
                = \sqrt{2 \int (F_{reference}(x) - F_{current}(x))^2\,dx},

    the second form (Székely, 2002) computed as a finite sum over the pooled sorted
    values in O(n log n), equal to ``scipy.stats.energy_distance``.

    Parameters
    ----------
    reference, current : array_like
        1-D samples of finite numbers (NaN is dropped).

    Returns
    -------
    float
        The distance, >= 0; 0 for identical samples.

    References
    ----------
    Székely, G. J. and Rizzo, M. L. (2013). Energy statistics: a class of statistics
    based on distances. *Journal of Statistical Planning and Inference* 143(8), 1249–1272.

    Examples
    --------
    >>> round(energy_distance([0.0], [2.0]), 6)
    2.0
    """
    reference_sorted = np.sort(as_sample(reference, name="reference"))
    current_sorted = np.sort(as_sample(current, name="current"))
    reference_cdf, current_cdf, widths = ecdf_steps(reference_sorted, current_sorted)
    integral = float(np.sum(np.square(reference_cdf - current_cdf) * widths))
    return math.sqrt(2.0) * math.sqrt(integral)
