"""The alerting, on-call and runbook parts of mlpulse.yaml, checked as a whole document."""

from __future__ import annotations

from typing import Any

import pytest

from mlpulse.domain.config_decode import decode_config

RECEIVERS = {"team": {"kind": "slack", "settings": {"url": "https://hooks.example/x"}}}


def _problems(**sections: Any) -> list[str]:
    _, problems = decode_config({"version": 1, "receivers": RECEIVERS, **sections})
    return [str(problem) for problem in problems]


def _rule(**fields: Any) -> list[str]:
    rule = {"series": "mlpulse_latency_seconds", **fields}
    return _problems(rules={"r": rule}, route={"receiver": "team"})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"kind": "absent", "absent_for": "0m"},
         "rules.r.absent_for: must be longer than zero; got '0m'"),
        ({"kind": "absent", "absent_for": "0"},
         "rules.r.absent_for: must be a duration like 30s, 5m, 1h or 7d; got '0'"),
        ({"kind": "relative", "op": ">", "ratio": 2.0, "baseline_window": "0h"},
         "rules.r.baseline_window: must be longer than zero; got '0h'"),
        ({"kind": "relative", "op": ">", "ratio": 2.0, "baseline_window": "0s"},
         "rules.r.baseline_window: must be longer than zero; got '0s'"),
    ],
)  # fmt: skip
def test_alerting_problems_reject_a_zero_absent_for_or_baseline_window(
    fields: dict[str, Any], expected: str
) -> None:
    assert _rule(**fields) == [expected]


def test_alerting_problems_still_take_zero_for_the_durations_that_allow_it() -> None:
    assert _rule(kind="absent", absent_for="15m", **{"for": "0m"}, keep_firing_for="0s") == []
    route = {"receiver": "team", "group_wait": "0s", "group_interval": "0m"}
    assert _problems(route=route) == []


def test_alerting_problems_reject_a_runbook_cooldown_that_is_not_a_duration() -> None:
    runbooks = {
        "soon": {"match": {}, "actions": [{"kind": "rollback"}], "cooldown": "soon"},
        "never": {"match": {}, "actions": [{"kind": "rollback"}], "cooldown": "-5m"},
        "none": {"match": {}, "actions": [{"kind": "rollback"}], "cooldown": "0m"},
    }
    assert _problems(runbooks=runbooks) == [
        "runbooks.soon.cooldown: must be a duration like 30s, 5m, 1h or 7d; got 'soon'",
        "runbooks.never.cooldown: must be a duration like 30s, 5m, 1h or 7d; got '-5m'",
    ]


def test_alerting_problems_reject_a_notify_action_without_a_known_receiver() -> None:
    actions = [
        {"kind": "notify", "receiver": "team"},
        {"kind": "notify", "receiver": "pager"},
        {"kind": "notify"},
        {"kind": "webhook", "url": "https://airflow.example", "receiver": "ignored"},
    ]
    assert _problems(runbooks={"tell": {"match": {"model": "fraud"}, "actions": actions}}) == [
        "runbooks.tell.actions[1].receiver: no receiver named 'pager' (receivers: team)",
        "runbooks.tell.actions[2].receiver: required for a notify action",
    ]


def test_alerting_problems_name_each_escalation_problem_once_with_its_path() -> None:
    policies = {"critical": {"steps": [{"delay_minutes": "10m", "targets": ["channel:team"]}]}}
    assert _problems(escalation_policies=policies) == [
        "escalation_policies.critical.steps[0].delay_minutes: must be a whole number; got '10m'"
    ]


def test_alerting_problems_reject_a_shift_traffic_without_weights() -> None:
    runbooks = {
        "empty": {"match": {}, "actions": [{"kind": "shift_traffic"}]},
        "bad": {"match": {}, "actions": [{"kind": "shift_traffic", "weights": {"v1": 120}}]},
        "good": {"match": {}, "actions": [{"kind": "shift_traffic",
                                           "weights": {"v1": 100, "v2": 0}}]},
    }  # fmt: skip
    assert _problems(runbooks=runbooks) == [
        "runbooks.empty.actions[0].weights: required for a shift_traffic action (version: percent)",
        "runbooks.bad.actions[0].weights.v1: must be an int in [0, 100]; got 120",
    ]


def test_alerting_problems_check_a_runbooks_confirmation_and_approval_expiry() -> None:
    runbooks = {
        "zero": {"match": {}, "actions": [{"kind": "rollback"}], "confirm": {"failures": 0}},
        "soon": {"match": {}, "actions": [{"kind": "rollback"}],
                 "confirm": {"interval": "soon"}, "approval_expires": "0m"},
        "fine": {"match": {}, "actions": [{"kind": "rollback"}],
                 "confirm": {"failures": 3, "interval": "1m"}, "approval_expires": "2h"},
    }  # fmt: skip
    assert _problems(runbooks=runbooks) == [
        "runbooks.zero.confirm.failures: must be an int in [1, 100]; got 0",
        "runbooks.soon.confirm.interval: must be a duration like 30s, 5m, 1h or 7d; got 'soon'",
        "runbooks.soon.approval_expires: must be longer than zero; got '0m'",
    ]


def test_alerting_problems_name_a_webhook_without_url_and_a_pause_without_experiment() -> None:
    runbooks = {"r": {"match": {}, "actions": [{"kind": "webhook"},
                                               {"kind": "pause_experiment"}]}}  # fmt: skip
    assert _problems(runbooks=runbooks) == [
        "runbooks.r.actions[0].url: required for a webhook action",
        "runbooks.r.actions[1].experiment: required for a pause_experiment action",
    ]
