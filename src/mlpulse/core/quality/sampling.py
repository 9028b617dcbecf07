"""How far a share seen in a sample may be from the true one: binomial confidence bounds.

The share checks (missing values, type errors, out-of-range values, unseen categories,
non-finite numbers, duplicated rows) grade the *lower confidence bound* of what they
measured, not the point estimate: at 300 rows a share of 1.5% is 4.5 values, well within
the sampling error of a true share under 1%, and a fixed threshold would flag it. The
bound is Wilson's score interval for one share and Newcombe's hybrid score interval for
the difference of two; ``alpha=0.5`` makes both bounds the point estimate (the plain
threshold comparison).

>>> round(wilson_lower(6, 300, alpha=0.01), 4)  # 2% seen: the true share may be 0.8%
0.008
"""

from __future__ import annotations

import math
from typing import Final

from scipy.stats import norm

from mlpulse.errors import parameter_error

# One-sided: a check is flagged when the share is above its threshold with 99% confidence.
DEFAULT_ALPHA: Final = 0.01


def validate_alpha(alpha: float, owner: str) -> None:
    """Raise a :class:`~mlpulse.errors.ParameterError` unless ``0 < alpha <= 0.5``.

    Examples
    --------
    >>> validate_alpha(0.0, "missing_values")
    Traceback (most recent call last):
    ...
    mlpulse.errors.ParameterError: The 'alpha' parameter of missing_values must be ...
    """
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 0.5:
        raise parameter_error("alpha", owner, "a float in (0, 0.5]", alpha)


def _z(alpha: float) -> float:
    return float(norm.isf(alpha))


def _wilson(successes: float, n: float, z: float) -> tuple[float, float]:
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_lower(successes: float, n: float, *, alpha: float = DEFAULT_ALPHA) -> float:
    """The one-sided lower confidence bound of a share: ``successes`` out of ``n``.

    Wilson's score interval (Wilson, 1927, JASA 22(158)) at level ``1 - alpha`` on one
    side: unlike the normal approximation, it stays inside [0, 1] and is accurate for
    shares near 0, where the checks' thresholds are. NaN when ``n`` is 0.

    Examples
    --------
    >>> wilson_lower(5, 100, alpha=0.5)
    0.05
    >>> round(wilson_lower(5, 100, alpha=0.025), 4)  # the two-sided 95% interval's bound
    0.0215
    """
    if n <= 0:
        return math.nan
    return _wilson(successes, n, _z(alpha))[0]


def wilson_upper(successes: float, n: float, *, alpha: float = DEFAULT_ALPHA) -> float:
    """The one-sided upper confidence bound of a share (Wilson, 1927); NaN when ``n`` is 0.

    Examples
    --------
    >>> round(wilson_upper(0, 300, alpha=0.01), 4)
    0.0177
    """
    if n <= 0:
        return math.nan
    return _wilson(successes, n, _z(alpha))[1]


def difference_lower(
    successes: float,
    n: float,
    baseline_successes: float,
    baseline_n: float,
    *,
    alpha: float = DEFAULT_ALPHA,
) -> float:
    """The one-sided lower confidence bound of ``successes/n - baseline_successes/baseline_n``.

    Newcombe's hybrid score interval (Newcombe, 1998, Statistics in Medicine 17(8),
    method 10): the difference minus the root of the squared distances to each share's
    Wilson bound on the relevant side. An empty baseline counts as a share of 0 known
    exactly; NaN when ``n`` is 0.

    Examples
    --------
    >>> round(difference_lower(30, 100, 10, 100, alpha=0.5), 12)
    0.2
    >>> round(difference_lower(30, 100, 10, 100, alpha=0.025), 4)
    0.09
    """
    if n <= 0:
        return math.nan
    z = _z(alpha)
    low, _ = _wilson(successes, n, z)
    if baseline_n <= 0:
        return low
    share = successes / n
    _, baseline_high = _wilson(baseline_successes, baseline_n, z)
    baseline = baseline_successes / baseline_n
    return share - baseline - math.hypot(share - low, baseline_high - baseline)


def excess_lower(
    successes: float,
    n: float,
    expected: float,
    expected_error: float,
    *,
    alpha: float = DEFAULT_ALPHA,
) -> float:
    """The one-sided lower confidence bound of ``successes/n - expected``.

    ``expected`` is an estimate with standard error ``expected_error`` (normal on that
    side); the share's side is Wilson's, combined as in Newcombe's hybrid interval
    (see :func:`difference_lower`). NaN when ``n`` is 0.

    Examples
    --------
    >>> round(excess_lower(30, 100, 0.1, 0.0, alpha=0.5), 12)
    0.2
    >>> round(excess_lower(30, 100, 0.1, 0.02, alpha=0.025), 4)
    0.11
    """
    if n <= 0:
        return math.nan
    z = _z(alpha)
    low, _ = _wilson(successes, n, z)
    share = successes / n
    return share - expected - math.hypot(share - low, z * expected_error)
