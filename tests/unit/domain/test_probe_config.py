"""The probes section of mlpulse.yaml: defaults, every problem with its path, plan lines."""

from __future__ import annotations

from typing import Any

from mlpulse.domain.config_decode import decode_config
from mlpulse.domain.config_plan import plan
from mlpulse.domain.probes import ProbeConfig, ProbeResponse, probe_outcome


def _problems(**probe: Any) -> dict[str, str]:
    _, problems = decode_config({"version": 1, "probes": {"p": probe}}, strict=False)
    return {p.path: p.message for p in problems}


def test_probe_config_decodes_with_its_defaults() -> None:
    config, problems = decode_config(
        {"version": 1, "probes": {"p": {"url": "http://127.0.0.1:9/healthz"}}}
    )
    assert problems == []
    probe = config.probes["p"]
    assert (probe.method, probe.every_s, probe.timeout_s, probe.expect_status) == (
        "GET", 30.0, 5.0, 200)  # fmt: skip
    assert (probe.body_contains, probe.max_latency_ms, probe.headers, probe.model) == (
        None, None, None, None)  # fmt: skip


def test_probe_config_reports_every_problem_with_its_path_in_one_run() -> None:
    found = _problems(
        url="127.0.0.1:9/healthz", methd="GET", every="soon", timeout="2m",
        expect_status="2000", max_latency_ms="-1", model="",
    )  # fmt: skip
    assert found == {
        "probes.p.methd": "unknown field; did you mean 'method'?",
        "probes.p.model": "must be text of 1 to 200 characters; got ''",
        "probes.p.url": "must be an http:// or https:// URL with a host; got '127.0.0.1:9/healthz'",
        "probes.p.every": "must be a duration like 30s, 5m, 1h or 7d; got 'soon'",
        "probes.p.timeout": "must be at most 60s; got '2m'",
        "probes.p.expect_status": "must be an HTTP status from 100 to 599; got 2000",
        "probes.p.max_latency_ms": "must be above 0; got -1",
    }


def test_probe_config_reports_a_bad_method_with_did_you_mean() -> None:
    assert _problems(url="http://h/", method="GTE") == {
        "probes.p.method": "must be one of GET, POST, HEAD, PUT; got 'GTE'; did you mean 'GET'?"
    }


def test_probe_config_reports_a_timeout_longer_than_every_and_a_body_on_get() -> None:
    assert _problems(url="http://h/", every="5s", timeout="10s", body="{}") == {
        "probes.p.timeout": "must be at most every (5s); got '10s'",
        "probes.p.body": "a GET request sends no body; use POST or PUT",
    }


def test_plan_shows_a_probe_created_and_updated() -> None:
    old, _ = decode_config({"version": 1, "probes": {"a": {"url": "http://h/a"}}})
    new, _ = decode_config({"version": 1, "probes": {
        "a": {"url": "http://h/a", "every": "1m"}, "b": {"url": "http://h/b"}}})  # fmt: skip
    lines = plan(old, new).render().splitlines()
    assert lines[0].startswith("~ probe a") and "every" in lines[0] + lines[1]
    assert any(line.startswith("+ probe b") for line in lines)
    assert lines[-1] == "Plan: 1 to create, 1 to update, 0 to delete."


def test_probe_outcome_fails_on_body_and_when_no_answer_came() -> None:
    probe = ProbeConfig(url="http://h/", expect_status=204, body_contains="ready")
    assert probe_outcome(probe, ProbeResponse(204, "not yet", 0.01)).reason == (
        "body does not contain 'ready'"
    )
    outcome = probe_outcome(probe, ProbeResponse(None, "", 5.0, "ConnectError"))
    assert (outcome.success, outcome.reason) == (False, "no answer: ConnectError")
    assert probe_outcome(probe, ProbeResponse(204, "ready", 0.01)).success


def test_probe_config_wants_json_path_and_json_equals_together() -> None:
    assert _problems(url="http://h/", json_path="status") == {
        "probes.p.json_equals": "json_path and json_equals go together: set both or neither"
    }


def test_probe_outcome_compares_the_json_value_at_the_path_as_text() -> None:
    probe = ProbeConfig(url="http://h/", json_path="model.ready", json_equals="true")
    body = '{"model": {"ready": %s}}'
    assert probe_outcome(probe, ProbeResponse(200, body % "true", 0.01)).success
    assert probe_outcome(probe, ProbeResponse(200, body % "false", 0.01)).reason == (
        "json_path 'model.ready' is 'false', expected 'true'"
    )
    assert probe_outcome(probe, ProbeResponse(200, '{"model": {}}', 0.01)).reason == (
        "no value at json_path 'model.ready', expected 'true'"
    )
    assert probe_outcome(probe, ProbeResponse(200, "<html>", 0.01)).reason == (
        "body is not JSON, expected 'true'"
    )
