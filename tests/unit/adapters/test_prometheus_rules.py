"""mlpulse.yaml's rules as Prometheus rules: the PromQL of each kind, what is skipped."""

from __future__ import annotations

import pytest
import yaml

from mlpulse.adapters.export.prometheus_rules import (
    AlertingRule,
    RuleGroup,
    duration,
    prometheus_rules,
)
from mlpulse.adapters.export.promtool_tests import promtool_tests, render
from mlpulse.domain.monitoring import Config, MonitorConfig
from mlpulse.domain.paging_rules import paging_rules
from mlpulse.domain.rules import RuleConfig
from mlpulse.services.alert_templates import render as mlpulse_render


def _config(**rules: RuleConfig) -> Config:
    return Config(version=1, rules=rules)


def _alert(config: Config, name: str) -> AlertingRule:
    found = {e.name: e.alerting for e in prometheus_rules(config).exported}
    return found[name]


def test_prometheus_rules_threshold_becomes_a_comparison_with_for_and_severity() -> None:
    rule = RuleConfig(
        kind="threshold", series="mlpulse_error_rate", match={"model": "fraud", "mode": ""},
        op=">", value=0.05, for_="1.5h", severity="critical", labels={"team": "risk"},
    )  # fmt: skip
    alert = _alert(_config(errors=rule), "errors")
    assert alert.expr == 'mlpulse_error_rate{mode="",model="fraud"} > 0.05'
    assert alert.for_ == "90m"
    assert alert.keep_firing_for == "5m"
    assert alert.labels == {"team": "risk", "severity": "critical"}


def test_prometheus_rules_threshold_holds_through_its_own_alerts_when_it_has_resolve_value() -> (
    None
):
    rule = RuleConfig(
        kind="threshold", series="mlpulse_drift_score", match={"column": "amount"},
        op=">=", value=1.0, resolve_value=0.8,
    )  # fmt: skip
    expr = _alert(_config(drift=rule), "drift").expr
    assert expr.startswith('mlpulse_drift_score{column="amount"} >= 1 or (')
    assert 'mlpulse_drift_score{column="amount"} >= 0.8 and ignoring(' in expr
    assert 'ALERTS{alertname="drift",alertstate="firing"}' in expr


def test_prometheus_rules_relative_compares_with_the_trailing_median_or_a_fixed_baseline() -> None:
    trailing = RuleConfig(
        kind="relative", series="mlpulse_performance", match={"metric": "roc_auc"},
        op="<", ratio=0.95, baseline_window="7d",
    )  # fmt: skip
    fixed = RuleConfig(kind="relative", series="mlpulse_error_rate", op=">", ratio=2.0,
                       baseline_value=0.01)  # fmt: skip
    config = _config(trailing=trailing, fixed=fixed)
    assert _alert(config, "trailing").expr == (
        'mlpulse_performance{metric="roc_auc"} < 0.95 * '
        'quantile_over_time(0.5, mlpulse_performance{metric="roc_auc"}[7d])'
    )
    assert _alert(config, "fixed").expr == "mlpulse_error_rate > 0.02"


def test_prometheus_rules_absent_waits_absent_for() -> None:
    rule = RuleConfig(kind="absent", series="mlpulse_throughput_per_second",
                      match={"model": "fraud"}, absent_for="15m", for_="2m")  # fmt: skip
    alert = _alert(_config(quiet=rule), "quiet")
    assert alert.expr == 'absent(mlpulse_throughput_per_second{model="fraud"})'
    assert alert.for_ == "17m"  # absent_for, then for (as mlpulse waits)


def test_prometheus_rules_skips_anomaly_detection_and_bad_label_names_with_a_reason() -> None:
    config = _config(
        odd=RuleConfig(kind="anomaly", series="mlpulse_error_rate"),
        change=RuleConfig(kind="detection", series="mlpulse_stream_change"),
        dotted=RuleConfig(kind="threshold", series="mlpulse_error_rate",
                          match={"team.name": "x"}, op=">", value=1.0),
    )  # fmt: skip
    result = prometheus_rules(config)
    assert not result.exported
    assert {(s.name, s.kind) for s in result.skipped} == {
        ("odd", "anomaly"),
        ("change", "detection"),
        ("dotted", "threshold"),
    }
    text = result.yaml()
    assert "# skipped odd (anomaly): mlpulse's robust seasonal baseline" in text
    assert [g["name"] for g in yaml.safe_load(text)["groups"]] == ["mlpulse-traffic"]


def test_prometheus_rules_exports_a_paging_monitor_through_its_derived_rule() -> None:
    monitors = {"fraud-p99": MonitorConfig(model="fraud", check="latency", metric="p99",
                                           critical=800.0, page=True)}  # fmt: skip
    config = Config(version=1, monitors=monitors, rules=paging_rules(monitors))
    alert = _alert(config, "fraud-p99-page")
    assert alert.expr == (
        'mlpulse_latency_seconds{model="fraud",monitor="fraud-p99",percentile="p99"} > 0.8'
    )
    assert alert.labels == {"severity": "critical"}
    assert '{{ $value | printf "%.4g" }}' in alert.annotations["summary"]


def test_prometheus_rules_appends_the_groups_of_each_source() -> None:
    def slo_groups(config: Config) -> list[RuleGroup]:
        return [RuleGroup("sloth-slo-sli-recordings-fraud", (), interval="30s")]

    result = prometheus_rules(Config(version=1), sources=[slo_groups])
    names = [g["name"] for g in yaml.safe_load(result.yaml())["groups"]]
    assert names == ["mlpulse-traffic", "sloth-slo-sli-recordings-fraud"]


@pytest.mark.parametrize(
    ("text", "expected"), [("10m", "10m"), ("0m", None), ("90s", "90s"), ("2d", "2d"),
                           ("1w", "7d"), ("0.5h", "30m")],
)  # fmt: skip
def test_duration_writes_whole_units(text: str, expected: str | None) -> None:
    assert duration(text) == expected


@pytest.mark.parametrize("value", [0.31, 2.0, 1234567.0, 1e-5, float("nan")])
def test_render_of_unit_tests_matches_mlpulse_annotations(value: float) -> None:
    templates = {"summary": "{{ $labels.model }} {{$labels.column}} {{ $value }} {{ $labels.x }}"}
    labels = {"model": "fraud", "column": "amount"}
    assert render(templates, labels, value) == mlpulse_render(templates, labels, value)
    drifted = {"s": "drifted: {{ $drifted_columns }}"}
    assert render(drifted, labels, value) == mlpulse_render(drifted, labels, value,
                                                             drifted=["amount"])  # fmt: skip


def test_promtool_tests_expect_no_alert_before_for_and_the_breach_after() -> None:
    rule = RuleConfig(kind="threshold", series="mlpulse_error_rate", match={"model": "fraud"},
                      op=">", value=0.05, for_="10m")  # fmt: skip
    document = yaml.safe_load(promtool_tests(prometheus_rules(_config(e=rule)), rule_file="r.yaml"))
    (test,) = document["tests"]
    before, after = test["alert_rule_test"]
    assert (before["eval_time"], before["exp_alerts"]) == ("9m", [])
    assert after["eval_time"] == "11m"
    assert after["exp_alerts"][0]["exp_labels"] == {
        "model": "fraud",
        "unit_test": "breach",
        "severity": "warning",
    }
