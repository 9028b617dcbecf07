"""The alert engine on the in-memory series store, a real SQLite alert store, a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.domain.alerts import AlertState, OutboxEntry
from mlpulse.domain.monitoring import Config, MonitorConfig
from mlpulse.domain.rules import InhibitRule, ReceiverConfig, RouteConfig, RuleConfig
from mlpulse.domain.series import MetricPoint
from mlpulse.services.alert_engine import AlertEngine
from mlpulse.testing.fakes import InMemorySeriesStore

T0 = 1_767_225_600.0


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


def _config(rules: dict[str, RuleConfig], **route: object) -> Config:
    return Config(
        version=1,
        rules=rules,
        receivers={"team": ReceiverConfig(kind="webhook", settings={"url": "http://x"}),
                   "pager": ReceiverConfig(kind="webhook", settings={"url": "http://y"})},
        route=RouteConfig(receiver="team", group_wait="30s", group_interval="5m",
                          repeat_interval="4h", **route),  # type: ignore[arg-type]
    )  # fmt: skip


DRIFT = RuleConfig(
    kind="threshold", series="mlpulse_drift_score", op=">", value=0.25, resolve_value=0.2,
    for_="2m", keep_firing_for="5m", severity="warning",
    annotations={"summary": "{{ $labels.model }}/{{ $labels.column }} drifted: {{ $value }}"},
)  # fmt: skip


@dataclass
class World:
    config: Config
    clock: Clock
    series: InMemorySeriesStore
    store: SQLiteAlertStore
    engine: AlertEngine
    path: Path

    def point(self, value: float, **labels: str) -> None:
        self.series.append_points(
            [MetricPoint(self.clock.t, "mlpulse_drift_score", {"model": "fraud", **labels}, value)]
        )

    def run(self, minutes: float, step: float = 30.0) -> None:
        end = self.clock.t + minutes * 60
        while self.clock.t < end:
            self.clock.t += step
            self.engine.tick()

    def restart(self) -> None:
        self.store.close()
        self.store = SQLiteAlertStore(self.path)
        self.engine = AlertEngine(
            series=self.series, store=self.store, clock=self.clock, config=lambda: self.config
        )

    def sent(self) -> list:  # type: ignore[type-arg]
        return sorted(self.store.outbox(), key=lambda e: e.created_at)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock, series = Clock(), InMemorySeriesStore()
    store = SQLiteAlertStore(tmp_path / "alerts.sqlite")
    config = _config({"drift": DRIFT})
    engine = AlertEngine(series=series, store=store, clock=clock, config=lambda: w.config)
    w = World(config, clock, series, store, engine, tmp_path / "alerts.sqlite")
    yield w
    w.store.close()


def test_threshold_rule_goes_pending_then_firing_then_resolved_with_notifications(
    world: World,
) -> None:
    world.point(0.4, column="amount")
    world.engine.tick()
    (alert,) = world.engine.alerts()
    assert alert.state == AlertState.PENDING and alert.labels["alertname"] == "drift"
    world.run(2)  # `for: 2m`
    (alert,) = world.engine.alerts()
    assert alert.state == AlertState.FIRING
    assert alert.annotations["summary"] == "fraud/amount drifted: 0.4"
    world.run(1)  # group_wait 30 s
    (firing,) = world.sent()
    assert firing.notification.status == "firing" and firing.notification.receiver == "team"
    world.point(0.1, column="amount")
    world.run(4)
    assert world.engine.alerts()[0].state == AlertState.FIRING  # keep_firing_for: 5 m
    world.run(7)
    assert world.engine.alerts()[0].state == AlertState.RESOLVED
    statuses = [e.notification.status for e in world.sent()]
    assert statuses[-1] == "resolved"
    assert {e.notification.dedup_key for e in world.sent()} == {firing.notification.dedup_key}


def test_flapping_series_makes_one_alert_and_one_firing_notification(world: World) -> None:
    for i in range(120):  # an hour, crossing the threshold every 30 s
        world.point(0.3 if i % 2 else 0.22, column="amount")
        world.clock.t += 30
        world.engine.tick()
    alerts = world.engine.alerts()
    assert len(alerts) == 1 and alerts[0].state == AlertState.FIRING
    assert [e.notification.status for e in world.sent()] == ["firing"]


def test_fifty_drifting_features_make_one_notification_per_group_interval(world: World) -> None:
    world.config = _config({"drift": RuleConfig(kind="threshold", series="mlpulse_drift_score",
                                                op=">", value=0.25)})  # fmt: skip
    for _minute in range(30):
        for j in range(50):
            world.point(0.5, column=f"f{j}")
        world.clock.t += 60
        world.engine.tick()
    sent = world.sent()
    assert len(sent) == 1  # unchanged group: no more until repeat_interval
    assert len(sent[0].notification.alerts) == 50
    world.point(0.5, column="f50")  # a new feature joins: one more, after group_interval
    world.run(10, step=60)
    assert len(world.sent()) == 2


def test_silence_mutes_and_inhibition_mutes_warnings_of_a_model_with_a_critical(
    world: World,
) -> None:
    critical = RuleConfig(kind="threshold", series="mlpulse_drift_score", op=">", value=0.9,
                          severity="critical")  # fmt: skip
    world.config = Config(
        version=1, rules={"drift": DRIFT, "drift-critical": critical},
        receivers=world.config.receivers, route=world.config.route,
        inhibit_rules=[InhibitRule(source_match={"severity": "critical"},
                                   target_match={"severity": "warning"}, equal=["model"])],
    )  # fmt: skip
    world.point(0.95, column="amount")
    world.run(5)
    names = [a.labels["alertname"] for e in world.sent() for a in e.notification.alerts]
    assert names == ["drift-critical"]  # the warning on the same model is inhibited
    world.engine.silence({"model": "other"}, starts_at=None, ends_at=world.clock.t + 3600,
                         created_by="ana", comment="maintenance")  # fmt: skip
    world.series.append_points(
        [MetricPoint(world.clock.t, "mlpulse_drift_score", {"model": "other"}, 0.95)]
    )
    world.run(10)
    models = {a.labels["model"] for e in world.sent() for a in e.notification.alerts}
    assert models == {"fraud"}


def test_restart_neither_loses_nor_repeats_alerts(world: World) -> None:
    world.point(0.4, column="amount")
    world.run(4)
    assert len(world.sent()) == 1
    world.restart()
    world.run(10)
    assert len(world.sent()) == 1  # the same firing group: not sent again
    (alert,) = world.engine.alerts()
    assert alert.state == AlertState.FIRING
    world.point(0.05, column="amount")
    world.restart()
    world.run(10)
    assert [e.notification.status for e in world.sent()] == ["firing", "resolved"]


def test_acknowledge_and_manual_resolve(world: World) -> None:
    world.point(0.4, column="amount")
    world.run(3)
    (alert,) = world.engine.alerts()
    acked = world.engine.acknowledge(alert.fingerprint, by="ana")
    assert acked.acknowledged_by == "ana"
    resolved = world.engine.resolve(alert.fingerprint, by="ana")
    assert resolved.state == AlertState.RESOLVED


def _is_page(entry: OutboxEntry) -> bool:
    return entry.id.startswith("page-") and entry.notification.status == "firing"


def test_escalation_pages_on_call_then_secondary_then_channel_until_acknowledged(
    world: World,
) -> None:
    from mlpulse.domain.rules import UserConfig

    hook = ReceiverConfig(kind="webhook", settings={"url": "http://x"})
    world.config = Config(
        version=1,
        rules={"drift": RuleConfig(kind="threshold", series="mlpulse_drift_score", op=">",
                                   value=0.25, severity="critical")},
        receivers={"team": hook, "ana-pager": hook, "bo-pager": hook, "ml-channel": hook},
        users={"ana": UserConfig(receiver="ana-pager"), "bo": UserConfig(receiver="bo-pager")},
        schedules={
            "primary": {"time_zone": "UTC", "layers": [
                {"users": ["ana"], "rotation": "weekly", "start": "2025-12-29"}]},
            "secondary": {"time_zone": "UTC", "layers": [
                {"users": ["bo"], "rotation": "weekly", "start": "2025-12-29"}]},
        },
        escalation_policies={"critical": {"steps": [
            {"delay_minutes": 0, "targets": ["schedule:primary"]},
            {"delay_minutes": 10, "targets": ["schedule:secondary"]},
            {"delay_minutes": 10, "targets": ["channel:ml-channel"]}]}},
        route=RouteConfig(receiver="team", group_wait="30s", escalation_policy="critical"),
    )  # fmt: skip
    from mlpulse.domain.config_validation import validate

    assert validate(world.config) == []
    world.point(0.9, column="amount")
    world.run(1)
    pages = [e.notification.receiver for e in world.sent() if _is_page(e)]
    assert pages == ["ana-pager"]
    world.run(10)
    pages = [e.notification.receiver for e in world.sent() if _is_page(e)]
    assert pages == ["ana-pager", "bo-pager"]
    (alert,) = world.engine.alerts()
    world.engine.acknowledge(alert.fingerprint, by="bo")
    world.run(20)
    pages = [e.notification.receiver for e in world.sent() if _is_page(e)]
    assert pages == ["ana-pager", "bo-pager"]  # the channel is not paged after the ack
    world.restart()
    world.run(5)
    assert len([e for e in world.sent() if _is_page(e)]) == 2  # no repeats


def test_anomaly_rule_fires_on_a_spike_in_a_seasonal_series_and_not_before(world: World) -> None:
    import math

    world.config = _config({"kpi": RuleConfig(kind="anomaly", series="mlpulse_drift_score",
                                              severity="warning")})  # fmt: skip
    fired_at = []
    for step in range(12 * 24 * 8):  # eight days of 5-minute points with a daily cycle
        world.clock.t = T0 + step * 300
        daily = 1.0 + 0.3 * math.sin(2 * math.pi * (step % 288) / 288)
        value = daily * (3.0 if step == 12 * 24 * 7 + 100 else 1.0)
        world.point(value + 0.01 * math.sin(step * 1.7), column="kpi")
        world.engine.tick()
        if any(a.state == AlertState.FIRING for a in world.engine.alerts()):
            fired_at.append(step)
            break
    assert fired_at == [12 * 24 * 7 + 100]


def _states(world: World) -> list[AlertState]:
    return [alert.state for alert in world.engine.alerts()]


def test_threshold_rule_on_an_hourly_series_stays_firing_between_runs_until_it_stops(
    world: World,
) -> None:
    # fraud-drift is the default drift monitor of model fraud: a point every hour.
    for _hour in range(4):
        world.point(0.4, column="amount", monitor="fraud-drift")
        for _half in range(2):  # evaluations 30 minutes apart (the engine ticks each minute)
            world.run(30, step=60)
            assert _states(world) == [AlertState.FIRING]
    world.run(59, step=60)  # the last point, 1h59m old, holds for 2 × every (+ 1 minute)
    assert _states(world) == [AlertState.FIRING]
    world.run(10, step=60)  # then the condition clears, and keep_firing_for (5m) passes
    assert _states(world) == [AlertState.RESOLVED]
    statuses = [e.notification.status for e in world.sent()]
    assert statuses == ["firing", "firing", "resolved"]  # a reminder after repeat_interval (4h)


def test_point_freshness_follows_the_every_of_a_monitor_of_the_config(world: World) -> None:
    hourly = MonitorConfig(model="fraud", check="drift", window="1d", every="2h")
    world.config = msgspec.structs.replace(world.config, monitors={"slow-drift": hourly})
    world.point(0.4, column="amount", monitor="slow-drift")
    world.point(0.4, column="amount", monitor="gone")  # no monitor of that name: 15 minutes
    world.run(3 * 60, step=60)
    firing = [a.labels["monitor"] for a in world.engine.alerts() if a.state == AlertState.FIRING]
    assert firing == ["slow-drift"]
    world.run(2 * 60, step=60)  # 4h + 1m after the point, and keep_firing_for
    assert _states(world) == [AlertState.RESOLVED, AlertState.RESOLVED]


def test_performance_point_holds_from_its_window_start_until_two_runs_after_its_end(
    world: World,
) -> None:
    auc = MonitorConfig(model="fraud", check="performance", metric="roc_auc", window="1d",
                        every="1h")  # fmt: skip
    low_auc = RuleConfig(kind="threshold", series="mlpulse_performance", op="<", value=0.8,
                         severity="critical")  # fmt: skip
    world.config = msgspec.structs.replace(
        _config({"auc-low": low_auc}), monitors={"fraud-auc": auc}
    )
    labels = {"model": "fraud", "monitor": "fraud-auc", "metric": "roc_auc", "window": "1d"}
    for _hour in range(24):  # the day's window, dated at its start (T0), recomputed hourly
        world.series.append_points([MetricPoint(T0, "mlpulse_performance", labels, 0.7)])
        world.run(60, step=300)
        assert _states(world) == [AlertState.FIRING]
    world.run(2 * 60 - 5, step=300)  # no traffic the next day: no newer window
    assert _states(world) == [AlertState.FIRING]
    world.run(15, step=300)
    assert _states(world) == [AlertState.RESOLVED]


def test_two_routes_to_the_same_receiver_and_labels_make_one_group_with_each_alert_once(
    world: World,
) -> None:
    world.config = _config(
        {"drift": DRIFT},
        routes=[RouteConfig(match={"model": "fraud"}, receiver="pager", continue_=True),
                RouteConfig(match={"severity": "warning"}, receiver="pager")],
    )  # fmt: skip
    world.point(0.4, column="amount")
    world.run(4)
    (sent,) = world.sent()
    assert sent.notification.receiver == "pager" and len(sent.notification.alerts) == 1


def test_drift_share_alert_lists_the_drifted_columns_worst_first(world: World) -> None:
    check = {"model": "fraud", "version": "v1", "monitor": "fraud-drift"}
    world.config = _config(
        {
            "drift-share": RuleConfig(
                kind="threshold", series="mlpulse_drift_share", op=">=", value=0.5,
                severity="warning",
                annotations={"summary": "{{ $labels.model }} drifted in {{ $drifted_columns }}"},
            )
        }
    )  # fmt: skip
    t = world.clock.t
    world.series.append_points(
        [
            MetricPoint(t, "mlpulse_drift_share", check, 0.75, "critical"),
            # severities: 1 = a column's warning threshold, 2 = its critical one
            MetricPoint(t, "mlpulse_drift_score", {**check, "column": "age", "method": "ks"},
                        1.2, "warning"),
            MetricPoint(t, "mlpulse_drift_score", {**check, "column": "amount",
                                                   "method": "psi"}, 2.6, "critical"),
            MetricPoint(t, "mlpulse_drift_score", {**check, "column": "zip", "method": "psi"},
                        1.5, "warning"),
            MetricPoint(t, "mlpulse_drift_score", {**check, "column": "city", "method": "psi"},
                        0.3, "ok"),
            # another version's drifted column is not this alert's
            MetricPoint(t, "mlpulse_drift_score", {**check, "version": "v2", "column": "bank",
                                                   "method": "psi"}, 3.0, "critical"),
        ]
    )  # fmt: skip

    world.engine.tick()

    (alert,) = world.engine.alerts()
    assert alert.annotations["summary"] == "fraud drifted in amount, zip, age"
