"""Power analysis for two-arm experiments: sample size per arm and minimum detectable effect.

Two conventions for proportions, chosen with ``method``:

* ``"cohen_h"`` (default) matches statsmodels,
  ``NormalIndPower().solve_power(effect_size=proportion_effectsize(p2, p1), ...)``:
  the z-test of the arcsine-transformed rates, effect size Cohen's h, power counting
  both rejection tails;
* ``"unpooled"``: the textbook normal-approximation formula with unpooled variances
  (Chow, Shao & Wang 2008, §4.2), the Wald z-test of the difference of rates.

Means use the z-test with a common standard deviation ``sd`` and match statsmodels'
``NormalIndPower`` with ``effect_size = mde / sd``. ``ratio`` is
``n_treatment / n_control`` as statsmodels' ``ratio``; ``alpha`` is two-sided.

>>> sample_size_proportions(0.10, 0.02).n_control
3835
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy import optimize, stats

from mlpulse.errors import parameter_error

__all__ = [
    "MdeResult",
    "SampleSizeResult",
    "mde_means",
    "mde_proportions",
    "sample_size_means",
    "sample_size_proportions",
]

ProportionMethod = Literal["cohen_h", "unpooled"]


@dataclass(frozen=True, slots=True)
class SampleSizeResult:
    """Units needed per arm. ``n_control_exact`` is before rounding up (statsmodels' answer)."""

    n_control: int
    n_treatment: int
    n_control_exact: float
    effect_size: float
    alpha: float
    power: float


@dataclass(frozen=True, slots=True)
class MdeResult:
    """The smallest effect (upward) detected with the requested power; NaN if none is."""

    absolute: float
    relative: float
    effect_size: float
    n_control: float
    n_treatment: float


def _check(owner: str, alpha: float, power: float, ratio: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise parameter_error("alpha", owner, "a float in (0, 1)", alpha)
    if not alpha < power < 1.0:
        raise parameter_error("power", owner, "a float in (alpha, 1)", power)
    if not (ratio > 0.0 and math.isfinite(ratio)):
        raise parameter_error("ratio", owner, "a float in (0, inf)", ratio)


def _two_sided_power(effect: float, n_control: float, alpha: float, ratio: float) -> float:
    # statsmodels.stats.power.normal_power: both tails count.
    shift = abs(effect) * math.sqrt(n_control * ratio / (1.0 + ratio))
    crit = float(stats.norm.isf(alpha / 2.0))
    return float(stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift))


def _n_for_effect(effect: float, alpha: float, power: float, ratio: float) -> float:
    z = float(stats.norm.isf(alpha / 2.0) + stats.norm.isf(1.0 - power))
    start = (1.0 + 1.0 / ratio) * (z / effect) ** 2  # one-tail closed form: an upper bound
    return float(
        optimize.brentq(
            lambda n: _two_sided_power(effect, n, alpha, ratio) - power,
            start * 1e-3,
            start,
            xtol=1e-10,
            rtol=1e-12,
        )
    )


def _effect_for_n(n_control: float, alpha: float, power: float, ratio: float) -> float:
    z = float(stats.norm.isf(alpha / 2.0) + stats.norm.isf(1.0 - power))
    upper = z * math.sqrt((1.0 + 1.0 / ratio) / n_control)
    return float(
        optimize.brentq(
            lambda d: _two_sided_power(d, n_control, alpha, ratio) - power,
            upper * 1e-3,
            upper,
            xtol=1e-14,
        )
    )


def _result(n: float, effect: float, alpha: float, power: float, ratio: float) -> SampleSizeResult:
    n_control = math.ceil(n - 1e-9)
    return SampleSizeResult(
        n_control=n_control,
        n_treatment=math.ceil(n * ratio - 1e-9),
        n_control_exact=n,
        effect_size=effect,
        alpha=alpha,
        power=power,
    )


def _treatment_rate(owner: str, baseline: float, mde: float, relative: bool) -> float:
    if not 0.0 < baseline < 1.0:
        raise parameter_error("baseline", owner, "a float in (0, 1)", baseline)
    target = baseline * (1.0 + mde) if relative else baseline + mde
    if mde == 0.0 or not 0.0 < target < 1.0:
        raise parameter_error("mde", owner, "non-zero, with baseline + effect in (0, 1)", mde)
    return target


def sample_size_proportions(
    baseline: float,
    mde: float,
    *,
    relative: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    method: ProportionMethod = "cohen_h",
) -> SampleSizeResult:
    r"""Units per arm to detect a change ``mde`` of a conversion rate ``baseline``.

    With :math:`p_1` the baseline and :math:`p_2 = p_1 + \delta` (or
    :math:`p_1(1 + \delta)` when ``relative``), :math:`r` = ``ratio`` and
    :math:`z = z_{1-\alpha/2} + z_{\text{power}}`:

    * ``"cohen_h"``: :math:`h = 2\arcsin\sqrt{p_2} - 2\arcsin\sqrt{p_1}` and
      :math:`n_1` solves :math:`\Phi(|h|\sqrt{n_1 r/(1+r)} - z_{1-\alpha/2}) +
      \Phi(-|h|\sqrt{n_1 r/(1+r)} - z_{1-\alpha/2}) = \text{power}` (statsmodels);
    * ``"unpooled"``: :math:`n_1 = z^2\,[p_1(1-p_1) + p_2(1-p_2)/r] / \delta^2`.

    Parameters
    ----------
    baseline : float
        Control conversion rate, in (0, 1).
    mde : float
        Minimum detectable effect: absolute (0.02 is two points) or, with
        ``relative=True``, a share of the baseline (0.1 is +10 %).
    relative : bool, default False
    alpha : float, default 0.05
        Two-sided significance level.
    power : float, default 0.8
    ratio : float, default 1.0
        ``n_treatment / n_control``.
    method : {"cohen_h", "unpooled"}, default "cohen_h"

    References
    ----------
    Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed., §6.
    Chow, S.-C., Shao, J. and Wang, H. (2008). *Sample Size Calculations in Clinical
    Research*, 2nd ed., §4.2.

    Examples
    --------
    >>> result = sample_size_proportions(0.10, 0.02)
    >>> round(result.n_control_exact, 2), round(result.effect_size, 4)
    (3834.6, 0.064)
    >>> sample_size_proportions(0.10, 0.02, method="unpooled").n_control
    3839
    """
    owner = "sample_size_proportions"
    _check(owner, alpha, power, ratio)
    p2 = _treatment_rate(owner, baseline, mde, relative)
    if method == "cohen_h":
        h = 2.0 * math.asin(math.sqrt(p2)) - 2.0 * math.asin(math.sqrt(baseline))
        return _result(_n_for_effect(h, alpha, power, ratio), h, alpha, power, ratio)
    if method == "unpooled":
        z = float(stats.norm.isf(alpha / 2.0) + stats.norm.isf(1.0 - power))
        delta = p2 - baseline
        variance = baseline * (1.0 - baseline) + p2 * (1.0 - p2) / ratio
        n = z**2 * variance / delta**2
        effect = delta / math.sqrt(variance)
        return _result(n, effect, alpha, power, ratio)
    raise parameter_error("method", owner, "one of 'cohen_h', 'unpooled'", method)


def sample_size_means(
    sd: float,
    mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
) -> SampleSizeResult:
    r"""Units per arm to detect a change ``mde`` of a mean whose standard deviation is ``sd``.

    The two-sided z-test with effect size :math:`d = \delta/\sigma`, as statsmodels'
    ``NormalIndPower().solve_power(effect_size=d, ...)``; a t-test needs one or two
    more units per arm at the sizes where A/B tests run.

    Parameters
    ----------
    sd : float
        Standard deviation of the metric per unit (the same in both arms), > 0.
    mde : float
        Minimum detectable difference of means, in the metric's units, non-zero.
    alpha, power, ratio : float
        As :func:`sample_size_proportions`.

    References
    ----------
    Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed., §2.

    Examples
    --------
    >>> sample_size_means(10.0, 2.0).n_control
    393
    """
    owner = "sample_size_means"
    _check(owner, alpha, power, ratio)
    if not (sd > 0.0 and math.isfinite(sd)):
        raise parameter_error("sd", owner, "a float in (0, inf)", sd)
    if mde == 0.0 or not math.isfinite(mde):
        raise parameter_error("mde", owner, "a finite non-zero float", mde)
    d = mde / sd
    return _result(_n_for_effect(d, alpha, power, ratio), d, alpha, power, ratio)


def mde_proportions(
    baseline: float,
    n_control: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    method: ProportionMethod = "cohen_h",
) -> MdeResult:
    """The smallest upward change of ``baseline`` detected with ``n_control`` units in control.

    The inverse of :func:`sample_size_proportions` (same ``method`` conventions). When
    no rate below 1 reaches the power, ``absolute`` and ``relative`` are NaN.

    Examples
    --------
    >>> round(mde_proportions(0.10, 3835).absolute, 4)
    0.02
    """
    owner = "mde_proportions"
    _check(owner, alpha, power, ratio)
    if not 0.0 < baseline < 1.0:
        raise parameter_error("baseline", owner, "a float in (0, 1)", baseline)
    if not (n_control > 0.0 and math.isfinite(n_control)):
        raise parameter_error("n_control", owner, "a float in (0, inf)", n_control)
    if method == "cohen_h":
        h = _effect_for_n(n_control, alpha, power, ratio)
        angle = math.asin(math.sqrt(baseline)) + h / 2.0
        p2 = math.sin(angle) ** 2 if angle <= math.pi / 2.0 else math.nan
        effect = h
    elif method == "unpooled":

        def gap(p: float) -> float:
            n = sample_size_proportions(
                baseline, p - baseline, alpha=alpha, power=power, ratio=ratio, method=method
            )
            return n.n_control_exact - n_control

        top = 1.0 - 1e-12
        p2 = math.nan if gap(top) > 0.0 else optimize.brentq(gap, top, baseline + 1e-12)
        var = baseline * (1 - baseline) + p2 * (1 - p2) / ratio
        effect = (p2 - baseline) / math.sqrt(var)
    else:
        raise parameter_error("method", owner, "one of 'cohen_h', 'unpooled'", method)
    absolute = p2 - baseline
    return MdeResult(absolute, absolute / baseline, effect, n_control, n_control * ratio)


def mde_means(
    sd: float,
    n_control: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
) -> MdeResult:
    """The smallest difference of means detected with ``n_control`` units in control.

    The inverse of :func:`sample_size_means`; ``relative`` is NaN (no baseline mean).

    Examples
    --------
    >>> round(mde_means(10.0, 393).absolute, 3)
    1.999
    """
    owner = "mde_means"
    _check(owner, alpha, power, ratio)
    if not (sd > 0.0 and math.isfinite(sd)):
        raise parameter_error("sd", owner, "a float in (0, inf)", sd)
    if not (n_control > 0.0 and math.isfinite(n_control)):
        raise parameter_error("n_control", owner, "a float in (0, inf)", n_control)
    d = _effect_for_n(n_control, alpha, power, ratio)
    return MdeResult(d * sd, math.nan, d, n_control, n_control * ratio)
