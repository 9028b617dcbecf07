"""A synthetic probe of a local endpoint that starts failing pages through the usual routes."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.conftest import RunningCollector
from tests.integration.receivers import HttpReceiver, Reply


def _wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.time() + timeout
    while True:
        found = check()
        if found or time.time() > deadline:
            return found
        time.sleep(0.3)


def test_probe_of_a_failing_endpoint_writes_zero_and_its_rule_alert_reaches_the_webhook(
    collector: RunningCollector,
) -> None:
    admin = collector.headers(collector.admin_key)
    with HttpReceiver(Reply(200, "model ok")) as endpoint, HttpReceiver() as hook:
        config = {
            "version": 1,
            "probes": {"fraud-health": {
                "url": endpoint.url + "/healthz", "every": "1s", "timeout": "1s",
                "body_contains": "ok", "model": "fraud"}},
            "rules": {"fraud-probe-down": {
                "kind": "threshold", "series": "mlpulse_probe_success",
                "match": {"probe": "fraud-health"}, "op": "<", "value": 1,
                "severity": "critical",
                "annotations": {"summary": "probe {{ $labels.probe }} failing"}}},
            "receivers": {"hook": {"kind": "webhook", "settings": {"url": hook.url + "/alerts"}}},
            "route": {"receiver": "hook", "group_wait": "1s", "group_by": ["alertname"]},
        }  # fmt: skip
        applied = httpx.put(f"{collector.url}/v1/config", json=config, headers=admin)
        assert applied.status_code == 200, applied.text

        def values(name: str) -> list[float]:
            found = httpx.get(
                f"{collector.url}/v1/metrics/query",
                params={"name": name, "match": "probe=fraud-health"}, headers=admin,
            ).json()["series"]  # fmt: skip
            assert all(s["labels"] == {"probe": "fraud-health", "model": "fraud"} for s in found)
            return [point[1] for s in found for point in s["points"]]

        def ticked(name: str, value: float) -> bool:
            httpx.post(f"{collector.url}/v1/evaluator/tick", headers=admin)
            return value in values(name)

        assert _wait_for(lambda: ticked("mlpulse_probe_success", 1.0))
        assert 200.0 in values("mlpulse_probe_status_code")
        assert all(0 < v < 1.0 for v in values("mlpulse_probe_latency_seconds"))
        assert {r.path for r in endpoint.requests} == {"/healthz"}
        assert not [r for r in hook.requests if r.json()["status"] == "firing"]
        exposed = httpx.get(f"{collector.url}/metrics", headers=admin).text
        assert 'mlpulse_probe_success{model="fraud",probe="fraud-health"} 1.0' in exposed

        endpoint.default = Reply(503, "overloaded")  # the endpoint starts failing
        assert _wait_for(lambda: ticked("mlpulse_probe_status_code", 503.0))
        assert values("mlpulse_probe_success")[-1] == 0.0

        def fired() -> list[Any]:
            httpx.post(f"{collector.url}/v1/evaluator/tick", headers=admin)
            return [r for r in hook.requests if r.json()["status"] == "firing"]

        (request, *_) = _wait_for(fired)
        body = request.json()
        assert body["commonLabels"]["alertname"] == "fraud-probe-down"
        assert body["alerts"][0]["labels"]["probe"] == "fraud-health"
        assert body["alerts"][0]["annotations"]["summary"] == "probe fraud-health failing"
