"""Correlation of two aligned series: Pearson's and Spearman's r with their p-values.

What the business view measures between a technical metric (p99 latency, error rate,
drift share) and a business KPI over the same hourly buckets. Pairs where either side
is missing (NaN or infinite) are dropped first. Fewer than ``min_points`` pairs, or a
side that does not vary, is a result with ``status`` ``insufficient_data`` and a reason,
never NaN: a correlation with a constant series is undefined, not zero.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from mlpulse.errors import parameter_error

DEFAULT_MIN_POINTS = 3


class CorrelationStatus(enum.StrEnum):
    OK = "ok"
    INSUFFICIENT_DATA = "insufficient_data"


@dataclass(frozen=True, slots=True)
class CorrelationResult:
    """Pearson's and Spearman's r in [-1, 1] with two-sided p-values in [0, 1].

    With ``status`` ``insufficient_data`` the four numbers are None and ``reason``
    says why. ``n`` is the number of pairs used (after missing ones were dropped).
    """

    status: CorrelationStatus
    n: int
    pearson_r: float | None = None
    pearson_p: float | None = None
    spearman_r: float | None = None
    spearman_p: float | None = None
    reason: str = ""


def _clip(value: float, low: float, high: float) -> float:
    return float(min(max(value, low), high))


def correlation(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    min_points: int = DEFAULT_MIN_POINTS,
) -> CorrelationResult:
    """Pearson (1895) and Spearman (1904) correlation of paired values, via scipy.

    Parameters
    ----------
    x, y
        The two series, aligned: ``x[i]`` and ``y[i]`` belong to the same time bucket.
    min_points
        The fewest complete pairs to compute anything from (at least 3: with two
        points every correlation is ±1 and its p-value meaningless).

    Examples
    --------
    >>> result = correlation([1.0, 2.0, 3.0, 4.0], [2.0, 4.1, 5.9, 8.2])
    >>> result.status.value, round(result.pearson_r, 3), result.spearman_r
    ('ok', 0.999, 1.0)
    >>> correlation([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]).reason
    'not enough data: the first series is constant'
    """
    if not isinstance(min_points, int) or isinstance(min_points, bool) or min_points < 3:
        raise parameter_error("min_points", "correlation", "an int >= 3", min_points)
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise parameter_error(
            "y", "correlation", f"a 1-d series as long as x ({a.shape})", f"shape {b.shape}"
        )
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = int(a.size)
    if n < min_points:
        return CorrelationResult(
            CorrelationStatus.INSUFFICIENT_DATA,
            n,
            reason=f"not enough data: {n} aligned point{'s' if n != 1 else ''}, "
            f"{min_points} needed",
        )
    for series, which in ((a, "first"), (b, "second")):
        # np.ptp == 0 misses a series whose spread is lost in rounding; scipy then warns
        # and answers NaN. Checking the spread against the scale catches both.
        if np.ptp(series) <= 1e-12 * max(1.0, float(np.max(np.abs(series)))):
            return CorrelationResult(
                CorrelationStatus.INSUFFICIENT_DATA,
                n,
                reason=f"not enough data: the {which} series is constant",
            )
    pearson = stats.pearsonr(a, b)
    spearman = stats.spearmanr(a, b)
    values = (
        float(pearson.statistic),
        float(pearson.pvalue),
        float(spearman.statistic),
        float(spearman.pvalue),
    )
    if not all(np.isfinite(values)):  # ranks can still tie into a constant series
        return CorrelationResult(
            CorrelationStatus.INSUFFICIENT_DATA,
            n,
            reason="not enough data: the series do not vary enough to correlate",
        )
    pr, pp, sr, sp = values
    return CorrelationResult(
        CorrelationStatus.OK,
        n,
        pearson_r=_clip(pr, -1.0, 1.0),
        pearson_p=_clip(pp, 0.0, 1.0),
        spearman_r=_clip(sr, -1.0, 1.0),
        spearman_p=_clip(sp, 0.0, 1.0),
    )
