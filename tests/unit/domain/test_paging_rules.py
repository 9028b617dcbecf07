"""A monitor with page: true writes the rule that fires when its status is critical."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pytest

from mlpulse.core.profiles.profile import Profile
from mlpulse.core.profiles.window import WindowProfile
from mlpulse.domain.config_decode import decode_config
from mlpulse.domain.config_plan import plan
from mlpulse.domain.monitoring import ColumnConfig, Config, MonitorConfig
from mlpulse.domain.paging_rules import paging_rule
from mlpulse.domain.series import MetricPoint
from mlpulse.services.alert_rules import Freshness, RuleConditions
from mlpulse.services.monitor_checks import drift_points, graded, traffic_points
from mlpulse.testing.fakes import InMemorySeriesStore


def _decode(**monitor: Any) -> tuple[Config, dict[str, str]]:
    raw = {"version": 1, "monitors": {"m": {"model": "fraud", **monitor}}}
    config, problems = decode_config(raw, strict=False)
    return config, {p.path: p.message for p in problems}


def test_decode_config_writes_the_rule_of_a_paging_latency_monitor() -> None:
    config, problems = _decode(check="latency", metric="p95", critical=800, page=True)
    assert problems == {}
    rule = config.rules["m-page"]
    assert (rule.kind, rule.series, rule.op, rule.value, rule.severity) == (
        "threshold", "mlpulse_latency_seconds", ">", 0.8, "critical"
    )  # fmt: skip
    assert rule.match == {"model": "fraud", "monitor": "m", "percentile": "p95"}


@pytest.mark.parametrize(
    ("monitor", "op"),
    [
        ({"check": "performance", "metric": "accuracy", "critical": 0.8}, "<"),
        ({"check": "performance", "metric": "rmse", "critical": 3}, ">"),
        ({"check": "errors", "critical": 0.1}, ">"),
        ({"check": "drift", "method": "ks", "critical": 0.01, "columns": ["a"]}, ">"),
        ({"check": "drift", "method": "wasserstein", "critical": 0.2, "columns": ["a"]}, ">"),
        ({"check": "throughput", "direction": "below", "critical": 1}, "<"),
    ],
)
def test_paging_rule_fires_on_the_side_the_check_grades_critical(
    monitor: dict[str, Any], op: str
) -> None:
    config, problems = _decode(page=True, **monitor)
    assert problems == {} and config.rules["m-page"].op == op


def test_paging_rule_is_active_exactly_when_the_point_is_graded_critical() -> None:
    monitor = MonitorConfig(model="fraud", check="latency", metric="p99", warning=500.0,
                            critical=800.0, direction="above", page=True)  # fmt: skip
    rule = paging_rule("m", monitor)
    assert rule is not None
    conditions = RuleConditions(InMemorySeriesStore(), started_at=0.0)
    labels = {"model": "fraud", "version": "v1", "monitor": "m", "percentile": "p99"}
    for value in (100.0, 500.0, 799.9, 800.0, 800.1, 5000.0):
        # The series is in seconds, the monitor's thresholds in milliseconds.
        point = MetricPoint(ts=100.0, name=rule.series, labels=labels, value=value / 1000)
        (seen,) = conditions.observe("m-page", rule, [point], 100.0,
                                     freshness=Freshness({"m": monitor}))  # fmt: skip
        assert seen.active == (graded(value, monitor, "p99") == "critical"), value


@pytest.mark.parametrize(
    "monitor",
    [
        MonitorConfig(model="fraud", check="latency", metric="p99", critical=300.0, page=True),
        MonitorConfig(model="fraud", check="errors", metric="rate", critical=0.1, page=True),
    ],
)
def test_paging_rule_fires_on_the_points_the_check_writes_exactly_when_critical(
    monitor: MonitorConfig,
) -> None:
    # The check's own points (series name, labels, unit), not hand-made ones: a series
    # renamed or rescaled in the checks must be followed by the rule.
    rule = paging_rule("m", monitor)
    assert rule is not None
    conditions = RuleConditions(InMemorySeriesStore(), started_at=0.0)
    rng = np.random.default_rng(7)
    statuses = set()
    for scale in (50.0, 100.0, 200.0, 400.0):
        latency = rng.gamma(4.0, scale / 4.0, size=2000)
        errors = rng.uniform(size=2000) < scale / 2000.0
        window = WindowProfile.from_columns({}, {}, latency_ms=latency, errors=errors)
        labels = {"model": "fraud", "version": "v1", "monitor": "m"}
        (point,) = traffic_points(100.0, labels, monitor, window, 3600.0)
        (seen,) = conditions.observe("m-page", rule, [point], 100.0,
                                     freshness=Freshness({"m": monitor}))  # fmt: skip
        assert seen.active == (point.status == "critical"), (scale, point)
        statuses.add(point.status)
    assert statuses == {"ok", "critical"}


def test_monitor_without_page_writes_no_rule() -> None:
    config, _ = _decode(check="latency", critical=800)
    assert config.rules == {}


@pytest.mark.parametrize(
    ("monitor", "says"),
    [
        ({"check": "latency", "warning": 300}, "needs critical"),
        ({"check": "quality"}, "thresholds of its own"),
    ],
)  # fmt: skip
def test_decode_config_refuses_a_monitor_that_cannot_page(
    monitor: dict[str, Any], says: str
) -> None:
    _, problems = _decode(page=True, **monitor)
    assert says in problems["monitors.m.page"]


def test_decode_config_refuses_a_rule_that_takes_the_paging_rules_name() -> None:
    raw = {"version": 1,
           "monitors": {"m": {"model": "fraud", "check": "errors", "critical": 0.1, "page": True}},
           "rules": {"m-page": {"kind": "absent", "series": "mlpulse_error_rate",
                                "absent_for": "1h"}}}  # fmt: skip
    _, problems = decode_config(raw, strict=False)
    assert [(p.path, p.message) for p in problems] == [
        ("rules.m-page", "is the name of the rule monitors.m.page writes; rename this rule")
    ]


def test_decode_config_reads_a_stored_config_with_its_derived_rule_again() -> None:
    config, _ = _decode(check="errors", critical=0.1, page=True)
    again, problems = decode_config(msgspec.to_builtins(config), strict=False)
    assert problems == [] and again == config


def test_plan_shows_the_paging_rule_as_derived_from_its_monitor() -> None:
    before, _ = _decode(check="errors", critical=0.1)
    after, _ = _decode(check="errors", critical=0.1, page=True)
    assert plan(before, after).render().splitlines() == [
        "~ monitor m: page false → true",
        "+ rule m-page (derived from monitors.m.page)",
        "Plan: 1 to create, 1 to update, 0 to delete.",
    ]
    assert "- rule m-page (derived from monitors.m.page)" in plan(after, before).render()


@pytest.mark.parametrize(
    "monitor",
    [
        MonitorConfig(model="fraud", check="drift", method="ks", critical=0.01, page=True),
        MonitorConfig(model="fraud", check="drift", method="wasserstein", critical=0.2, page=True),
        # Columns with methods and thresholds of their own: one rule over the severity.
        MonitorConfig(
            model="fraud",
            check="drift",
            method="psi",
            critical=0.25,
            page=True,
            columns_config={"b": ColumnConfig(method="ks", critical=0.001)},
        ),
    ],
)
def test_paging_rule_of_a_drift_monitor_fires_on_its_points_exactly_when_critical(
    monitor: MonitorConfig,
) -> None:
    rule = paging_rule("m", monitor)
    assert rule is not None
    conditions = RuleConditions(InMemorySeriesStore(), started_at=0.0)
    rng = np.random.default_rng(3)
    reference = Profile.from_columns(
        {"a": rng.normal(size=800), "b": rng.normal(size=800)}, {"a": "numeric", "b": "numeric"}
    )
    statuses = set()
    for shift in (0.0, 0.05, 0.15, 0.3, 0.6):
        current = Profile.from_columns(
            {"a": rng.normal(shift, 1, 800), "b": rng.normal(shift, 1, 800)},
            {"a": "numeric", "b": "numeric"},
        )
        labels = {"model": "fraud", "version": "v1", "monitor": "m"}
        points = [p for p in drift_points(100.0, labels, monitor, reference, current)
                  if p.name == rule.series]  # fmt: skip
        seen = conditions.observe("m-page", rule, points, 100.0,
                                  freshness=Freshness({"m": monitor}))  # fmt: skip
        for point, state in zip(points, seen, strict=True):
            assert state.active == (point.status == "critical"), (shift, point)
            statuses.add(point.status)
    assert {"ok", "critical"} <= statuses
