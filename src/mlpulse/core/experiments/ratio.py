"""Ratio metrics (revenue per session, clicks per impression) with the delta method.

The unit of randomisation (a user) is not the unit of the metric (a session, an
impression): sessions of one user are correlated, so the naive variance of a
per-session mean is wrong. The metric is ``sum(y) / sum(x)`` over users, with ``y``
the numerator and ``x`` the denominator per user, and its variance comes from the
delta method on the two user-level means, which needs only :class:`CovStats` per arm.
"""

from __future__ import annotations

import math

from scipy import special

from mlpulse.core.experiments.frequentist import (
    DifferenceResult,
    ExperimentStatus,
    check_alpha,
    insufficient,
    relative_change,
)
from mlpulse.core.experiments.sufficient import CovStats

__all__ = ["ratio_metric", "ratio_variance"]


def ratio_variance(stats: CovStats) -> float:
    r"""The delta-method variance of the ratio of means :math:`R = \bar y / \bar x`.

    .. math:: \operatorname{Var}(R) \approx \frac{1}{n}\left(\frac{s_y^2}{\bar x^2}
              - \frac{2 \bar y\, s_{xy}}{\bar x^3} + \frac{\bar y^2 s_x^2}{\bar x^4}\right)

    (Deng, Knoblich and Lu, 2018, eq. 2), with sample (co)variances (``ddof=1``).
    NaN below 2 units or when the mean of ``x`` is 0; never negative.

    Examples
    --------
    >>> round(ratio_variance(CovStats.from_values([1, 2, 3, 2], [1.0, 3.0, 2.0, 2.0])), 5)
    0.04167
    """
    mean_x = stats.mean_x
    if stats.n < 2 or mean_x == 0.0:
        return math.nan
    ratio = stats.sum_y / stats.sum_x
    variance = (stats.var_y - 2.0 * ratio * stats.covariance + ratio * ratio * stats.var_x) / (
        stats.n * mean_x * mean_x
    )
    return max(variance, 0.0)


def ratio_metric(
    control: CovStats, treatment: CovStats, *, alpha: float = 0.05
) -> DifferenceResult:
    r"""Compare a ratio metric between arms: a z test and delta-method intervals.

    The difference :math:`R_t - R_c` has variance :math:`V_t + V_c` (independent arms,
    each from :func:`ratio_variance`); the lift :math:`R_t / R_c - 1` has, by the delta
    method again, :math:`V_t / R_c^2 + R_t^2 V_c / R_c^4`. Both intervals are normal
    (``dof`` is ``inf``), and the z test is of the difference.

    Parameters
    ----------
    control, treatment : CovStats
        Per randomisation unit: ``y`` the numerator (revenue, clicks) and ``x`` the
        denominator (sessions, impressions).
    alpha : float, default 0.05
        The intervals cover with probability ``1 - alpha``.

    Notes
    -----
    Fewer than 2 units in an arm, or a denominator summing to 0, gives
    ``insufficient_data``. With ``x`` equal to 1 for every unit this is Welch's test of
    means with a normal instead of a t quantile.

    References
    ----------
    Deng, A., Knoblich, U. and Lu, J. (2018). Applying the delta method in metric
    analytics: a practical guide with novel ideas. *KDD '18*, 233–242.

    Examples
    --------
    >>> control = CovStats.from_values([2, 1, 3, 2, 1, 4], [1.0, 0.0, 2.0, 1.0, 0.0, 1.0])
    >>> treatment = CovStats.from_values([1, 2, 2, 3, 1, 2], [1.0, 1.0, 2.0, 2.0, 0.0, 2.0])
    >>> r = ratio_metric(control, treatment)
    >>> round(r.control, 3), round(r.treatment, 3), round(r.p_value, 3)
    (0.385, 0.727, 0.028)
    """
    check_alpha(alpha, "ratio_metric")
    var_c, var_t = ratio_variance(control), ratio_variance(treatment)
    if math.isnan(var_c) or math.isnan(var_t):
        return insufficient(alpha, control.n, treatment.n)
    r_c = control.sum_y / control.sum_x
    r_t = treatment.sum_y / treatment.sum_x
    difference = r_t - r_c
    se = math.sqrt(var_c + var_t)
    if se == 0.0:
        statistic, p_value = (
            (0.0, 1.0) if difference == 0.0 else (math.copysign(math.inf, difference), 0.0)
        )
    else:
        statistic = difference / se
        p_value = min(2.0 * float(special.ndtr(-abs(statistic))), 1.0)
    z = float(special.ndtri(1.0 - alpha / 2.0))
    lift, se_rel = relative_change(r_c, r_t, var_c, var_t)
    lift_ci = (lift - z * se_rel, lift + z * se_rel)
    return DifferenceResult(
        ExperimentStatus.OK, r_c, r_t, difference, (difference - z * se, difference + z * se),
        lift, lift_ci, statistic, p_value, se, math.inf, alpha, control.n, treatment.n,
    )  # fmt: skip
