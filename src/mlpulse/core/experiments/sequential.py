"""Sequential testing: always-valid inference (mSPRT) and group-sequential boundaries.

* :func:`msprt` and its wrappers give an always-valid p-value and confidence sequence
  that may be read after every new unit without inflating the false-positive rate;
* :func:`group_sequential_boundaries` gives the z thresholds of K planned looks that
  spend ``alpha`` with a Lan–DeMets spending function.

>>> [round(z, 2) for z in group_sequential_boundaries([0.5, 1.0]).boundaries]
[2.96, 1.97]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from mlpulse.errors import parameter_error

__all__ = [
    "GroupSequentialResult",
    "MsprtResult",
    "crossing_probability",
    "group_sequential_boundaries",
    "msprt",
    "msprt_means",
    "msprt_proportions",
]

Spending = Literal["obrien_fleming", "pocock"]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class MsprtResult:
    """The mSPRT after each look; the scalars describe the last look.

    ``p_values`` never increase and ``lower``/``upper`` only narrow (running minimum
    and running intersection), which is what makes them valid at any stopping time.
    A look with a variance that is not positive and finite (too little data) changes
    nothing; ``status`` is ``insufficient_data`` when no look had one.
    """

    p_values: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    p_value: float
    confidence_interval: tuple[float, float]
    reject: bool
    alpha: float
    status: Literal["ok", "insufficient_data"]


@dataclass(frozen=True, slots=True)
class GroupSequentialResult:
    """Z thresholds for each planned look and the ``alpha`` spent by each look (cumulative)."""

    information_fractions: tuple[float, ...]
    boundaries: tuple[float, ...]
    alpha_spent: tuple[float, ...]
    alpha: float
    sides: int
    spending: Spending


def _vector(values: ArrayLike, name: str, owner: str) -> FloatArray:
    array = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if array.ndim != 1 or array.size == 0:
        raise parameter_error(name, owner, "a non-empty 1-D sequence of numbers", values)
    return array


def msprt(
    difference: ArrayLike,
    variance: ArrayLike,
    *,
    tau2: float,
    alpha: float = 0.05,
    null: float = 0.0,
) -> MsprtResult:
    r"""The mixture sequential probability ratio test with a normal mixing distribution.

    At look :math:`n` the estimate :math:`\hat\theta_n` (``difference``, treatment minus
    control) has variance :math:`V_n` (``variance``). Mixing the alternatives over
    :math:`\theta \sim N(\theta_0, \tau^2)` gives the likelihood ratio

    .. math::
        \Lambda_n = \sqrt{\frac{V_n}{V_n + \tau^2}}
        \exp\left(\frac{\tau^2 (\hat\theta_n - \theta_0)^2}{2 V_n (V_n + \tau^2)}\right),

    the always-valid p-value :math:`p_n = \min(p_{n-1}, 1/\Lambda_n)` and the
    confidence sequence :math:`\hat\theta_n \pm \sqrt{V_n (V_n+\tau^2)/\tau^2\,
    (2\log(1/\alpha) + \log((V_n+\tau^2)/V_n))}`, intersected over looks.
    ``P(some p_n <= alpha) <= alpha`` under the null, however often one looks.

    Parameters
    ----------
    difference, variance : array_like
        One value per look, in order; scalars are one look.
    tau2 : float
        Variance :math:`\tau^2` of the mixing distribution, in squared units of
        ``difference``. The test is most powerful for effects of size about
        :math:`\tau`: set it to the square of the effect you hope to detect (the
        Johari et al. advice; GrowthBook and Optimizely tune it the same way).
    alpha : float, default 0.05
        Level of ``reject`` and of the confidence sequence (two-sided).
    null : float, default 0.0
        :math:`\theta_0`.

    References
    ----------
    Johari, R., Koomen, P., Pekelis, L. and Walsh, D. (2017). Peeking at A/B tests: why it
    matters, and what to do about it. *KDD '17*, 1517–1525.
    Robbins, H. (1970). Statistical methods related to the law of the iterated logarithm.
    *Annals of Mathematical Statistics* 41(5), 1397–1409.

    Examples
    --------
    >>> result = msprt([0.5, 0.6], [0.04, 0.02], tau2=0.25)
    >>> round(result.p_value, 4), result.reject
    (0.0009, True)
    >>> [round(x, 3) for x in result.confidence_interval]
    [0.169, 1.031]
    """
    owner = "msprt"
    if not (tau2 > 0.0 and math.isfinite(tau2)):
        raise parameter_error("tau2", owner, "a float in (0, inf)", tau2)
    if not 0.0 < alpha < 1.0:
        raise parameter_error("alpha", owner, "a float in (0, 1)", alpha)
    theta = _vector(difference, "difference", owner)
    v = _vector(variance, "variance", owner)
    if theta.shape != v.shape:
        raise parameter_error("variance", owner, "as long as 'difference'", v.size)
    valid = np.isfinite(theta) & np.isfinite(v) & (v > 0.0)
    v_safe = np.where(valid, v, 1.0)
    t_safe = np.where(valid, theta, null)
    # Written so that no intermediate squares a variance: a huge one (a relative lift over
    # a near-zero baseline) would overflow where the result itself is finite.
    z2 = ((t_safe - null) / np.sqrt(v_safe)) ** 2
    log_lr = 0.5 * np.log(v_safe / (v_safe + tau2)) + tau2 / (2.0 * (v_safe + tau2)) * z2
    p_look = np.where(valid, np.minimum(1.0, np.exp(-log_lr)), 1.0)
    half = np.sqrt(v_safe) * np.sqrt(
        (v_safe + tau2) / tau2 * (2.0 * math.log(1.0 / alpha) + np.log1p(tau2 / v_safe))
    )
    low = np.where(valid, t_safe - half, -np.inf)
    high = np.where(valid, t_safe + half, np.inf)
    p_values = np.minimum.accumulate(p_look)
    lower = np.maximum.accumulate(low)
    upper = np.minimum.accumulate(high)
    return MsprtResult(
        p_values=tuple(float(p) for p in p_values),
        lower=tuple(float(x) for x in lower),
        upper=tuple(float(x) for x in upper),
        p_value=float(p_values[-1]),
        confidence_interval=(float(lower[-1]), float(upper[-1])),
        reject=bool(p_values[-1] <= alpha),
        alpha=alpha,
        status="ok" if bool(valid.any()) else "insufficient_data",
    )


def msprt_means(
    n_control: ArrayLike,
    mean_control: ArrayLike,
    var_control: ArrayLike,
    n_treatment: ArrayLike,
    mean_treatment: ArrayLike,
    var_treatment: ArrayLike,
    *,
    tau2: float,
    alpha: float = 0.05,
    null: float = 0.0,
) -> MsprtResult:
    """:func:`msprt` on the difference of means, from cumulative counts, means and variances.

    One value per look in each argument. The variance of the difference is the plug-in
    ``var_treatment / n_treatment + var_control / n_control`` (the paper assumes it
    known; with a few hundred units per arm the plug-in changes nothing that matters).
    Looks with fewer than 2 units in an arm have no variance and are skipped.

    Examples
    --------
    >>> msprt_means(1000, 10.0, 4.0, 1000, 10.5, 4.0, tau2=0.25).p_value < 1e-5
    True
    """
    n_c = _vector(n_control, "n_control", "msprt_means")
    n_t = _vector(n_treatment, "n_treatment", "msprt_means")
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.where(
            (n_c >= 2) & (n_t >= 2),
            np.asarray(var_treatment, dtype=np.float64) / n_t
            + np.asarray(var_control, dtype=np.float64) / n_c,
            np.nan,
        )
    difference = np.asarray(mean_treatment, dtype=np.float64) - np.asarray(
        mean_control, dtype=np.float64
    )
    return msprt(difference, variance, tau2=tau2, alpha=alpha, null=null)


def msprt_proportions(
    n_control: ArrayLike,
    successes_control: ArrayLike,
    n_treatment: ArrayLike,
    successes_treatment: ArrayLike,
    *,
    tau2: float,
    alpha: float = 0.05,
    null: float = 0.0,
) -> MsprtResult:
    """:func:`msprt` on the difference of conversion rates, from cumulative counts per look.

    The variance is the unpooled ``p_t (1 - p_t) / n_t + p_c (1 - p_c) / n_c``; a look
    where it is 0 (no conversions yet) is skipped.

    Examples
    --------
    >>> msprt_proportions([500, 1000], [50, 100], [500, 1000], [80, 160], tau2=0.0004).reject
    True
    """
    n_c = _vector(n_control, "n_control", "msprt_proportions")
    n_t = _vector(n_treatment, "n_treatment", "msprt_proportions")
    with np.errstate(divide="ignore", invalid="ignore"):
        p_c = np.asarray(successes_control, dtype=np.float64) / n_c
        p_t = np.asarray(successes_treatment, dtype=np.float64) / n_t
        variance = p_t * (1.0 - p_t) / n_t + p_c * (1.0 - p_c) / n_c
    return msprt(p_t - p_c, variance, tau2=tau2, alpha=alpha, null=null)


def _spending_function(name: str, alpha: float) -> Callable[[float], float]:
    """Cumulative one-sided alpha spent at information fraction t (Lan & DeMets 1983)."""
    if name == "obrien_fleming":
        z = float(stats.norm.isf(alpha / 2.0))
        return lambda t: float(2.0 * stats.norm.sf(z / math.sqrt(t)))
    if name == "pocock":
        return lambda t: alpha * math.log1p((math.e - 1.0) * t)
    raise parameter_error(
        "spending", "group_sequential_boundaries", "one of 'obrien_fleming', 'pocock'", name
    )


# Grid on the z scale for the recursive integration (Jennison & Turnbull 2000, ch. 19):
# Simpson's rule on a fine uniform grid; 1e-6 accuracy is plenty for boundaries.
_GRID_STEP = 0.01
_LOWER_LIMIT = -9.0


def _grid(lo: float, hi: float) -> tuple[FloatArray, FloatArray]:
    m = max(2, math.ceil((hi - lo) / _GRID_STEP / 2.0) * 2)
    z = np.linspace(lo, hi, m + 1)
    w = np.full(m + 1, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return z, w * (hi - lo) / (3.0 * m)


class _Recursion:
    """The sub-density of Z_k on the continuation region, carried from look to look."""

    def __init__(self, sides: int) -> None:
        self.sides = sides
        self.z: FloatArray | None = None
        self.mass: FloatArray | None = None  # density times Simpson weight
        self.t_prev = 0.0

    def cross(self, c: float, t: float) -> float:
        """P(no earlier crossing, and |Z_k| >= c (or Z_k >= c when one-sided))."""
        if self.z is None or self.mass is None:
            return float(self.sides * stats.norm.sf(c))
        scale = math.sqrt(t - self.t_prev)
        mean = self.z * math.sqrt(self.t_prev)
        up = stats.norm.sf((c * math.sqrt(t) - mean) / scale)
        if self.sides == 2:
            up = up + stats.norm.cdf((-c * math.sqrt(t) - mean) / scale)
        return float(np.dot(self.mass, up))

    def advance(self, c: float, t: float) -> None:
        z, w = _grid(-c if self.sides == 2 else _LOWER_LIMIT, c)
        if self.z is None or self.mass is None:
            density = stats.norm.pdf(z)
        else:
            scale = math.sqrt(t - self.t_prev)
            kernel = stats.norm.pdf(
                (z[:, None] * math.sqrt(t) - self.z[None, :] * math.sqrt(self.t_prev)) / scale
            )
            density = kernel @ self.mass * math.sqrt(t) / scale
        self.z, self.mass, self.t_prev = z, density * w, t


def crossing_probability(
    boundaries: ArrayLike, information_fractions: ArrayLike, *, sides: Literal[1, 2] = 2
) -> float:
    r"""P(some look crosses its boundary) when the null holds, by recursive integration.

    :math:`Z_k = S_k/\sqrt{t_k}` with :math:`S` a Brownian motion observed at the
    information fractions :math:`t_k` (the canonical joint distribution, Jennison &
    Turnbull 2000, §3.1). ``sides=2`` counts :math:`|Z_k| \ge c_k`.

    Examples
    --------
    >>> round(crossing_probability([2.413] * 5, [0.2, 0.4, 0.6, 0.8, 1.0]), 4)  # Pocock
    0.05
    """
    c = _vector(boundaries, "boundaries", "crossing_probability")
    t = _fractions(information_fractions, "crossing_probability")
    if c.size != t.size:
        raise parameter_error("boundaries", "crossing_probability", "one per look", c.size)
    recursion, total = _Recursion(sides), 0.0
    for ck, tk in zip(c, t, strict=True):
        total += recursion.cross(float(ck), float(tk))
        recursion.advance(float(ck), float(tk))
    return total


def _fractions(values: ArrayLike, owner: str) -> FloatArray:
    t = _vector(values, "information_fractions", owner)
    if not (np.all(np.diff(t) > 0) and t[0] > 0 and t[-1] <= 1.0):
        raise parameter_error("information_fractions", owner, "increasing floats in (0, 1]", values)
    return t


def _solve_boundary(recursion: _Recursion, t: float, target: float) -> float:
    """The c whose first-crossing probability at information fraction t is ``target``."""
    if target <= 1e-15:  # nothing to spend yet: no rejection possible at this look
        return math.inf
    # At c = 0 every path still running crosses (mass >= target); at c = 40 none does.
    return float(optimize.brentq(lambda c: recursion.cross(c, t) - target, 0.0, 40.0, xtol=1e-9))


def group_sequential_boundaries(
    information_fractions: ArrayLike,
    *,
    alpha: float = 0.05,
    spending: Spending = "obrien_fleming",
    sides: Literal[1, 2] = 2,
) -> GroupSequentialResult:
    r"""Efficacy z boundaries of a group-sequential test with Lan–DeMets alpha spending.

    Spending functions of a one-sided level :math:`a` (Lan & DeMets 1983):
    O'Brien–Fleming type :math:`2 - 2\Phi(z_{1-a/2}/\sqrt t)`, Pocock type
    :math:`a \log(1 + (e - 1) t)`. ``alpha`` is the **total** level: with ``sides=2``
    each side spends ``alpha / 2`` and the boundaries are symmetric, ``|Z_k| >= c_k``
    rejects — as rpact's ``getDesignGroupSequential(sided = 2, alpha = 0.05,
    typeOfDesign = "asOF")`` and gsDesign's ``test.type = 2, alpha = 0.025, sfu = sfLDOF``.
    With ``sides=1``, ``Z_k >= c_k`` rejects at one-sided level ``alpha`` (rpact
    ``sided = 1``, gsDesign ``test.type = 1``). Each :math:`c_k` is solved so that the
    probability of first crossing at look k equals the alpha spent there, by recursive
    numerical integration (Jennison & Turnbull 2000, ch. 19).

    Parameters
    ----------
    information_fractions : array_like
        Increasing, in (0, 1]; the last is usually 1 (the planned sample size).
    alpha : float, default 0.05
    spending : {"obrien_fleming", "pocock"}, default "obrien_fleming"
    sides : {1, 2}, default 2

    References
    ----------
    Lan, K. K. G. and DeMets, D. L. (1983). Discrete sequential boundaries for clinical
    trials. *Biometrika* 70(3), 659–663.
    Jennison, C. and Turnbull, B. W. (2000). *Group Sequential Methods with Applications
    to Clinical Trials*. Chapman & Hall/CRC.

    Examples
    --------
    >>> result = group_sequential_boundaries([0.2, 0.4, 0.6, 0.8, 1.0])
    >>> [round(z, 3) for z in result.boundaries]
    [4.877, 3.357, 2.68, 2.29, 2.031]
    """
    owner = "group_sequential_boundaries"
    if not 0.0 < alpha < 1.0:
        raise parameter_error("alpha", owner, "a float in (0, 1)", alpha)
    if sides not in (1, 2):
        raise parameter_error("sides", owner, "1 or 2", sides)
    t = _fractions(information_fractions, owner)
    per_side = _spending_function(spending, alpha / sides)
    recursion = _Recursion(sides)
    spent_before, bounds, spent = 0.0, [], []
    for tk in (float(x) for x in t):
        cumulative = sides * per_side(tk)
        c = _solve_boundary(recursion, tk, cumulative - spent_before)
        recursion.advance(min(c, 12.0), tk)
        spent_before = cumulative
        bounds.append(c)
        spent.append(cumulative)
    return GroupSequentialResult(
        information_fractions=tuple(float(x) for x in t),
        boundaries=tuple(bounds),
        alpha_spent=tuple(spent),
        alpha=alpha,
        sides=sides,
        spending=spending,
    )
