"""SLIs, error budgets and burn rates from per-minute counts of good and total events.

An SLO's events are counted per minute (:class:`MinuteCounts`); every window is then a
sum of whole minutes, so the SLI, the budget and the burn rate over any window are exact
ratios of counts (Google SRE workbook, 2018, ch. 2 and 5):

* SLI over a window: ``good / total``;
* error budget remaining over the period: ``1 - (bad / total) / (1 - objective)``
  (1 when nothing failed, 0 when the period's errors equal its budget, below 0 past it);
* burn rate over a window: ``(bad / total) / (1 - objective)``: 1 spends the budget in
  exactly one period, 14.4 spends 2% of a 30-day budget in one hour;
* time to exhaustion at a burn rate ``b``: ``remaining × period / b``.

>>> counts = MinuteCounts.from_arrays(0.0, good=[60, 60, 0, 60], total=[60, 60, 60, 60])
>>> counts.sums(0.0, 240.0)
(180, 240)
>>> burn_rate(bad=60, total=240, objective=0.999)
250.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlpulse.errors import parameter_error

__all__ = [
    "MINUTE",
    "MinuteCounts",
    "budget_remaining",
    "burn_rate",
    "error_budget",
    "sli",
    "time_to_exhaustion",
]

MINUTE = 60.0

_Ints = npt.NDArray[np.int64]


def error_budget(objective: float, *, where: str = "error_budget") -> float:
    """The share of events allowed to be bad, ``1 - objective``, as written in decimal.

    ``1 - 0.999`` is 0.0010000000000000009 in binary floating point, which would put a
    burn of exactly 1× just below 1; objectives are written in decimal, so the budget is
    rounded to 15 significant digits (far below any count's resolution).

    >>> error_budget(0.999), error_budget(0.95)
    (0.001, 0.05)
    """
    if not 0.0 < objective < 1.0:
        raise parameter_error("objective", where, "a float in (0, 1)", objective)
    return float(f"{1.0 - objective:.15g}")


def sli(*, good: int, total: int) -> float:
    """The share of good events; NaN when there is none.

    >>> sli(good=999, total=1000), sli(good=0, total=0)
    (0.999, nan)
    """
    return good / total if total else math.nan


def burn_rate(*, bad: int, total: int, objective: float) -> float:
    """How fast the budget burns: the error rate over the budgeted one (0 without events).

    >>> burn_rate(bad=1, total=1000, objective=0.999)
    1.0
    """
    budget = error_budget(objective, where="burn_rate")
    return bad / total / budget if total else 0.0


def budget_remaining(*, bad: int, total: int, objective: float) -> float:
    """The share of the period's error budget left: ``1 - burn rate over the period``.

    >>> budget_remaining(bad=1, total=2000, objective=0.999)
    0.5
    """
    return 1.0 - burn_rate(bad=bad, total=total, objective=objective)


def time_to_exhaustion(*, remaining: float, rate: float, period_s: float) -> float:
    """Seconds until the budget is spent at burn ``rate`` (inf when not burning).

    A burn rate of 1 spends a whole budget in one period, so ``remaining`` of it lasts
    ``remaining × period / rate``; a spent budget (``remaining <= 0``) gives 0.

    >>> time_to_exhaustion(remaining=0.5, rate=2.0, period_s=30 * 86400.0) / 86400
    7.5
    """
    if remaining <= 0.0:
        return 0.0
    if rate <= 0.0:
        return math.inf
    return remaining * period_s / rate


@dataclass(frozen=True, slots=True)
class MinuteCounts:
    """Good and total events per minute from ``start`` (an epoch second on a minute).

    Minute ``i`` covers ``[start + 60 i, start + 60 (i + 1))``. Counts of the same minute
    add when two are merged (two collectors, two versions).
    """

    start: float
    good: _Ints
    total: _Ints

    @classmethod
    def from_arrays(
        cls, start: float, *, good: Sequence[int] | _Ints, total: Sequence[int] | _Ints
    ) -> MinuteCounts:
        g = np.asarray(good, dtype=np.int64)
        t = np.asarray(total, dtype=np.int64)
        if start % MINUTE:
            raise parameter_error("start", "MinuteCounts", "a multiple of 60", start)
        if g.shape != t.shape or g.ndim != 1:
            raise parameter_error(
                "good", "MinuteCounts", f"of the shape of total {t.shape}", g.shape
            )
        if np.any(g < 0) or np.any(g > t):
            raise parameter_error("good", "MinuteCounts", "counts in [0, total]", g.tolist())
        return cls(float(start), g, t)

    @classmethod
    def empty(cls, start: float = 0.0) -> MinuteCounts:
        return cls.from_arrays(start, good=[], total=[])

    @property
    def end(self) -> float:
        return self.start + MINUTE * len(self.total)

    def sums(self, start: float, end: float) -> tuple[int, int]:
        """(good, total) of the minutes that start in [start, end)."""
        first = max(0, math.ceil((start - self.start) / MINUTE))
        last = min(len(self.total), max(0, math.ceil((end - self.start) / MINUTE)))
        if last <= first:
            return 0, 0
        return int(self.good[first:last].sum()), int(self.total[first:last].sum())

    def merge(self, other: MinuteCounts) -> MinuteCounts:
        """The counts of both, minute by minute, over the span of both."""
        if not len(other.total):
            return self
        if not len(self.total):
            return other
        start = min(self.start, other.start)
        size = round((max(self.end, other.end) - start) / MINUTE)
        good = np.zeros(size, dtype=np.int64)
        total = np.zeros(size, dtype=np.int64)
        for part in (self, other):
            at = round((part.start - start) / MINUTE)
            good[at : at + len(part.total)] += part.good
            total[at : at + len(part.total)] += part.total
        return MinuteCounts(start, good, total)

    def __add__(self, other: MinuteCounts) -> MinuteCounts:
        return self.merge(other)
