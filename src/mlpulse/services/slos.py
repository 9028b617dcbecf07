"""SLOs over the collector's own data: minute counts → SLI, budget, burn rates → series.

Each tick, every SLO of the applied ``mlpulse.yaml`` gets its per-minute good and total
counts over its period (:class:`~mlpulse.core.slo.MinuteCounts`) and writes, labelled
``model`` and ``slo``:

``mlpulse_slo_sli``
    Share of good events over the SLO's period so far.
``mlpulse_slo_error_budget_remaining``
    Share of the period's error budget left: 1 untouched, 0 spent, below 0 overspent.
``mlpulse_slo_burn_rate``
    Burn rate over the last ``window`` (label): 1 spends the budget in exactly one period.
``mlpulse_slo_alert_burn_rate``
    Per burn-rate alert (labels ``long``, ``short``): the smaller of the burn rates over
    its two windows, what its derived rule (:mod:`mlpulse.domain.slo_rules`) compares.

An SLO of every version (no ``version``) also writes the first three per version, with
a ``version`` label: which version spends the budget. Its alerts stay the SLO's.

Where the counts come from, by SLI kind:

* ``availability`` — the minute profiles: requests, and requests without error;
* ``latency`` — the minute latency sketches: predictions with a latency, and those at
  most ``threshold_ms`` (the sketch's CDF at the threshold; exact for a minute of up to
  200 latencies, else within the KLL rank error, 1.33% of the minute's count at k=200);
* ``drift_free`` — one event per minute, bad when a drift point of the model in that
  minute is critical (severity past 2, as the drift check grades it);
* ``performance`` — each ``mlpulse_performance`` point of the metric, good when it meets
  the target.

Minute profiles are read once, and only their request and error counts and latency
sketch (:meth:`~mlpulse.core.profiles.window.WindowProfile.traffic_from_bytes`): the
counts of a minute are kept with its fingerprint
(:meth:`~mlpulse.ports.SeriesStore.profile_index`) and read again only when its rows
changed. A tick reads the index of the last two hours, and of the whole period every ten
minutes, so a late row of an older minute counts within ten minutes.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mlpulse.core.profiles.numeric import NumericProfile
from mlpulse.core.profiles.window import WindowProfile
from mlpulse.core.slo import MINUTE, BurnWindow, MinuteCounts, SloStatusResult, slo_status
from mlpulse.domain.monitoring import LOWER_IS_BETTER, Config
from mlpulse.domain.series import MetricPoint, MinuteProfile
from mlpulse.domain.slos import SloConfig, period_bounds
from mlpulse.domain.window import parse_duration
from mlpulse.ports import Clock, SeriesStore

__all__ = ["SloReport", "SloService", "SloState"]

log = logging.getLogger("mlpulse.slos")

SLI_SERIES = "mlpulse_slo_sli"
BUDGET_SERIES = "mlpulse_slo_error_budget_remaining"
BURN_SERIES = "mlpulse_slo_burn_rate"
ALERT_SERIES = "mlpulse_slo_alert_burn_rate"
DRIFT_SERIES = ("mlpulse_drift_score", "mlpulse_prediction_drift")
PERFORMANCE_SERIES = "mlpulse_performance"
CRITICAL_SEVERITY = 2.0  # mlpulse.core.drift.severity: critical strictly past 2
# The burn rate the time to exhaustion assumes: the last hour's.
CURRENT_WINDOW_S = 3600.0
READ_CHUNK_S = 86400.0
# Each tick reads the profile index of the last RECENT_INDEX_S; every FULL_INDEX_S, the
# whole period's (a minute's rows may change later: a late partial row).
RECENT_INDEX_S = 2 * 3600.0
FULL_INDEX_S = 600.0


@dataclass(frozen=True, slots=True)
class SloState:
    """One SLO at one time: its config and its state (the API's view)."""

    name: str
    slo: SloConfig
    status: SloStatusResult
    windows: dict[float, str]  # seconds → the window as written (``1h``)
    # Each version's own SLI, budget and burn rates, for an SLO of every version
    # (availability, latency and performance SLIs; empty for drift_free).
    by_version: dict[str, SloStatusResult] = field(default_factory=dict)


@dataclass(slots=True)
class SloReport:
    """What one tick did: SLOs evaluated, points written, failures."""

    slos: int = 0
    points: int = 0
    failures: list[str] = field(default_factory=list)


# minute → version ("" where the source has none) → (good, total)
_ByMinute = dict[float, dict[str, tuple[int, int]]]


@dataclass(slots=True)
class _Cached:
    fingerprint: tuple[int, int]
    counts: dict[str, tuple[int, int]]  # version → (good, total)


@dataclass(slots=True)
class _MinuteCache:
    """One SLO's counted minutes, for the definition they were counted with."""

    slo: SloConfig
    minutes: dict[float, _Cached] = field(default_factory=dict)
    full_index_at: float = -math.inf


def _minute(ts: float) -> float:
    return math.floor(ts / MINUTE) * MINUTE


def _window_text(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"  # pragma: no cover - windows are whole minutes


class SloService:
    """Evaluates the SLOs of ``config()`` (the applied ``mlpulse.yaml``) from ``series``."""

    def __init__(
        self, series: SeriesStore, clock: Clock, config: Callable[[], Config | None]
    ) -> None:
        self._series = series
        self._clock = clock
        self._config = config
        # SLO name → its definition when cached, and minute → counts with fingerprint.
        self._minutes: dict[str, _MinuteCache] = {}
        self._lock = threading.Lock()

    # -- the tick --------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> SloReport:
        """Evaluate every SLO at ``now`` and write its series (one write per tick)."""
        now = self._clock.now() if now is None else now
        report = SloReport()
        points: list[MetricPoint] = []
        for state in self._states(now, report):
            points += _points(state, now)
        if points:
            self._series.append_points(points)
        report.points = len(points)
        return report

    def states(self, now: float | None = None) -> list[SloState]:
        """Every SLO's state at ``now``, by name (for ``GET /v1/slos``)."""
        return self._states(self._clock.now() if now is None else now, SloReport())

    def _states(self, now: float, report: SloReport) -> list[SloState]:
        with self._lock:  # the background tick and API requests share the minute caches
            return self._states_locked(now, report)

    def _states_locked(self, now: float, report: SloReport) -> list[SloState]:
        config = self._config()
        slos = config.slos if config is not None else {}
        for gone in self._minutes.keys() - slos.keys():
            del self._minutes[gone]
        found = []
        for name, slo in sorted(slos.items()):
            try:
                found.append(self.state(name, slo, now))
            except Exception as exc:  # a loop boundary: one SLO must not stop the rest
                log.exception("SLO %s failed", name)
                report.failures.append(f"{name}: {exc}")
        report.slos = len(found)
        return found

    def state(self, name: str, slo: SloConfig, now: float) -> SloState:
        """The state of SLO ``name`` at ``now``."""
        alerts = slo.burn_alerts
        windows = [
            BurnWindow(parse_duration(a.long), parse_duration(a.short), a.burn_rate) for a in alerts
        ]
        # Whole minutes only: windows end where the minute under way starts (its
        # profile is not complete), so a 5m window always holds five minutes.
        now = _minute(now)
        start, end = period_bounds(slo.period, now)
        # The alerts' long windows may reach before the period (a 3-day window on the
        # 1st of a calendar month): counts cover both.
        reach = max([w.long_s for w in windows] + [CURRENT_WINDOW_S])
        first = _minute(min(start, now - reach))
        by_minute = self._by_minute(name, slo, first, now)

        def status_of(version: str | None) -> SloStatusResult:
            return slo_status(
                _counts(by_minute, first, now, version),
                now=now,
                objective=slo.objective,
                period=(start, end),
                windows=windows,
                current_s=CURRENT_WINDOW_S,
            )

        versions = sorted({v for per in by_minute.values() for v in per} - {""})
        by_version = {v: status_of(v) for v in versions} if slo.version is None else {}
        texts = {parse_duration(a.long): a.long for a in alerts}
        texts.update({parse_duration(a.short): a.short for a in alerts})
        texts.setdefault(CURRENT_WINDOW_S, "1h")
        return SloState(name, slo, status_of(None), texts, by_version)

    # -- minute counts ---------------------------------------------------------------------

    def counts(
        self, name: str, slo: SloConfig, *, start: float, end: float, version: str | None = None
    ) -> MinuteCounts:
        """Good and total events per minute of SLO ``name`` for the minutes in [start, end),
        of every version or of ``version`` only."""
        first, stop = _minute(start), _minute(end)
        return _counts(self._by_minute(name, slo, first, stop), first, stop, version)

    def _by_minute(self, name: str, slo: SloConfig, start: float, end: float) -> _ByMinute:
        if slo.sli.kind in ("availability", "latency"):
            return self._profile_counts(name, slo, start, end)
        if slo.sli.kind == "drift_free":
            return self._drift_counts(slo, start, end)
        return self._performance_counts(slo, start, end)

    def _profile_counts(self, name: str, slo: SloConfig, start: float, end: float) -> _ByMinute:
        kept = self._minutes.get(name)
        if kept is None or kept.slo != slo:  # new, or its definition changed: count again
            kept = self._minutes[name] = _MinuteCache(slo)
        cache = kept.minutes
        # The whole period's index now and then (a late row of an old minute, another
        # collector's flush); in between only the recent minutes', where rows arrive.
        if end - kept.full_index_at >= FULL_INDEX_S:
            kept.full_index_at, since = end, start
        else:
            since = max(start, end - RECENT_INDEX_S)
        index = self._series.profile_index(slo.model, start=since, end=end, version=slo.version)
        stale = [m for m, rows, stamp in index if _fp(cache.get(m)) != (rows, stamp)]
        fingerprints = {m: (rows, stamp) for m, rows, stamp in index}
        # Read a day at a time, so the first tick of a 30-day SLO holds one day's profiles.
        days: dict[float, list[float]] = {}
        for minute in stale:
            days.setdefault(math.floor(minute / READ_CHUNK_S), []).append(minute)
        for minutes in days.values():
            grouped: dict[float, list[MinuteProfile]] = {}
            for row in self._series.read_profiles(
                slo.model, start=min(minutes), end=max(minutes) + MINUTE, version=slo.version
            ):
                grouped.setdefault(row.minute, []).append(row)
            for minute in minutes:
                versions: dict[str, list[MinuteProfile]] = {}
                for row in grouped.get(minute, []):
                    versions.setdefault(row.version, []).append(row)
                counts = {v: _good_total(slo, rows) for v, rows in versions.items()}
                cache[minute] = _Cached(fingerprints[minute], counts)
        for minute in [m for m in cache if m < start]:
            del cache[minute]
        return {m: c.counts for m, c in cache.items() if start <= m < end}

    def _drift_counts(self, slo: SloConfig, start: float, end: float) -> _ByMinute:
        matchers = {"model": slo.model} | ({"version": slo.version} if slo.version else {})
        bad = {
            _minute(p.ts)
            for series in DRIFT_SERIES
            for p in self._series.query_points(series, matchers=matchers, start=start, end=end)
            if p.ts < end and p.value > CRITICAL_SEVERITY
        }
        minutes = np.arange(start, end, MINUTE)
        return {float(m): {"": (0 if m in bad else 1, 1)} for m in minutes}

    def _performance_counts(self, slo: SloConfig, start: float, end: float) -> _ByMinute:
        metric, target = slo.sli.metric or "", slo.sli.target
        matchers = {"model": slo.model, "metric": metric}
        if slo.version:
            matchers["version"] = slo.version
        lower = metric in LOWER_IS_BETTER
        found: _ByMinute = {}
        points = self._series.query_points(
            PERFORMANCE_SERIES, matchers=matchers, start=start, end=end
        )
        for p in points:
            if p.ts >= end or target is None or math.isnan(p.value):
                continue
            good = p.value <= target if lower else p.value >= target
            per = found.setdefault(_minute(p.ts), {})
            version = p.labels.get("version", "")
            g, t = per.get(version, (0, 0))
            per[version] = (g + int(good), t + 1)
        return found


def _counts(by_minute: _ByMinute, first: float, stop: float, version: str | None) -> MinuteCounts:
    """The minutes in [first, stop) as arrays, of every version or of ``version``."""
    size = max(0, round((stop - first) / MINUTE))
    good = np.zeros(size, dtype=np.int64)
    total = np.zeros(size, dtype=np.int64)
    rows = [
        (minute, g, t)
        for minute, per in by_minute.items()
        for v, (g, t) in per.items()
        if version is None or v == version
    ]
    if rows:
        values = np.array(rows, dtype=np.float64)
        at = np.rint((values[:, 0] - first) / MINUTE).astype(np.int64)
        inside = (at >= 0) & (at < size)
        np.add.at(good, at[inside], values[inside, 1].astype(np.int64))
        np.add.at(total, at[inside], values[inside, 2].astype(np.int64))
    return MinuteCounts.from_arrays(first, good=good, total=total)


def _fp(cached: _Cached | None) -> tuple[int, int] | None:
    return None if cached is None else cached.fingerprint


def _good_total(slo: SloConfig, rows: Sequence[MinuteProfile]) -> tuple[int, int]:
    """(good, total) predictions of one minute's partial profiles (their columns unread)."""
    traffic = [WindowProfile.traffic_from_bytes(row.profile) for row in rows]
    if slo.sli.kind == "availability":
        requests = sum(t[0] for t in traffic)
        return requests - sum(t[1] for t in traffic), requests
    if not traffic or slo.sli.threshold_ms is None:
        return 0, 0
    latency = NumericProfile.merge_all([t[2] for t in traffic])
    total = latency.finite_count
    if total == 0:
        return 0, 0
    share = float(latency.cdf([slo.sli.threshold_ms])[0])
    return min(total, round(share * total)), total


def _points(state: SloState, now: float) -> Sequence[MetricPoint]:
    labels = {"model": state.slo.model, "slo": state.name}
    status = state.status
    points = [MetricPoint(now, BUDGET_SERIES, labels, status.budget_remaining)]
    if not math.isnan(status.sli):
        points.append(MetricPoint(now, SLI_SERIES, labels, status.sli))
    for seconds, rate in status.burn_rates.items():
        window = state.windows.get(seconds, _window_text(seconds))
        points.append(MetricPoint(now, BURN_SERIES, labels | {"window": window}, rate))
    for alert, config in zip(status.alerts, state.slo.burn_alerts, strict=True):
        alert_labels = labels | {"long": config.long, "short": config.short}
        points.append(MetricPoint(now, ALERT_SERIES, alert_labels, alert.rate))
    # Each version's SLI, budget and burn rates (its alerts are the SLO's: one page for
    # a bad version, not two).
    for version, own in state.by_version.items():
        tagged = labels | {"version": version}
        points.append(MetricPoint(now, BUDGET_SERIES, tagged, own.budget_remaining))
        if not math.isnan(own.sli):
            points.append(MetricPoint(now, SLI_SERIES, tagged, own.sli))
        for seconds, rate in own.burn_rates.items():
            window = state.windows.get(seconds, _window_text(seconds))
            points.append(MetricPoint(now, BURN_SERIES, tagged | {"window": window}, rate))
    return points
