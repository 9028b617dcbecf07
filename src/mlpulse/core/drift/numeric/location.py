"""Tests of a shift in location: Welch's t test and the Mann–Whitney U test."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from mlpulse.core.drift.numeric.samples import as_sample
from mlpulse.core.results import HypothesisTestResult

__all__ = ["mann_whitney", "welch_t"]


def welch_t(reference: ArrayLike, current: ArrayLike) -> HypothesisTestResult:
    r"""Welch's two-sided t test of equal means (variances not assumed equal).

    .. math:: t = \frac{\bar r - \bar c}{\sqrt{s_r^2/n + s_c^2/m}}, \qquad
              \nu = \frac{(s_r^2/n + s_c^2/m)^2}{\frac{(s_r^2/n)^2}{n-1} + \frac{(s_c^2/m)^2}{m-1}},

    with the p-value ``2 P(T_nu > |t|)``; equal to
    ``scipy.stats.ttest_ind(reference, current, equal_var=False)``, computed here in
    one pass of numpy. Each sample needs at least 2 values (else ``InvalidInputError``).
    When both samples are constant, scipy returns NaN (and warns) for equal values;
    here the result is then ``statistic`` 0.0 and ``p_value`` 1.0, and for different
    constants, like scipy, ``±inf`` and 0.0.

    Parameters
    ----------
    reference, current : array_like
        1-D samples of finite numbers (NaN is dropped), at least 2 values each.

    References
    ----------
    Welch, B. L. (1947). The generalization of "Student's" problem when several
    different population variances are involved. *Biometrika* 34(1–2), 28–35.

    Examples
    --------
    >>> result = welch_t([1.0, 2.0, 3.0], [3.0, 4.0, 6.0, 7.0])
    >>> round(result.statistic, 4), round(result.p_value, 4)
    (-2.7775, 0.0413)
    """
    r = as_sample(reference, name="reference", minimum=2)
    c = as_sample(current, name="current", minimum=2)
    n, m = r.size, c.size
    difference = float(np.mean(r)) - float(np.mean(c))
    a = _variance(r) / n
    b = _variance(c) / m
    if a + b == 0.0:
        if difference == 0.0:
            return HypothesisTestResult(0.0, 1.0, n, m)
        return HypothesisTestResult(math.copysign(math.inf, difference), 0.0, n, m)
    statistic = difference / math.sqrt(a + b)
    # Welch–Satterthwaite, written with shares of a + b: a² and b² underflow to 0 for
    # tiny variances, and one share is always ≥ 1/2, so this denominator never is 0.
    share_a, share_b = a / (a + b), b / (a + b)
    dof = 1.0 / (share_a * share_a / (n - 1) + share_b * share_b / (m - 1))
    p_value = 2.0 * float(special.stdtr(dof, -abs(statistic)))
    return HypothesisTestResult(statistic, min(max(p_value, 0.0), 1.0), n, m)


def _variance(values: NDArray[np.float64]) -> float:
    # A constant sample gets exactly 0 (np.var can return 1e-33 from rounding in the mean).
    if values.min() == values.max():
        return 0.0
    return float(np.var(values, ddof=1))


def mann_whitney(reference: ArrayLike, current: ArrayLike) -> HypothesisTestResult:
    """The two-sided Mann–Whitney U (Wilcoxon rank-sum) test.

    A wrapper of ``scipy.stats.mannwhitneyu(reference, current,
    alternative="two-sided")`` with scipy's ``method="auto"`` (exact for small samples
    without ties, else the normal approximation with tie and continuity corrections).
    ``statistic`` is U of ``reference``: the number of pairs where the reference value
    is larger, ties counting one half.

    Parameters
    ----------
    reference, current : array_like
        1-D samples of finite numbers (NaN is dropped).

    References
    ----------
    Mann, H. B. and Whitney, D. R. (1947). On a test of whether one of two random
    variables is stochastically larger than the other. *Annals of Mathematical
    Statistics* 18(1), 50–60.

    Examples
    --------
    >>> result = mann_whitney([1.0, 2.0, 3.0], [3.0, 4.0, 6.0, 7.0])
    >>> result.statistic, round(result.p_value, 4)
    (0.5, 0.0745)
    """
    r = as_sample(reference, name="reference")
    c = as_sample(current, name="current")
    result = stats.mannwhitneyu(r, c, alternative="two-sided")
    return HypothesisTestResult(
        statistic=float(result.statistic),
        p_value=min(max(float(result.pvalue), 0.0), 1.0),
        n_reference=r.size,
        n_current=c.size,
    )
