"""Frequentist tests of A/B experiments, from sufficient statistics where they exist.

``difference`` is always treatment minus control and ``relative_difference`` is
treatment / control - 1 (the "lift"). Mann–Whitney and the bootstrap need the raw
values (ranks and resamples do not merge); everything else reads
:mod:`~mlpulse.core.experiments.sufficient`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import special, stats

from mlpulse.core.experiments.sufficient import MeanStats, ProportionStats, as_values
from mlpulse.errors import parameter_error

__all__ = [
    "BootstrapResult",
    "ChiSquareResult",
    "DifferenceResult",
    "ExperimentStatus",
    "RankSumResult",
    "bootstrap_mean_difference",
    "chi_square_test",
    "mann_whitney_u",
    "proportion_z_test",
    "welch_from_moments",
    "welch_t_test",
]

Interval = tuple[float, float]
_NO_INTERVAL: Interval = (math.nan, math.nan)


class ExperimentStatus(enum.StrEnum):
    """Whether a result is a verdict: ``insufficient_data`` is not an error."""

    OK = "ok"
    INSUFFICIENT_DATA = "insufficient_data"
    MISMATCH = "mismatch"


@dataclass(frozen=True, slots=True)
class DifferenceResult:
    """A comparison of one metric between control and treatment.

    ``control`` and ``treatment`` are the metric in each arm (mean, rate or ratio);
    ``statistic`` and ``p_value`` test ``difference == 0`` (two-sided);
    ``standard_error`` is the standard error of ``difference`` behind ``difference_ci``;
    ``dof`` the degrees of freedom (``inf`` for z tests, NaN when no variance). With
    ``status`` ``insufficient_data`` every float is NaN.
    """

    status: ExperimentStatus
    control: float
    treatment: float
    difference: float
    difference_ci: Interval
    relative_difference: float
    relative_ci: Interval
    statistic: float
    p_value: float
    standard_error: float
    dof: float
    alpha: float
    n_control: int
    n_treatment: int


@dataclass(frozen=True, slots=True)
class ChiSquareResult:
    """A chi-square test: statistic, p-value, degrees of freedom and total count."""

    status: ExperimentStatus
    statistic: float
    p_value: float
    dof: int
    n: int


@dataclass(frozen=True, slots=True)
class RankSumResult:
    """Mann–Whitney U of treatment, its p-value, and ``U / (n_t n_c)``.

    ``superiority`` is the probability that a random treatment value beats a random
    control value, ties counting one half (the common-language effect size).
    """

    status: ExperimentStatus
    statistic: float
    p_value: float
    superiority: float
    n_control: int
    n_treatment: int


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    """A bootstrap interval of the difference of means (treatment minus control)."""

    status: ExperimentStatus
    difference: float
    difference_ci: Interval
    standard_error: float
    alpha: float
    resamples: int
    seed: int
    n_control: int
    n_treatment: int


def check_alpha(alpha: float, owner: str) -> None:
    """Raise a :class:`~mlpulse.errors.ParameterError` unless ``0 < alpha < 1``.

    >>> check_alpha(1.5, "welch_t_test")
    Traceback (most recent call last):
    ...
    mlpulse.errors.ParameterError: The 'alpha' parameter of welch_t_test must be ...
    """
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise parameter_error("alpha", owner, "a float in (0, 1)", alpha)


def insufficient(alpha: float, n_control: int, n_treatment: int) -> DifferenceResult:
    """The :class:`DifferenceResult` of too little data: every float NaN."""
    nan = math.nan
    return DifferenceResult(
        ExperimentStatus.INSUFFICIENT_DATA, nan, nan, nan, _NO_INTERVAL, nan, _NO_INTERVAL,
        nan, nan, nan, nan, alpha, n_control, n_treatment,
    )  # fmt: skip


def _clip(p_value: float) -> float:
    return min(max(p_value, 0.0), 1.0)


def relative_change(
    control: float, treatment: float, var_control: float, var_treatment: float
) -> tuple[float, float]:
    """``treatment / control - 1`` and its delta-method standard error, from each arm's
    estimate and the variance of that estimate; ``(nan, nan)`` over a zero control or
    when the ratio leaves the float range.

    Written so that nothing squares ``control`` or the ratio: for a tiny control c² · c²
    underflows to 0, and the ratio's square overflows, where the result is still a float.

    >>> [round(x, 4) for x in relative_change(10.0, 11.0, 0.04, 0.09)]
    [0.1, 0.0372]
    """
    ratio = treatment / control if control != 0.0 else math.nan
    if not math.isfinite(ratio):
        return math.nan, math.nan
    spread = math.hypot(math.sqrt(var_treatment), ratio * math.sqrt(var_control))
    return ratio - 1.0, spread / abs(control)


def _degenerate(difference: float) -> tuple[float, float]:
    """Statistic and p-value when the standard error is 0 (as in location.welch_t)."""
    if difference == 0.0:
        return 0.0, 1.0
    return math.copysign(math.inf, difference), 0.0


def welch_from_moments(
    mean_control: float,
    var_control: float,
    n_control: int,
    mean_treatment: float,
    var_treatment: float,
    n_treatment: int,
    *,
    alpha: float = 0.05,
) -> DifferenceResult:
    r"""Welch's t test and confidence intervals from each arm's mean, variance and size.

    The absolute interval is :math:`\Delta \pm t_{1-\alpha/2,\nu}\,SE` with Welch's
    :math:`SE^2 = s_t^2/n_t + s_c^2/n_c` and the Welch–Satterthwaite :math:`\nu`; the
    relative one applies the delta method to :math:`\bar t/\bar c`,

    .. math:: SE_{rel}^2 = \frac{s_t^2}{n_t \bar c^2} + \frac{\bar t^2 s_c^2}{n_c \bar c^4},

    with the same quantile. Equal to ``scipy.stats.ttest_ind(treatment, control,
    equal_var=False)`` (statistic, p-value, ``confidence_interval``). Fewer than 2 units
    in an arm gives ``insufficient_data``; a control mean of 0 a NaN relative difference.

    References
    ----------
    Welch, B. L. (1947). The generalization of "Student's" problem when several
    different population variances are involved. *Biometrika* 34, 28–35.
    Kohavi, R., Tang, D. and Xu, Y. (2020). *Trustworthy Online Controlled
    Experiments*, §18 (the delta method for the percent change). Cambridge UP.

    Examples
    --------
    >>> r = welch_from_moments(10.0, 4.0, 100, 11.0, 9.0, 100)
    >>> round(r.statistic, 3), round(r.p_value, 4), round(r.relative_difference, 3)
    (2.774, 0.0062, 0.1)
    """
    check_alpha(alpha, "welch_from_moments")
    if n_control < 2 or n_treatment < 2:
        return insufficient(alpha, n_control, n_treatment)
    a, b = var_control / n_control, var_treatment / n_treatment
    difference = mean_treatment - mean_control
    se = math.sqrt(a + b)
    if a + b == 0.0:
        dof, quantile = math.nan, 0.0
        statistic, p_value = _degenerate(difference)
    else:
        # Welch–Satterthwaite with shares of a + b: never 0/0 for tiny variances.
        share_a, share_b = a / (a + b), b / (a + b)
        dof = 1.0 / (share_a * share_a / (n_control - 1) + share_b * share_b / (n_treatment - 1))
        statistic = difference / se
        p_value = 2.0 * float(special.stdtr(dof, -abs(statistic)))
        quantile = float(special.stdtrit(dof, 1.0 - alpha / 2.0))
    relative, se_rel = relative_change(mean_control, mean_treatment, a, b)
    relative_ci = (relative - quantile * se_rel, relative + quantile * se_rel)
    return DifferenceResult(
        ExperimentStatus.OK, mean_control, mean_treatment, difference,
        (difference - quantile * se, difference + quantile * se), relative, relative_ci,
        statistic, _clip(p_value), se, dof, alpha, n_control, n_treatment,
    )  # fmt: skip


def welch_t_test(
    control: MeanStats, treatment: MeanStats, *, alpha: float = 0.05
) -> DifferenceResult:
    """Welch's t test of equal means from two arms' :class:`MeanStats`.

    See :func:`welch_from_moments` for the formulas; this reads the moments.

    Examples
    --------
    >>> r = welch_t_test(MeanStats(3, 6.0, 14.0), MeanStats(4, 20.0, 110.0))
    >>> round(r.difference, 3), round(r.p_value, 4), [round(v, 3) for v in r.difference_ci]
    (3.0, 0.0413, [0.177, 5.823])
    """
    return welch_from_moments(
        control.mean, control.variance, control.n,
        treatment.mean, treatment.variance, treatment.n, alpha=alpha,
    )  # fmt: skip


def proportion_z_test(
    control: ProportionStats,
    treatment: ProportionStats,
    *,
    alpha: float = 0.05,
    pooled: bool = True,
    relative: Literal["delta", "log"] = "delta",
) -> DifferenceResult:
    r"""The two-proportion z test, with Wald intervals for the difference and the lift.

    Parameters
    ----------
    control, treatment : ProportionStats
    alpha : float, default 0.05
        The intervals cover with probability ``1 - alpha``.
    pooled : bool, default True
        The standard error of the test statistic: pooled,
        :math:`\sqrt{\hat p(1-\hat p)(1/n_c + 1/n_t)}` with the common rate
        :math:`\hat p`, as ``statsmodels.stats.proportion.proportions_ztest`` by default;
        or unpooled, :math:`\sqrt{p_c(1-p_c)/n_c + p_t(1-p_t)/n_t}`, as
        ``test_proportions_2indep(method="wald")``. The intervals always use the
        unpooled one (``confint_proportions_2indep(method="wald")``), which is
        ``standard_error``.
    relative : {"delta", "log"}, default "delta"
        The interval of the lift: the delta method on :math:`p_t/p_c` (as for means in
        :func:`welch_from_moments`; GrowthBook's approach), or the interval of the log
        ratio, as ``confint_proportions_2indep(compare="ratio", method="log")``, minus 1.

    Notes
    -----
    An empty arm gives ``insufficient_data``. The relative interval is NaN when the
    control rate is 0 (and, for ``"log"``, when either rate is 0).

    References
    ----------
    Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., §3.1. Wiley.

    Examples
    --------
    >>> r = proportion_z_test(ProportionStats(1000, 100), ProportionStats(1000, 130))
    >>> round(r.statistic, 3), round(r.p_value, 4), round(r.relative_difference, 2)
    (2.103, 0.0355, 0.3)
    """
    check_alpha(alpha, "proportion_z_test")
    if relative not in ("delta", "log"):
        raise parameter_error("relative", "proportion_z_test", "'delta' or 'log'", relative)
    nc, nt = control.n, treatment.n
    if nc == 0 or nt == 0:
        return insufficient(alpha, nc, nt)
    pc, pt = control.rate, treatment.rate
    difference = pt - pc
    se = math.sqrt(pc * (1.0 - pc) / nc + pt * (1.0 - pt) / nt)
    if pooled:
        common = (control.successes + treatment.successes) / (nc + nt)
        se_test = math.sqrt(common * (1.0 - common) * (1.0 / nc + 1.0 / nt))
    else:
        se_test = se
    if se_test == 0.0:
        statistic, p_value = _degenerate(difference)
    else:
        statistic = difference / se_test
        p_value = 2.0 * float(special.ndtr(-abs(statistic)))
    z = float(special.ndtri(1.0 - alpha / 2.0))
    lift, lift_ci = math.nan, _NO_INTERVAL
    if pc > 0.0:
        lift = pt / pc - 1.0
        if relative == "delta":
            se_rel = math.sqrt(pt * (1 - pt) / nt / pc**2 + pt**2 * pc * (1 - pc) / nc / pc**4)
            lift_ci = (lift - z * se_rel, lift + z * se_rel)
        elif pt > 0.0:
            se_log = math.sqrt((1.0 - pt) / (nt * pt) + (1.0 - pc) / (nc * pc))
            log_ratio = math.log(pt / pc)
            lift_ci = (math.exp(log_ratio - z * se_log) - 1, math.exp(log_ratio + z * se_log) - 1)
    return DifferenceResult(
        ExperimentStatus.OK, pc, pt, difference, (difference - z * se, difference + z * se),
        lift, lift_ci, statistic, _clip(p_value), se, math.inf, alpha, nc, nt,
    )  # fmt: skip


def chi_square_test(
    variants: Sequence[ProportionStats], *, correction: bool = False
) -> ChiSquareResult:
    """Chi-square test of independence of variant and outcome (k variants × 2 outcomes).

    ``scipy.stats.chi2_contingency`` on the table of successes and failures.
    ``correction`` is Yates' continuity correction, used only for 2 variants; scipy
    applies it by default, we do not (it is conservative, and without it a 2 × 2 test
    equals the pooled :func:`proportion_z_test`: statistic = z²). Pass
    ``correction=True`` to match scipy's default. A variant without units, or no
    success (or no failure) at all, gives ``insufficient_data``.

    References
    ----------
    Pearson, K. (1900). On the criterion that a given system of deviations...
    *Philosophical Magazine* 50, 157–175.

    Examples
    --------
    >>> r = chi_square_test([ProportionStats(1000, 100), ProportionStats(1000, 130)])
    >>> round(r.statistic, 3), round(r.p_value, 4), r.dof
    (4.422, 0.0355, 1)
    """
    if len(variants) < 2 or not all(isinstance(v, ProportionStats) for v in variants):
        raise parameter_error("variants", "chi_square_test", "2 or more ProportionStats", variants)
    table = np.array([[v.successes, v.failures] for v in variants], dtype=np.float64)
    n = int(table.sum())
    dof = len(variants) - 1
    if (table.sum(axis=1) == 0).any() or (table.sum(axis=0) == 0).any():
        return ChiSquareResult(ExperimentStatus.INSUFFICIENT_DATA, math.nan, math.nan, dof, n)
    result = stats.chi2_contingency(table, correction=correction)
    return ChiSquareResult(
        ExperimentStatus.OK, float(result.statistic), _clip(float(result.pvalue)), dof, n
    )


def mann_whitney_u(control: ArrayLike, treatment: ArrayLike) -> RankSumResult:
    """The two-sided Mann–Whitney U test on raw values.

    ``scipy.stats.mannwhitneyu(treatment, control, alternative="two-sided",
    method="asymptotic")``: the normal approximation with tie and continuity corrections
    at every sample size (scipy's default ``"auto"`` switches to the exact test for
    small samples without ties; one method keeps results comparable across windows).
    An empty arm gives ``insufficient_data``; identical values everywhere give p = 1.

    References
    ----------
    Mann, H. B. and Whitney, D. R. (1947). On a test of whether one of two random
    variables is stochastically larger than the other. *Ann. Math. Stat.* 18, 50–60.

    Examples
    --------
    >>> r = mann_whitney_u([1.0, 2.0, 3.0, 4.0], [3.0, 5.0, 6.0, 7.0])
    >>> r.statistic, round(r.p_value, 4), r.superiority
    (14.5, 0.0814, 0.90625)
    """
    c, t = as_values(control, "control"), as_values(treatment, "treatment")
    if c.size == 0 or t.size == 0:
        nan = math.nan
        return RankSumResult(ExperimentStatus.INSUFFICIENT_DATA, nan, nan, nan, c.size, t.size)
    pairs = c.size * t.size
    values = np.concatenate([c, t])
    if values.min() == values.max():
        # scipy divides by a zero tie-corrected variance here (and warns).
        return RankSumResult(ExperimentStatus.OK, pairs / 2, 1.0, 0.5, c.size, t.size)
    result = stats.mannwhitneyu(t, c, alternative="two-sided", method="asymptotic")
    u = float(result.statistic)
    return RankSumResult(
        ExperimentStatus.OK, u, _clip(float(result.pvalue)), u / pairs, c.size, t.size
    )


def bootstrap_mean_difference(
    control: ArrayLike,
    treatment: ArrayLike,
    *,
    alpha: float = 0.05,
    resamples: int = 2000,
    seed: int = 0,
) -> BootstrapResult:
    """Percentile bootstrap interval of the difference of means, on raw values.

    Each arm is resampled with replacement on its own, ``resamples`` times, with
    ``np.random.default_rng(seed)``; the interval is the ``alpha/2`` and ``1 - alpha/2``
    quantiles of the resampled differences (``np.quantile``, linear). Vectorised in
    blocks of about 4 million draws, so memory stays bounded for large arms. Fewer
    than 2 values in an arm gives ``insufficient_data``.

    References
    ----------
    Efron, B. and Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*, §13.3.
    Chapman & Hall.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> r = bootstrap_mean_difference(rng.normal(0, 1, 500), rng.normal(0.3, 1, 500))
    >>> r.difference_ci[0] < r.difference < r.difference_ci[1], r.resamples
    (True, 2000)
    """
    owner = "bootstrap_mean_difference"
    check_alpha(alpha, owner)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise parameter_error("resamples", owner, "an int >= 1", resamples)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise parameter_error("seed", owner, "an int >= 0", seed)
    c, t = as_values(control, "control"), as_values(treatment, "treatment")
    if c.size < 2 or t.size < 2:
        nan = math.nan
        return BootstrapResult(
            ExperimentStatus.INSUFFICIENT_DATA, nan, _NO_INTERVAL, nan,
            alpha, resamples, seed, c.size, t.size,
        )  # fmt: skip
    rng = np.random.default_rng(seed)
    differences = np.empty(resamples)
    block = max(1, (1 << 22) // max(c.size, t.size))
    for start in range(0, resamples, block):
        k = min(block, resamples - start)
        mean_c = c[rng.integers(0, c.size, size=(k, c.size))].mean(axis=1)
        mean_t = t[rng.integers(0, t.size, size=(k, t.size))].mean(axis=1)
        differences[start : start + k] = mean_t - mean_c
    lower, upper = np.quantile(differences, [alpha / 2.0, 1.0 - alpha / 2.0])
    se = float(np.std(differences, ddof=1)) if resamples > 1 else math.nan
    return BootstrapResult(
        ExperimentStatus.OK, float(t.mean() - c.mean()), (float(lower), float(upper)), se,
        alpha, resamples, seed, c.size, t.size,
    )  # fmt: skip
