"""The SLO page and the overview's budget badges, from the SLO service's states (what
``GET /v1/slos`` serves) and its ``mlpulse_slo_burn_rate`` series."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mlpulse.domain.slos import SloConfig
from mlpulse.ports import SeriesStore
from mlpulse.server.dashboard.chart_data import line_chart
from mlpulse.server.dashboard.metric_series import bucketed_lines
from mlpulse.server.dashboard.time_range import TimeRange
from mlpulse.services.slos import BURN_SERIES, SloState

# Budget left at or above this is ok; above 0, a warning; spent (0 or less), critical.
BUDGET_OK: Final = 0.25


@dataclass(frozen=True, slots=True)
class SloAlertRow:
    """One burn-rate alert of an SLO: its windows, threshold, rate now and whether firing."""

    long: str
    short: str
    burn_rate: float
    severity: str
    rate: float
    firing: bool


@dataclass(frozen=True, slots=True)
class SloCard:
    """One SLO on the SLO page. ``sli`` is None before its period has an event;
    ``time_to_exhaustion_s`` is None while the budget is not burning."""

    name: str
    model: str
    version: str | None
    objective: float
    period: str
    sli_kind: str
    good: int
    total: int
    sli: float | None
    budget_remaining: float
    status: str
    time_to_exhaustion_s: float | None
    burn_rate_1h: float | None
    alerts: tuple[SloAlertRow, ...]

    @property
    def firing(self) -> int:
        return sum(a.firing for a in self.alerts)

    @property
    def bar_percent(self) -> float:
        """The budget bar's width: the budget left, clipped to [0, 100]%."""
        return round(100 * min(1.0, max(0.0, self.budget_remaining)), 1)


@dataclass(frozen=True, slots=True)
class BudgetBadge:
    """A model's lowest budget remaining, of which SLO, and its colour."""

    slo: str
    budget_remaining: float
    status: str


def budget_status(budget_remaining: float) -> str:
    """The colour of a budget left.

    >>> budget_status(0.8), budget_status(0.1), budget_status(0.0), budget_status(-0.5)
    ('ok', 'warning', 'critical', 'critical')
    """
    if budget_remaining >= BUDGET_OK:
        return "ok"
    return "warning" if budget_remaining > 0 else "critical"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def slo_card(state: SloState) -> SloCard:
    status = state.status
    one_hour = next((r for s, r in status.burn_rates.items() if state.windows[s] == "1h"), None)
    return SloCard(
        name=state.name,
        model=state.slo.model,
        version=state.slo.version,
        objective=state.slo.objective,
        period=state.slo.period,
        sli_kind=state.slo.sli.kind,
        good=status.good,
        total=status.total,
        sli=_finite(status.sli),
        budget_remaining=status.budget_remaining,
        status=budget_status(status.budget_remaining),
        time_to_exhaustion_s=_finite(status.time_to_exhaustion_s),
        burn_rate_1h=one_hour,
        alerts=tuple(
            SloAlertRow(a.long, a.short, a.burn_rate, a.severity, r.rate, r.firing)
            for a, r in zip(state.slo.burn_alerts, status.alerts, strict=True)
        ),
    )


def budget_badges(states: Sequence[SloState]) -> dict[str, BudgetBadge]:
    """Per model, the SLO with the lowest budget remaining (ties: the first by name)."""
    badges: dict[str, BudgetBadge] = {}
    for state in sorted(states, key=lambda s: s.name):
        left = state.status.budget_remaining
        known = badges.get(state.slo.model)
        if known is None or left < known.budget_remaining:
            badges[state.slo.model] = BudgetBadge(state.name, left, budget_status(left))
    return badges


def burn_chart(series: SeriesStore, name: str, slo: SloConfig, window: TimeRange) -> dict[str, Any]:
    """The SLO's burn rate per window (``mlpulse_slo_burn_rate``, the SLO's own lines,
    not its versions') over ``window``, the max of each bucket: a short spike shows.
    Lines of windows that are no alert's long window start hidden (in the legend)."""

    def line_of(labels: Mapping[str, str]) -> str | None:
        if labels.get("slo") != name or labels.get("version"):
            return None
        return labels.get("window") or None

    lines = bucketed_lines(series, BURN_SERIES, slo.model, window, line_of=line_of, aggregate="max")
    longs = {a.long for a in slo.burn_alerts}
    return line_chart(lines, unit="burn rate", hidden=[w for w in lines if w not in longs])
