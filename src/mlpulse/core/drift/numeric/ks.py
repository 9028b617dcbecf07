"""Two-sample Kolmogorov–Smirnov test."""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from mlpulse.core.drift.numeric.ecdf import ecdf_steps
from mlpulse.core.drift.numeric.samples import as_sample, as_sorted_sample
from mlpulse.core.results import HypothesisTestResult

__all__ = ["ks", "ks_sorted"]

# scipy's ks_2samp(method="auto") is exact up to this size of the larger sample.
_MAX_EXACT_N = 10_000


def ks(reference: ArrayLike, current: ArrayLike) -> HypothesisTestResult:
    r"""Two-sample Kolmogorov–Smirnov test (two-sided).

    The statistic is the largest gap between the two empirical CDFs,

    .. math:: D = \sup_x |F_{reference}(x) - F_{current}(x)|,

    computed with numpy from the sorted samples. The p-value follows
    ``scipy.stats.ks_2samp(method="auto")``: exact (Hodges, 1958) when the larger
    sample has at most 10,000 values — for these sizes scipy's own ``ks_2samp`` is
    called for the p-value only, since scipy's exact path counting is private API —
    and otherwise the asymptotic ``scipy.stats.kstwo.sf(D, round(n*m/(n+m)))``, the
    very route ``ks_2samp`` takes there. NaN is dropped (see :mod:`.samples`).

    Parameters
    ----------
    reference, current : array_like
        1-D samples of finite numbers (NaN is dropped).

    Returns
    -------
    HypothesisTestResult
        ``statistic`` is D in [0, 1]; ``p_value`` that of "same distribution".

    References
    ----------
    Smirnov, N. (1948). Table for estimating the goodness of fit of empirical
    distributions. *Annals of Mathematical Statistics* 19(2), 279–281.
    Hodges, J. L. (1958). The significance probability of the Smirnov two-sample test.
    *Arkiv för Matematik* 3(5), 469–486.

    Examples
    --------
    >>> result = ks([1.0, 2.0, 3.0], [3.0, 4.0, 6.0, 7.0])
    >>> result.statistic, round(result.p_value, 4)
    (0.75, 0.2286)
    """
    return _ks(
        np.sort(as_sample(reference, name="reference")),
        np.sort(as_sample(current, name="current")),
    )


def ks_sorted(reference_sorted: ArrayLike, current_sorted: ArrayLike) -> HypothesisTestResult:
    """:func:`ks` for samples already sorted ascending (skips the O(n log n) sort).

    The order is checked (O(n)); an unsorted sample raises ``InvalidInputError``.

    References
    ----------
    Smirnov, N. (1948). Table for estimating the goodness of fit of empirical
    distributions. *Annals of Mathematical Statistics* 19(2), 279–281.

    Examples
    --------
    >>> ks_sorted([0.0, 1.0], [2.0, 3.0]).statistic
    1.0
    """
    return _ks(
        as_sorted_sample(reference_sorted, name="reference_sorted"),
        as_sorted_sample(current_sorted, name="current_sorted"),
    )


def _ks(reference: NDArray[np.float64], current: NDArray[np.float64]) -> HypothesisTestResult:
    n, m = reference.size, current.size
    reference_cdf, current_cdf, _ = ecdf_steps(reference, current)
    # At the last pooled value both ECDFs are 1, so it never holds the supremum.
    statistic = float(np.max(np.abs(reference_cdf - current_cdf)))
    if max(n, m) <= _MAX_EXACT_N:
        with warnings.catch_warnings():
            # scipy warns when its exact computation falls back to the asymptotic one.
            warnings.simplefilter("ignore", RuntimeWarning)
            p_value = float(stats.ks_2samp(reference, current, method="auto").pvalue)
    else:
        effective_n = round(n * m / (n + m))
        p_value = float(stats.kstwo.sf(statistic, effective_n))
    return HypothesisTestResult(
        statistic=statistic,
        p_value=min(max(p_value, 0.0), 1.0),
        n_reference=n,
        n_current=m,
    )
