"""SLOs in mlpulse.yaml: decoding, validation, derived burn-rate rules and the plan."""

from __future__ import annotations

from typing import Any

import msgspec

from mlpulse.domain.config_decode import decode_config
from mlpulse.domain.config_plan import plan
from mlpulse.domain.config_warnings import Seen, config_warnings
from mlpulse.domain.monitoring import Config
from mlpulse.domain.slos import DEFAULT_ALERTS, period_bounds


def _problems(slos: dict[str, Any]) -> dict[str, str]:
    _, problems = decode_config({"version": 1, "slos": slos})
    return {p.path: p.message for p in problems}


def test_slo_config_decodes_with_the_workbook_alerts_when_alerts_are_left_out() -> None:
    config, problems = decode_config({"version": 1, "slos": {"avail": {
        "model": "fraud", "objective": 0.999, "sli": {"kind": "availability"}}}})  # fmt: skip
    assert problems == []
    slo = config.slos["avail"]
    assert (slo.period, slo.burn_alerts) == ("30d", DEFAULT_ALERTS)
    assert [(a.long, a.short, a.burn_rate, a.severity) for a in slo.burn_alerts] == [
        ("1h", "5m", 14.4, "page"),
        ("6h", "30m", 6.0, "page"),
        ("1d", "2h", 3.0, "ticket"),
        ("3d", "6h", 1.0, "ticket"),
    ]


def test_slo_config_reports_every_problem_with_its_path_in_one_run() -> None:
    found = _problems({
        "lat": {"model": "fraud", "objective": 1.5, "period": "2w", "sli": {"kind": "latency"},
                "alerts": [{"long": "5m", "short": "1h", "burn_rate": -1}]},
        "perf": {"model": "fraud", "objective": 0.9, "sli": {"kind": "performance",
                 "metric": "acuracy", "threshold_ms": 10}},
        "typo": {"model": "fraud", "objectiv": 0.9, "sli": {"kind": "availabilty"}},
    })  # fmt: skip
    assert found == {
        "slos.lat.objective": "must be between 0 and 1 (exclusive), like 0.999; got 1.5",
        "slos.lat.period": (
            "must be a whole number of days like 30d or 28d, or calendar_month; got '2w'"
        ),
        "slos.lat.sli.threshold_ms": (
            "a latency SLI needs threshold_ms, a good prediction's latency at most"
        ),
        "slos.lat.alerts[0].short": "must be shorter than long (5m); got '1h'",
        "slos.lat.alerts[0].burn_rate": "must be above 0; got -1.0",
        "slos.perf.sli.threshold_ms": "does not apply to a performance SLI; it applies to latency",
        "slos.perf.sli.metric": found["slos.perf.sli.metric"],
        "slos.perf.sli.target": "a performance SLI needs the target a window meets",
        "slos.typo.objectiv": "unknown field; did you mean 'objective'?",
        "slos.typo.objective": "required field is missing",
        "slos.typo.sli.kind": (
            "must be one of availability, latency, drift_free, performance; "
            "got 'availabilty'; did you mean 'availability'?"
        ),
    }
    assert found["slos.perf.sli.metric"].startswith("'acuracy' is not a performance metric")


def test_slo_config_derives_one_threshold_rule_per_burn_alert_when_page_is_set() -> None:
    config, _ = decode_config({"version": 1, "slos": {"avail": {
        "model": "fraud", "objective": 0.999, "sli": {"kind": "availability"},
        "alerts": [{"long": "1h", "short": "5m", "burn_rate": 14.4},
                   {"long": "3d", "short": "6h", "burn_rate": 1,
                    "severity": "ticket"}]}}})  # fmt: skip
    page, ticket = config.rules["avail-burn-1h-5m"], config.rules["avail-burn-3d-6h"]
    assert (page.series, page.op, page.value, page.severity) == (
        "mlpulse_slo_alert_burn_rate",
        ">=",
        14.4,
        "critical",
    )
    assert (ticket.value, ticket.severity, ticket.labels) == (
        1.0,
        "warning",
        {"slo_alert": "ticket"},
    )
    assert ticket.match == {"slo": "avail", "long": "3d", "short": "6h"}
    # Decoding the stored (already derived) config again finds no clash.
    again, problems = decode_config(msgspec.to_builtins(config))
    assert problems == [] and again == config


def test_slo_config_derives_no_rule_when_page_is_false() -> None:
    config, _ = decode_config({"version": 1, "slos": {"avail": {
        "model": "fraud", "objective": 0.999, "sli": {"kind": "availability"},
        "page": False}}})  # fmt: skip
    assert config.rules == {}


def test_slo_config_refuses_a_hand_written_rule_with_a_derived_name() -> None:
    found = _problems({"avail": {"model": "fraud", "objective": 0.999,
                                 "sli": {"kind": "availability"}}})  # fmt: skip
    assert found == {}
    _, problems = decode_config({"version": 1,
        "rules": {"avail-burn-1h-5m": {"kind": "threshold", "series": "x", "op": ">", "value": 1}},
        "slos": {"avail": {"model": "fraud", "objective": 0.999, "sli": {"kind": "availability"}}},
    })  # fmt: skip
    assert [(p.path, p.message) for p in problems] == [
        (
            "rules.avail-burn-1h-5m",
            "is the name of a rule slos.avail.alerts writes; rename this rule",
        )
    ]


def test_plan_shows_an_slo_and_marks_its_rules_as_derived() -> None:
    desired, _ = decode_config({"version": 1, "slos": {"lat": {
        "model": "fraud", "objective": 0.99, "sli": {"kind": "latency", "threshold_ms": 250},
        "alerts": [{"long": "1h", "short": "5m", "burn_rate": 14.4}]}}})  # fmt: skip
    assert plan(Config(version=1), desired).render().splitlines() == [
        "+ slo lat",
        "+ rule lat-burn-1h-5m (derived from slos.lat.alerts)",
        "Plan: 2 to create, 0 to update, 0 to delete.",
    ]
    changed, _ = decode_config({"version": 1, "slos": {"lat": {
        "model": "fraud", "objective": 0.995, "sli": {"kind": "latency", "threshold_ms": 250},
        "alerts": [{"long": "1h", "short": "5m", "burn_rate": 14.4}]}}})  # fmt: skip
    assert plan(desired, changed).render().splitlines()[0] == "~ slo lat: objective 0.99 → 0.995"


def test_period_bounds_is_the_utc_calendar_month_when_period_is_calendar_month() -> None:
    # 2026-12-07 12:00 UTC: December, 31 days.
    start, end = period_bounds("calendar_month", 1_796_644_800.0)
    assert (start, (end - start) / 86400) == (1_796_083_200.0, 31.0)
    assert period_bounds("28d", 1_796_644_800.0) == (1_796_644_800.0 - 28 * 86400, 1_796_644_800.0)


def test_config_warnings_names_an_slos_unknown_model_once_and_knows_the_slo_series() -> None:
    config, problems = decode_config({"version": 1, "slos": {"avail": {
        "model": "frud", "objective": 0.999, "sli": {"kind": "availability"}}},
        "rules": {"slow-burn": {"kind": "threshold", "series": "mlpulse_slo_burn_rate",
                                "match": {"slo": "avail", "window": "6h"}, "op": ">",
                                "value": 2}}})  # fmt: skip
    assert problems == []
    seen = Seen(models={"fraud": frozenset({"amount"})})
    warnings = {w.path: w.message for w in config_warnings(config, seen=seen)}
    assert list(warnings) == ["slos.avail.model"]
    assert "did you mean 'fraud'?" in warnings["slos.avail.model"]


def test_slo_config_refuses_two_alerts_with_the_same_windows_and_a_name_too_long() -> None:
    alert = {"long": "1h", "short": "5m", "burn_rate": 14.4}
    found = _problems({
        "a": {"model": "m", "objective": 0.999, "sli": {"kind": "availability"},
              "alerts": [alert, {**alert, "burn_rate": 10}]},
        "n" * 195: {"model": "m", "objective": 0.999, "sli": {"kind": "availability"}},
    })  # fmt: skip
    assert found == {
        "slos.a.alerts[1]": "another alert has the windows 1h/5m; one rule per pair of windows",
        f"slos.{'n' * 195}": "the name is too long for the rules its alerts write "
        "(<name>-burn-<long>-<short>, at most 200 characters)",
    }
