"""Drift severity: one scale, higher always = more drift, for every method and window size.

A drift method gives either a distance (worse when larger) or a p-value (worse when
smaller), each with its own warning and critical thresholds, so raw values of two
columns cannot share one alert rule or one colour scale. The severity maps any of them
onto the same axis:

- 0 = no difference (distance 0, p-value 1);
- 1 = exactly at the column's warning threshold;
- 2 = exactly at its critical threshold;
- piecewise linear between, and beyond critical extrapolated with the warning → critical
  slope (so a distance twice as far past critical reads 3, 4, ...).

For a p-value the interpolation is in ``-log10(p)``: ``p = 1`` → 0, ``p = warning`` → 1,
``p = critical`` → 2 (with the default 0.05 / 0.01, p = 0.001 reads about 3.4). A p-value
of 0 (underflow) gives +inf; NaN (insufficient data) stays NaN.

So ``severity >= 1`` is the warning status and ``severity >= 2`` the critical one, up to
the boundary itself: the status says "above the threshold", strictly, as before.

>>> severity(0.15, warning=0.1, critical=0.2, p_value=False)
1.5
>>> round(severity(0.01, warning=0.05, critical=0.01, p_value=True), 6)
2.0
"""

from __future__ import annotations

import math

__all__ = ["severity"]


def severity(value: float, *, warning: float, critical: float, p_value: bool) -> float:
    """The drift severity of a method's ``value`` against its thresholds (see the module).

    Thresholds out of order or equal (critical not worse than warning) give a step
    between them: the critical side is measured with a slope of 1 per warning unit.
    """
    if math.isnan(value):
        return math.nan
    if p_value:
        if value <= 0.0:
            return math.inf
        x = -math.log10(min(value, 1.0))
        low = -math.log10(warning) if 0.0 < warning < 1.0 else 0.0
        high = -math.log10(critical) if 0.0 < critical < 1.0 else 0.0
    else:
        x, low, high = max(value, 0.0), warning, critical
    if low <= 0.0:
        return math.inf if x > 0.0 else 0.0
    if x <= low:
        return x / low
    step = high - low if high > low else low
    return 1.0 + (x - low) / step
