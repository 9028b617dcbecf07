"""An SLO's state at one time: SLI, budget left, burn rates and multi-window alerts.

The multi-window multi-burn-rate alert of the SRE workbook (2018, ch. 5, "Multiwindow,
Multi-Burn-Rate Alerts"): an alert with windows ``long``/``short`` and threshold ``b``
fires while the burn rate over the last ``long`` *and* over the last ``short`` both reach
``b``. The long window makes it significant (14.4× over 1h is 2% of a 30-day budget), the
short one makes it reset soon after the burning stops.

>>> from mlpulse.core.slo.budget import MinuteCounts
>>> outage = MinuteCounts.from_arrays(0.0, good=[100] * 58 + [0, 0], total=[100] * 60)
>>> status = slo_status(outage, now=3600.0, objective=0.999, period=(0.0, 3600.0),
...                     windows=[BurnWindow(3600.0, 300.0, 14.4)])
>>> status.alerts[0].firing, round(status.alerts[0].long_rate, 1), status.alerts[0].short_rate
(True, 33.3, 400.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlpulse.core.slo.budget import (
    MinuteCounts,
    budget_remaining,
    burn_rate,
    sli,
    time_to_exhaustion,
)

__all__ = ["BurnAlertResult", "BurnWindow", "SloStatusResult", "slo_status"]


@dataclass(frozen=True, slots=True)
class BurnWindow:
    """An alert's long and short windows (seconds) and the burn rate it fires at."""

    long_s: float
    short_s: float
    threshold: float


@dataclass(frozen=True, slots=True)
class BurnAlertResult:
    """One alert's burn rates over its two windows, and whether both reach the threshold."""

    window: BurnWindow
    long_rate: float
    short_rate: float

    @property
    def rate(self) -> float:
        """The burn rate both windows reach: the smaller of the two."""
        return min(self.long_rate, self.short_rate)

    @property
    def firing(self) -> bool:
        return self.rate >= self.window.threshold


@dataclass(frozen=True, slots=True)
class SloStatusResult:
    """SLI and budget over the period so far, burn rate by window (seconds), alerts.

    ``sli`` is NaN and the budget whole when the period has no event yet.
    ``time_to_exhaustion_s`` is at the burn rate of the last ``current_s`` seconds.
    """

    good: int
    total: int
    sli: float
    budget_remaining: float
    time_to_exhaustion_s: float
    burn_rates: dict[float, float]
    alerts: tuple[BurnAlertResult, ...]


def slo_status(
    counts: MinuteCounts,
    *,
    now: float,
    objective: float,
    period: tuple[float, float],
    windows: Sequence[BurnWindow],
    current_s: float = 3600.0,
) -> SloStatusResult:
    """The state at ``now`` of an SLO over ``counts`` within ``period`` = [start, end).

    Windows end at ``now`` (the minutes that start in ``[now - w, now)``); the period's
    counts are those up to ``now``. The budget is spent over the whole period, so the
    time to exhaustion uses the period's length.
    """
    start, end = period
    good, total = counts.sums(start, min(end, now))
    rates: dict[float, float] = {}
    for w in sorted({current_s, *(x.long_s for x in windows), *(x.short_s for x in windows)}):
        g, t = counts.sums(now - w, now)
        rates[w] = burn_rate(bad=t - g, total=t, objective=objective)
    remaining = budget_remaining(bad=total - good, total=total, objective=objective)
    return SloStatusResult(
        good=good,
        total=total,
        sli=sli(good=good, total=total),
        budget_remaining=remaining,
        time_to_exhaustion_s=time_to_exhaustion(
            remaining=remaining, rate=rates[current_s], period_s=end - start
        ),
        burn_rates=rates,
        alerts=tuple(BurnAlertResult(w, rates[w.long_s], rates[w.short_s]) for w in windows),
    )
