"""Sufficient statistics of A/B experiments: small values that add.

Every test of :mod:`mlpulse.core.experiments` reads these, never the rows, so a result
over billions of rows comes from per-window aggregates (a SQL ``GROUP BY`` of
``COUNT(*)``, ``SUM(y)``, ``SUM(y*y)``...) merged with ``+``. The merge is exact
(sums add), commutative and associative, with the empty statistic as identity.

Power sums are what warehouses compute and what GrowthBook's gbstats reads. Their one
weakness is cancellation in ``sum_sq - sum**2 / n`` when the mean is huge next to the
spread (|mean| / std beyond ~1e6 loses digits); centre such metrics (subtract a known
constant) before aggregating. Variances are clipped at 0 for the same reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlpulse.errors import InvalidInputError, parameter_error

__all__ = ["CovStats", "MeanStats", "ProportionStats"]


def as_values(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """``values`` as a 1-D float64 array of finite numbers, or ``InvalidInputError``.

    >>> as_values([1, 2.5], "values")
    array([1. , 2.5])
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise InvalidInputError(f"{name!r} must be a 1-D array of numbers.", field=name)
    if not np.isfinite(array).all():
        raise InvalidInputError(f"{name!r} must hold finite numbers only.", field=name)
    return array


def _check_count(owner: str, name: str, n: object) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise parameter_error(name, owner, "an int >= 0", n)


def _check_finite(owner: str, **sums: float) -> None:
    for name, value in sums.items():
        if not math.isfinite(value):
            raise parameter_error(name, owner, "a finite float", value)


def _centred(sum_ab: float, sum_a: float, sum_b: float, n: int) -> float:
    """``sum((a - mean_a)(b - mean_b)) / (n - 1)``; NaN below 2 observations."""
    if n < 2:
        return math.nan
    return (sum_ab - sum_a * sum_b / n) / (n - 1)


@dataclass(frozen=True, slots=True)
class MeanStats:
    """Count, sum and sum of squares of one metric in one arm.

    Examples
    --------
    >>> a = MeanStats.from_values([1.0, 2.0])
    >>> b = MeanStats.from_values([3.0])
    >>> merged = a + b
    >>> merged, merged.mean, merged.variance
    (MeanStats(n=3, sum=6.0, sum_sq=14.0), 2.0, 1.0)
    """

    n: int = 0
    sum: float = 0.0
    sum_sq: float = 0.0

    def __post_init__(self) -> None:
        _check_count("MeanStats", "n", self.n)
        _check_finite("MeanStats", sum=self.sum, sum_sq=self.sum_sq)
        if self.sum_sq < 0:
            raise parameter_error("sum_sq", "MeanStats", "a float >= 0", self.sum_sq)

    @classmethod
    def from_values(cls, values: ArrayLike) -> MeanStats:
        """The statistics of a 1-D array of finite numbers."""
        y = as_values(values, "values")
        return cls(int(y.size), float(y.sum()), float(np.dot(y, y)))

    def merge(self, other: MeanStats) -> MeanStats:
        """The statistics of both sets of values together."""
        return MeanStats(self.n + other.n, self.sum + other.sum, self.sum_sq + other.sum_sq)

    def __add__(self, other: MeanStats) -> MeanStats:
        return self.merge(other)

    @property
    def mean(self) -> float:
        """The mean; NaN when empty."""
        return self.sum / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """The sample variance (``ddof=1``, like ``np.var(ddof=1)``); NaN below 2 values."""
        return max(_centred(self.sum_sq, self.sum, self.sum, self.n), 0.0)


@dataclass(frozen=True, slots=True)
class CovStats:
    """Joint sums of two metrics per unit: ``x`` and ``y``.

    For a ratio metric (:mod:`~mlpulse.core.experiments.ratio`), ``y`` is the numerator
    (revenue) and ``x`` the denominator (sessions); for CUPED
    (:mod:`~mlpulse.core.experiments.cuped`), ``y`` is the metric and ``x`` its
    pre-period covariate.

    Examples
    --------
    >>> s = CovStats.from_values([1.0, 2.0, 3.0], [2.0, 4.0, 7.0])
    >>> s.mean_x, s.mean_y, s.var_x, s.covariance
    (2.0, 4.333333333333333, 1.0, 2.5)
    >>> (s + CovStats()).y
    MeanStats(n=3, sum=13.0, sum_sq=69.0)
    """

    n: int = 0
    sum_x: float = 0.0
    sum_y: float = 0.0
    sum_xx: float = 0.0
    sum_yy: float = 0.0
    sum_xy: float = 0.0

    def __post_init__(self) -> None:
        _check_count("CovStats", "n", self.n)
        _check_finite(
            "CovStats",
            sum_x=self.sum_x,
            sum_y=self.sum_y,
            sum_xx=self.sum_xx,
            sum_yy=self.sum_yy,
            sum_xy=self.sum_xy,
        )
        for name, value in (("sum_xx", self.sum_xx), ("sum_yy", self.sum_yy)):
            if value < 0:
                raise parameter_error(name, "CovStats", "a float >= 0", value)

    @classmethod
    def from_values(cls, x: ArrayLike, y: ArrayLike) -> CovStats:
        """The statistics of paired 1-D arrays of finite numbers (one pair per unit)."""
        a, b = as_values(x, "x"), as_values(y, "y")
        if a.size != b.size:
            raise InvalidInputError(
                f"'x' and 'y' must have the same length. Got {a.size} and {b.size}.", field="y"
            )
        return cls(
            int(a.size),
            float(a.sum()),
            float(b.sum()),
            float(np.dot(a, a)),
            float(np.dot(b, b)),
            float(np.dot(a, b)),
        )

    def merge(self, other: CovStats) -> CovStats:
        """The statistics of both sets of pairs together."""
        return CovStats(
            self.n + other.n,
            self.sum_x + other.sum_x,
            self.sum_y + other.sum_y,
            self.sum_xx + other.sum_xx,
            self.sum_yy + other.sum_yy,
            self.sum_xy + other.sum_xy,
        )

    def __add__(self, other: CovStats) -> CovStats:
        return self.merge(other)

    @property
    def x(self) -> MeanStats:
        """The statistics of ``x`` alone."""
        return MeanStats(self.n, self.sum_x, self.sum_xx)

    @property
    def y(self) -> MeanStats:
        """The statistics of ``y`` alone."""
        return MeanStats(self.n, self.sum_y, self.sum_yy)

    @property
    def mean_x(self) -> float:
        """The mean of ``x``; NaN when empty."""
        return self.x.mean

    @property
    def mean_y(self) -> float:
        """The mean of ``y``; NaN when empty."""
        return self.y.mean

    @property
    def var_x(self) -> float:
        """The sample variance of ``x`` (``ddof=1``); NaN below 2 pairs."""
        return self.x.variance

    @property
    def var_y(self) -> float:
        """The sample variance of ``y`` (``ddof=1``); NaN below 2 pairs."""
        return self.y.variance

    @property
    def covariance(self) -> float:
        """The sample covariance of ``x`` and ``y`` (``ddof=1``, like ``np.cov``)."""
        return _centred(self.sum_xy, self.sum_x, self.sum_y, self.n)


@dataclass(frozen=True, slots=True)
class ProportionStats:
    """Units and successes (conversions, clicks) in one arm.

    Examples
    --------
    >>> s = ProportionStats.from_values([True, False, True, True]) + ProportionStats(6, 1)
    >>> s, s.failures, s.rate
    (ProportionStats(n=10, successes=4), 6, 0.4)
    """

    n: int = 0
    successes: int = 0

    def __post_init__(self) -> None:
        _check_count("ProportionStats", "n", self.n)
        _check_count("ProportionStats", "successes", self.successes)
        if self.successes > self.n:
            raise parameter_error(
                "successes", "ProportionStats", f"an int in [0, n={self.n}]", self.successes
            )

    @classmethod
    def from_values(cls, outcomes: ArrayLike) -> ProportionStats:
        """The statistics of a 1-D array of outcomes, each 0/1 or a bool."""
        y = as_values(outcomes, "outcomes")
        if not np.isin(y, (0.0, 1.0)).all():
            raise InvalidInputError("'outcomes' must hold only 0 and 1.", field="outcomes")
        return cls(int(y.size), int(y.sum()))

    def merge(self, other: ProportionStats) -> ProportionStats:
        """The statistics of both sets of outcomes together."""
        return ProportionStats(self.n + other.n, self.successes + other.successes)

    def __add__(self, other: ProportionStats) -> ProportionStats:
        return self.merge(other)

    @property
    def failures(self) -> int:
        """Units without a success."""
        return self.n - self.successes

    @property
    def rate(self) -> float:
        """The share of successes; NaN when empty."""
        return self.successes / self.n if self.n else math.nan
