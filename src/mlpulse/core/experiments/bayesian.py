"""Bayesian analysis of a two-arm experiment: chance to beat control, expected loss, lift.

* :func:`beta_binomial` for conversion rates (Beta prior, Binomial likelihood);
* :func:`normal_means` for continuous metrics (normal approximation, flat prior).

Inputs are counts, means and variances, so they combine with sufficient statistics.

>>> round(beta_binomial(1000, 100, 1000, 130).chance_to_beat, 4)
0.9822
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import integrate, stats

from mlpulse.errors import parameter_error

__all__ = ["BayesianResult", "beta_binomial", "normal_means"]

_NAN_PAIR = (math.nan, math.nan)


@dataclass(frozen=True, slots=True)
class BayesianResult:
    """The posterior comparison of treatment with control.

    ``chance_to_beat`` is P(treatment > control). ``expected_loss`` is
    E[max(control - treatment, 0)], what shipping the treatment costs on average when it
    is worse, and ``expected_loss_control`` the same for keeping the control. Lifts are
    treatment minus control (``lift_*``) and treatment / control - 1
    (``relative_lift_interval``, None where not computed), with equal-tailed credible
    intervals at level ``credible``. Everything is NaN when ``status`` is
    ``insufficient_data``.
    """

    chance_to_beat: float
    expected_loss: float
    expected_loss_control: float
    lift_mean: float
    lift_interval: tuple[float, float]
    relative_lift_interval: tuple[float, float] | None
    credible: float
    status: Literal["ok", "insufficient_data"]


def _check_credible(credible: float, owner: str) -> None:
    if not 0.0 < credible < 1.0:
        raise parameter_error("credible", owner, "a float in (0, 1)", credible)


def _insufficient(credible: float, relative: bool) -> BayesianResult:
    return BayesianResult(
        math.nan,
        math.nan,
        math.nan,
        math.nan,
        _NAN_PAIR,
        _NAN_PAIR if relative else None,
        credible,
        "insufficient_data",
    )


def _beta_integral(control: tuple[float, float], integrand: Callable[[float], float]) -> float:
    """∫ integrand over the central range of the control posterior (where all mass is)."""
    lo = float(stats.beta.ppf(1e-13, *control))
    hi = float(stats.beta.isf(1e-13, *control))
    value, _ = integrate.quad(integrand, lo, hi, epsabs=1e-13, epsrel=1e-10, limit=200)
    return float(value)


def _chance_and_losses(
    control: tuple[float, float], treatment: tuple[float, float]
) -> tuple[float, float, float]:
    a_c, b_c = control
    a_t, b_t = treatment
    mean_t = a_t / (a_t + b_t)

    def beats(x: float) -> float:  # f_c(x) P(p_t > x)
        return float(stats.beta.pdf(x, a_c, b_c) * stats.beta.sf(x, a_t, b_t))

    def gain(x: float) -> float:  # f_c(x) E[(p_t - x)^+], via E[p 1{p > x}] = mean sf_{a+1}
        tail = mean_t * stats.beta.sf(x, a_t + 1.0, b_t) - x * stats.beta.sf(x, a_t, b_t)
        return float(stats.beta.pdf(x, a_c, b_c) * tail)

    chance = _beta_integral(control, beats)
    loss_control = _beta_integral(control, gain)
    # E[(c - t)^+] = E[(t - c)^+] - E[t - c]
    loss = loss_control - (mean_t - a_c / (a_c + b_c))
    return min(max(chance, 0.0), 1.0), max(loss, 0.0), max(loss_control, 0.0)


def beta_binomial(
    n_control: int,
    successes_control: int,
    n_treatment: int,
    successes_treatment: int,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    credible: float = 0.95,
    draws: int = 200_000,
    seed: int = 0,
) -> BayesianResult:
    r"""Compare two conversion rates with Beta posteriors.

    Each arm's rate has posterior :math:`\mathrm{Beta}(a + s, b + n - s)`. The chance
    to beat control and both expected losses are exact one-dimensional integrals
    (``scipy.integrate.quad``):

    .. math::
        P(p_t > p_c) = \int f_c(x)\,(1 - F_t(x))\,dx, \qquad
        E[(p_t - x)^+] = \bar p_t\,(1 - F_{t+}(x)) - x\,(1 - F_t(x)),

    with :math:`F_{t+}` the CDF of :math:`\mathrm{Beta}(a_t + 1, b_t)`. They agree with
    Evan Miller's closed form for integer parameters (the unit tests hold them to it).
    The credible intervals of the absolute and relative lift come from ``draws``
    seeded Monte Carlo draws of both posteriors.

    Parameters
    ----------
    n_control, successes_control, n_treatment, successes_treatment : int
        Units and conversions per arm; an arm without units gives ``insufficient_data``.
    prior : (float, float), default (1.0, 1.0)
        Beta prior (a, b) of both arms; (1, 1) is uniform, as GrowthBook's default.
    credible : float, default 0.95
    draws : int, default 200_000
    seed : int, default 0

    References
    ----------
    Miller, E. (2015). Formulas for Bayesian A/B testing.
    https://www.evanmiller.org/bayesian-ab-testing.html
    Stucchio, C. (2015). Bayesian A/B testing at VWO (expected loss as decision rule).

    Examples
    --------
    >>> result = beta_binomial(1000, 100, 1000, 130)
    >>> round(result.expected_loss, 6), [round(x, 3) for x in result.lift_interval]
    (9.2e-05, [0.002, 0.058])
    """
    owner = "beta_binomial"
    _check_credible(credible, owner)
    for name, value in (("prior[0]", prior[0]), ("prior[1]", prior[1])):
        if not (value > 0.0 and math.isfinite(value)):
            raise parameter_error(name, owner, "a float in (0, inf)", value)
    if draws < 1000:
        raise parameter_error("draws", owner, "an int >= 1000", draws)
    for n_name, n, s_name, s in (
        ("n_control", n_control, "successes_control", successes_control),
        ("n_treatment", n_treatment, "successes_treatment", successes_treatment),
    ):
        if n < 0:
            raise parameter_error(n_name, owner, "an int >= 0", n)
        if not 0 <= s <= n:
            raise parameter_error(s_name, owner, f"an int in [0, {n_name}]", s)
    if n_control == 0 or n_treatment == 0:
        return _insufficient(credible, relative=True)
    a, b = prior
    control = (a + successes_control, b + n_control - successes_control)
    treatment = (a + successes_treatment, b + n_treatment - successes_treatment)
    chance, loss, loss_control = _chance_and_losses(control, treatment)
    rng = np.random.default_rng(seed)
    p_c = rng.beta(*control, size=draws)
    p_t = rng.beta(*treatment, size=draws)
    tails = [(1.0 - credible) / 2.0, (1.0 + credible) / 2.0]
    absolute = np.quantile(p_t - p_c, tails)
    relative = np.quantile(p_t / p_c - 1.0, tails)
    return BayesianResult(
        chance_to_beat=chance,
        expected_loss=loss,
        expected_loss_control=loss_control,
        lift_mean=treatment[0] / sum(treatment) - control[0] / sum(control),
        lift_interval=(float(absolute[0]), float(absolute[1])),
        relative_lift_interval=(float(relative[0]), float(relative[1])),
        credible=credible,
        status="ok",
    )


def normal_means(
    n_control: float,
    mean_control: float,
    var_control: float,
    n_treatment: float,
    mean_treatment: float,
    var_treatment: float,
    *,
    credible: float = 0.95,
) -> BayesianResult:
    r"""Compare two means with the normal approximation of their posterior difference.

    With a flat prior, the difference :math:`d = \mu_t - \mu_c` has posterior
    :math:`N(\Delta, s^2)`, :math:`\Delta = \bar x_t - \bar x_c`,
    :math:`s^2 = v_t/n_t + v_c/n_c` (``var_*`` are the sample variances). Then, in
    closed form,

    .. math::
        P(d > 0) = \Phi(\Delta/s), \quad
        E[(-d)^+] = s\,\varphi(\Delta/s) - \Delta\,\Phi(-\Delta/s), \quad
        E[d^+] = s\,\varphi(\Delta/s) + \Delta\,\Phi(\Delta/s),

    and the credible interval is :math:`\Delta \pm z_{(1+\text{credible})/2}\,s`.
    ``relative_lift_interval`` is None (the ratio of means needs the delta method or a
    prior on the control mean). Fewer than 2 units in an arm, or no variance at all,
    give ``insufficient_data``.

    References
    ----------
    Gelman, A. et al. (2013). *Bayesian Data Analysis*, 3rd ed., §3.2 (flat prior, normal
    model). Stucchio, C. (2015). Bayesian A/B testing at VWO (expected loss).

    Examples
    --------
    >>> result = normal_means(500, 10.0, 4.0, 500, 10.3, 4.0)
    >>> round(result.chance_to_beat, 4), [round(x, 3) for x in result.lift_interval]
    (0.9911, [0.052, 0.548])
    """
    owner = "normal_means"
    _check_credible(credible, owner)
    for name, value in (("var_control", var_control), ("var_treatment", var_treatment)):
        if not value >= 0.0:
            raise parameter_error(name, owner, "a float in [0, inf)", value)
    if n_control < 2 or n_treatment < 2:
        return _insufficient(credible, relative=False)
    delta = mean_treatment - mean_control
    s = math.sqrt(var_treatment / n_treatment + var_control / n_control)
    if not (s > 0.0 and math.isfinite(s) and math.isfinite(delta)):
        return _insufficient(credible, relative=False)
    z = delta / s
    density = float(stats.norm.pdf(z))
    half = float(stats.norm.isf((1.0 - credible) / 2.0)) * s
    return BayesianResult(
        chance_to_beat=float(stats.norm.cdf(z)),
        expected_loss=s * density - delta * float(stats.norm.cdf(-z)),
        expected_loss_control=s * density + delta * float(stats.norm.cdf(z)),
        lift_mean=delta,
        lift_interval=(delta - half, delta + half),
        relative_lift_interval=None,
        credible=credible,
        status="ok",
    )
