"""The SLO service: minute counts from the store, series written, burn-rate alert timing.

Timing is checked against the SRE workbook (ch. 5, table 5-8): on a 99.9% SLO a 100%
outage pages on the 1h/5m pair within about 2 minutes (the workbook: 0.86 minutes), and
an error rate twice the budgeted one raises only the ticket of 3d/6h at 1×.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.core.profiles.window import WindowProfile
from mlpulse.domain.config_decode import decode_config
from mlpulse.domain.monitoring import Config
from mlpulse.domain.series import MetricPoint, MinuteProfile
from mlpulse.services.alert_engine import AlertEngine
from mlpulse.services.slos import FULL_INDEX_S, SloService
from mlpulse.testing.fakes import InMemorySeriesStore

T0 = 1_800_000_000.0  # a minute boundary


class _Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def _config(**slo: Any) -> Config:
    config, problems = decode_config({"version": 1, "slos": {"s": {"model": "m", **slo}}})
    assert problems == []
    return config


def _minute(
    minute: float, *, rows: int, failed: int = 0, latency: list[float] | None = None
) -> MinuteProfile:
    errors = np.zeros(rows, dtype=bool)
    errors[:failed] = True
    profile = WindowProfile.from_columns({}, {}, latency_ms=latency, errors=errors, rows=rows)
    return MinuteProfile("m", "v1", "", minute, "w", profile.to_bytes())


def _values(series: InMemorySeriesStore, name: str, **match: str) -> dict[str, float]:
    """The newest value by window (or alert), of every version unless ``version`` is given."""
    points = series.query_points(name, matchers=match, start=0.0, end=4e9)
    return {
        p.labels.get("window", p.labels.get("long", "")): p.value
        for p in points
        if "version" in match or "version" not in p.labels
    }


def test_slo_service_counts_availability_from_the_minute_profiles_exactly() -> None:
    series = InMemorySeriesStore()
    rng = np.random.default_rng(7)
    failed = rng.integers(0, 5, size=120)
    rows = [_minute(T0 + 60 * i, rows=100, failed=int(f)) for i, f in enumerate(failed)]
    # A second collector's partial row of the last minute merges with the first's.
    rows.append(_minute(T0 + 60 * 119, rows=50, failed=50))
    series.append_profiles(rows)
    now = T0 + 120 * 60
    config = _config(objective=0.99, sli={"kind": "availability"})
    service = SloService(series, _Clock(now), lambda: config)
    report = service.tick()
    assert report.failures == [] and report.slos == 1
    bad, total = int(failed.sum()) + 50, 120 * 100 + 50
    (state,) = service.states()
    assert (state.status.good, state.status.total) == (total - bad, total)
    assert _values(series, "mlpulse_slo_sli") == {"": pytest.approx(1 - bad / total)}
    budget = _values(series, "mlpulse_slo_error_budget_remaining")[""]
    assert budget == pytest.approx(1 - (bad / total) / 0.01)
    last_hour_bad = int(failed[60:].sum()) + 50
    burn = _values(series, "mlpulse_slo_burn_rate")["1h"]
    assert burn == pytest.approx(last_hour_bad / (60 * 100 + 50) / 0.01)
    five_minutes = int(failed[115:].sum()) + 50
    assert _values(series, "mlpulse_slo_burn_rate")["5m"] == pytest.approx(
        five_minutes / 550 / 0.01
    )


def test_slo_service_reads_a_minute_again_only_when_its_rows_changed() -> None:
    series = InMemorySeriesStore()
    series.append_profiles([_minute(T0 + 60 * i, rows=10) for i in range(10)])
    config = _config(objective=0.9, sli={"kind": "availability"})
    clock = _Clock(T0 + 600)
    service = SloService(series, clock, lambda: config)
    assert service.states()[0].status.good == 100
    series.append_profiles([_minute(T0 + 60 * 3, rows=10, failed=10)])  # a late row
    (state,) = service.states()
    assert (state.status.good, state.status.total) == (100, 110)


def test_slo_service_counts_latency_under_the_threshold_from_the_sketches() -> None:
    series = InMemorySeriesStore()
    rng = np.random.default_rng(11)
    small = [rng.exponential(100.0, size=150) for _ in range(30)]  # exact: under k=200
    large = rng.exponential(100.0, size=20_000)  # one minute past k: estimated
    series.append_profiles([_minute(T0 + 60 * i, rows=len(x), latency=list(x))
                            for i, x in enumerate(small)])  # fmt: skip
    series.append_profiles([_minute(T0 + 60 * 30, rows=len(large), latency=list(large))])
    config = _config(objective=0.9, sli={"kind": "latency", "threshold_ms": 120.0})
    service = SloService(series, _Clock(T0 + 31 * 60), lambda: config)
    counts = service.counts("s", config.slos["s"], start=T0, end=T0 + 31 * 60)
    exact_small = [int((x <= 120.0).sum()) for x in small]
    assert counts.good[:30].tolist() == exact_small
    assert counts.total.tolist() == [150] * 30 + [20_000]
    # The sketch's rank error: 1.33% of the minute's count (99% confidence).
    assert abs(int(counts.good[30]) - int((large <= 120.0).sum())) <= 0.0133 * 20_000


def test_slo_service_counts_minutes_with_a_critical_drift_point_as_bad() -> None:
    series = InMemorySeriesStore()
    labels = {"model": "m", "version": "v1", "monitor": "d", "column": "x", "method": "psi"}
    series.append_points([
        MetricPoint(T0 + 60 * 2 + 5, "mlpulse_drift_score", labels, 2.5),
        MetricPoint(T0 + 60 * 3 + 5, "mlpulse_drift_score", labels, 2.0),  # at 2: not past it
        MetricPoint(T0 + 60 * 7 + 5, "mlpulse_drift_score", labels | {"column": "y"}, 3.0),
    ])  # fmt: skip
    config = _config(objective=0.9, sli={"kind": "drift_free"})
    service = SloService(series, _Clock(T0 + 600), lambda: config)
    counts = service.counts("s", config.slos["s"], start=T0, end=T0 + 600)
    assert counts.total.tolist() == [1] * 10
    assert [i for i, g in enumerate(counts.good.tolist()) if not g] == [2, 7]


def test_slo_service_counts_performance_points_that_meet_the_target() -> None:
    series = InMemorySeriesStore()
    base = {"model": "m", "version": "v1", "monitor": "p", "window": "1h"}
    series.append_points([
        MetricPoint(T0 + 60 * i, "mlpulse_performance", base | {"metric": metric}, value)
        for i, (metric, value) in enumerate([("roc_auc", 0.85), ("roc_auc", 0.75),
                                             ("mae", 0.1), ("roc_auc", 0.8)])
    ])  # fmt: skip
    config = _config(objective=0.9, sli={"kind": "performance", "metric": "roc_auc",
                                         "target": 0.8})  # fmt: skip
    service = SloService(series, _Clock(T0 + 600), lambda: config)
    (state,) = service.states()
    assert (state.status.good, state.status.total) == (2, 3)


def _alerting(tmp_path: Path, config: Config, series: InMemorySeriesStore, clock: _Clock) -> Any:
    store = SQLiteAlertStore(tmp_path / "alerts.sqlite")
    return AlertEngine(series=series, store=store, clock=clock, config=lambda: config)


def test_slo_alert_pages_within_two_minutes_of_a_full_outage_on_a_999_slo(
    tmp_path: Path,
) -> None:
    series = InMemorySeriesStore()
    # Two hours of healthy traffic, 100 predictions a minute.
    series.append_profiles([_minute(T0 + 60 * i, rows=100) for i in range(120)])
    config = _config(objective=0.999, sli={"kind": "availability"})
    clock = _Clock(T0 + 120 * 60)
    service = SloService(series, clock, lambda: config)
    engine = _alerting(tmp_path, config, series, clock)
    outage = T0 + 120 * 60
    paged_at = None
    for minute in range(10):
        # Each minute of the outage every prediction fails; a tick follows its flush.
        series.append_profiles([_minute(outage + 60 * minute, rows=100, failed=100)])
        clock.t = outage + 60 * (minute + 1)
        service.tick()
        engine.tick()
        firing = {a.rule for a in engine.alerts(state="firing")}
        if "s-burn-1h-5m" in firing:
            paged_at = clock.t - outage
            break
    # The workbook: 0.86 minutes to detect; here the first tick after the first bad minute.
    assert paged_at == 60.0
    (alert,) = [a for a in engine.alerts(state="firing") if a.rule == "s-burn-1h-5m"]
    assert alert.severity.value == "critical" and alert.labels["slo_alert"] == "page"


def test_slo_alert_raises_only_a_ticket_when_the_budget_burns_at_twice_the_rate(
    tmp_path: Path,
) -> None:
    series = InMemorySeriesStore()
    # 0.2% of predictions fail for 8 hours: a 2x burn on a 99.9% SLO.
    series.append_profiles([_minute(T0 + 60 * i, rows=1000, failed=2) for i in range(8 * 60)])
    config = _config(objective=0.999, sli={"kind": "availability"})
    clock = _Clock(T0 + 8 * 3600)
    service = SloService(series, clock, lambda: config)
    engine = _alerting(tmp_path, config, series, clock)
    service.tick()
    engine.tick()
    rates = _values(series, "mlpulse_slo_alert_burn_rate")
    assert rates == {k: pytest.approx(2.0) for k in ("1h", "6h", "1d", "3d")}
    firing = {a.rule: a.severity.value for a in engine.alerts(state="firing")}
    assert firing == {"s-burn-3d-6h": "warning"}


def test_slo_alert_resolves_soon_after_the_outage_ends_thanks_to_the_short_window(
    tmp_path: Path,
) -> None:
    series = InMemorySeriesStore()
    series.append_profiles([_minute(T0 + 60 * i, rows=100) for i in range(120)])
    # A 10-minute outage: the 1h window stays above 14.4 for the rest of the hour.
    series.append_profiles([_minute(T0 + 60 * (120 + i), rows=100, failed=100) for i in range(10)])
    config = _config(objective=0.999, sli={"kind": "availability"})
    clock = _Clock(T0 + 130 * 60)
    service = SloService(series, clock, lambda: config)
    engine = _alerting(tmp_path, config, series, clock)
    service.tick()
    engine.tick()
    assert "s-burn-1h-5m" in {a.rule for a in engine.alerts(state="firing")}
    resolved_at = None
    for minute in range(30):
        series.append_profiles([_minute(T0 + 60 * (130 + minute), rows=100)])
        clock.t = T0 + 60 * (131 + minute)
        service.tick()
        engine.tick()
        if "s-burn-1h-5m" not in {a.rule for a in engine.alerts(state="firing")}:
            resolved_at = minute + 1
            break
    # The 5m window is clean 5 minutes after the outage; the rule keeps firing 5 more.
    assert resolved_at == 10
    long_rate = _values(series, "mlpulse_slo_burn_rate")["1h"]
    assert long_rate > 14.4  # the long window alone would still page


def test_slo_service_counts_a_late_row_of_an_old_minute_at_the_next_full_index() -> None:
    series = InMemorySeriesStore()
    series.append_profiles([_minute(T0 + 60 * i, rows=10) for i in range(180)])
    config = _config(objective=0.9, sli={"kind": "availability"})
    clock = _Clock(T0 + 180 * 60)
    service = SloService(series, clock, lambda: config)
    service.tick()
    series.append_profiles([_minute(T0 + 60 * 3, rows=10, failed=10)])  # 3 hours late
    clock.t += 60  # only the last two hours' index is read: not seen yet
    assert service.states()[0].status.total == 1800
    clock.t += FULL_INDEX_S  # the whole period's index again
    (state,) = service.states()
    assert (state.status.good, state.status.total) == (1800, 1810)


def test_slo_service_counts_only_the_slos_version_when_it_names_one() -> None:
    series = InMemorySeriesStore()
    for version, failed in (("v1", 1), ("v2", 5)):
        series.append_profiles([
            msgspec.structs.replace(_minute(T0 + 60 * i, rows=10, failed=failed), version=version)
            for i in range(30)
        ])  # fmt: skip
    config = _config(objective=0.9, version="v2", sli={"kind": "availability"})
    both = _config(objective=0.9, sli={"kind": "availability"})
    clock = _Clock(T0 + 30 * 60)
    (state,) = SloService(series, clock, lambda: config).states()
    assert (state.status.good, state.status.total) == (150, 300)
    (state,) = SloService(series, clock, lambda: both).states()
    assert (state.status.good, state.status.total) == (420, 600)


def test_slo_service_budget_covers_the_utc_month_when_period_is_calendar_month() -> None:
    series = InMemorySeriesStore()
    month = 1_796_083_200.0  # 2026-12-01 00:00 UTC
    # Failures on the last day of November do not count against December's budget.
    series.append_profiles([_minute(month - 600 + 60 * i, rows=10, failed=10) for i in range(10)])
    series.append_profiles([_minute(month + 60 * i, rows=10, failed=i % 2) for i in range(20)])
    config = _config(objective=0.99, period="calendar_month", sli={"kind": "availability"})
    (state,) = SloService(series, _Clock(month + 20 * 60), lambda: config).states()
    assert (state.status.good, state.status.total) == (190, 200)
    assert state.status.budget_remaining == pytest.approx(1 - (10 / 200) / 0.01)
    # The 1h window reaches into November: its burn counts those failures.
    assert state.status.burn_rates[3600.0] == pytest.approx((110 / 300) / 0.01)
    # Time to exhaustion: the budget is already overspent.
    assert state.status.time_to_exhaustion_s == 0.0


def test_slo_service_windows_hold_whole_minutes_when_a_tick_falls_mid_minute() -> None:
    series = InMemorySeriesStore()
    series.append_profiles([_minute(T0 + 60 * i, rows=10, failed=i) for i in range(10)])
    config = _config(objective=0.9, sli={"kind": "availability"})
    # 30 s into minute 10 (not yet flushed): the 5m window is minutes 5 to 9.
    (state,) = SloService(series, _Clock(T0 + 630), lambda: config).states()
    assert state.status.burn_rates[300.0] == pytest.approx((35 / 50) / 0.1)
    assert (state.status.good, state.status.total) == (55, 100)


def test_slo_service_writes_each_versions_budget_beside_the_slos() -> None:
    series = InMemorySeriesStore()
    for version, failed in (("v1", 0), ("v2", 4)):
        series.append_profiles([
            msgspec.structs.replace(_minute(T0 + 60 * i, rows=100, failed=failed), version=version)
            for i in range(60)
        ])  # fmt: skip
    config = _config(objective=0.99, sli={"kind": "availability"})
    service = SloService(series, _Clock(T0 + 3600), lambda: config)
    service.tick()
    (state,) = service.states()
    assert sorted(state.by_version) == ["v1", "v2"]
    v1, v2 = state.by_version["v1"], state.by_version["v2"]
    assert (v1.good, v1.total, v2.good, v2.total) == (6000, 6000, 5760, 6000)
    assert (state.status.good, state.status.total) == (11760, 12000)
    budget = "mlpulse_slo_error_budget_remaining"
    assert _values(series, budget) == {"": pytest.approx(1 - 0.02 / 0.01)}
    assert _values(series, budget, version="v1") == {"": 1.0}
    assert _values(series, budget, version="v2") == {"": pytest.approx(1 - 0.04 / 0.01)}
    assert _values(series, "mlpulse_slo_burn_rate", version="v2")["1h"] == pytest.approx(4.0)
    # The alerts stay the SLO's: no version label on their series.
    alerts = series.query_points("mlpulse_slo_alert_burn_rate", matchers={}, start=0, end=4e9)
    assert alerts and all("version" not in p.labels for p in alerts)
    # An SLO of one version has no breakdown.
    one = _config(objective=0.99, version="v2", sli={"kind": "availability"})
    assert SloService(series, _Clock(T0 + 3600), lambda: one).states()[0].by_version == {}
