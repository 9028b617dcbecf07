"""The decoder reports every problem of a document in one pass, each with its path."""

from __future__ import annotations

from typing import Any

from mlpulse.domain.config_decode import decode_config

# Eight mistakes of different kinds; before, a part with an unknown field was left out
# and its other problems showed only after fixing the first.
MIXED: dict[str, Any] = {
    "version": 1,
    "models": {"fraud": {"task": "binary_classification", "segmnts": ["country"]}},
    "monitors": {
        "lat": {"model": "fraud", "check": "latency", "windw": "5m",
                "warning": "900", "critical": "300"},
        "drift": {"model": "fraud", "check": "drift", "segment_by": ["country"]},
    },
    "rules": {
        "slow": {"kind": "threshold", "series": "mlpulse_latency_seconds", "op": "=>",
                 "value": "0.5", "for": "soon"},
    },
    "receivers": {"team": {"kind": "slack", "settings": {"url": "http://x"}}},
    "route": {"receiver": "team"},
    "runbooks": {
        "rb": {"match": {"alertname": "slow"}, "cooldown": "soon", "extra": 1,
               "actions": [{"kind": "notify", "receiver": "nobody"}]},
    },
}  # fmt: skip


def _paths(raw: dict[str, Any]) -> list[str]:
    _, problems = decode_config(raw, strict=False)
    return [problem.path for problem in problems]


def test_decode_config_reports_eight_mixed_problems_in_one_pass() -> None:
    _, problems = decode_config(MIXED, strict=False)
    found = {problem.path: problem.message for problem in problems}
    assert sorted(found) == sorted([
        "models.fraud.segmnts",            # unknown field
        "monitors.lat.windw",              # unknown field, in the same monitor as ...
        "monitors.lat.critical",           # ... thresholds out of order
        "monitors.drift.segment_by",       # a segment the model (with a typo) lacks
        "rules.slow.op",                   # not an operator
        "rules.slow.for",                  # not a duration, beside a bad op
        "runbooks.rb.extra",               # unknown field, in the runbook with ...
        "runbooks.rb.cooldown",            # ... a bad duration and ...
        "runbooks.rb.actions[0].receiver", # ... an unknown receiver
    ])  # fmt: skip
    assert len(problems) == len(found)  # each once
    assert found["models.fraud.segmnts"] == "unknown field; did you mean 'segments'?"
    assert "no receiver named 'nobody'" in found["runbooks.rb.actions[0].receiver"]


def test_decode_config_does_not_restate_a_field_that_did_not_decode() -> None:
    raw = {"version": 1, "rules": {"r": {"kind": "threshold", "series": "s", "op": "=>",
                                          "value": 1}}}  # fmt: skip
    # op fell back to unset, which validation would call missing: left out.
    assert _paths(raw) == ["rules.r.op"]


def test_decode_config_checks_a_rule_with_an_unknown_field_for_its_other_problems() -> None:
    raw = {"version": 1, "rules": {"r": {"kind": "threshold", "series": "s", "colour": "red"}}}
    assert _paths(raw) == ["rules.r.colour", "rules.r.op", "rules.r.value"]


def test_decode_config_leaves_out_a_part_without_a_required_field() -> None:
    raw = {"version": 1, "rules": {"r": {"series": "s", "op": ">"}}}
    config, problems = decode_config(raw)
    assert [p.path for p in problems] == ["rules.r.kind"] and config.rules == {}


def test_decode_config_checks_escalation_policies_beside_a_broken_schedule() -> None:
    raw = {
        "version": 1,
        "schedules": {"primary": {"time_zone": "Mars/Olympus", "layers": [
            {"users": ["ana"], "rotation": "daily", "start": "2026-01-05"}]}},
        "escalation_policies": {
            "critical": {"steps": [{"delay_minutes": "0", "targets": ["schedule:primary"]}]},
            "low": {"steps": [{"delay_minutes": "soon", "targets": ["schedule:secondary"]}]},
            "team": {"steps": [{"targets": ["user:bob"]}]},
        },
    }  # fmt: skip
    assert _paths(raw) == [
        "schedules.primary.time_zone",
        "escalation_policies.low.steps[0].targets[0]",  # unknown schedule
        "escalation_policies.low.steps[0].delay_minutes",
        "escalation_policies.team.steps[0].targets[0]",  # no such user
    ]


def test_decode_config_suggests_the_closest_allowed_value() -> None:
    raw = {"version": 1, "monitors": {"m": {"model": "fraud", "check": "latncy"}}}
    _, problems = decode_config(raw)
    assert [str(p) for p in problems] == [
        "monitors.m.check: must be one of drift, quality, performance, estimated_performance, "
        "latency, throughput, errors, prediction_drift; got 'latncy'; did you mean 'latency'?"
    ]
