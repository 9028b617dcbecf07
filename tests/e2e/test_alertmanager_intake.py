"""Who may trigger what through Alertmanager's intake, against a real collector."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import RunningCollector

CONFIG: dict[str, Any] = {
    "version": 1,
    "runbooks": {
        "rollback-when-down": {
            "match": {"alertname": "ModelDown"}, "actions": [{"kind": "rollback"}],
            "cooldown": "10m",
        }
    },
}  # fmt: skip


def _payload(*, starts: datetime, n: int = 1) -> dict[str, Any]:
    return {
        "version": "4", "status": "firing", "receiver": "mlpulse",
        "alerts": [{"status": "firing",
                    "labels": {"alertname": "ModelDown", "model": "recs", "version": "v2",
                               "severity": "critical", "replica": str(i)},
                    "startsAt": starts.isoformat().replace("+00:00", "Z")}
                   for i in range(n)],
    }  # fmt: skip


def _champion(collector: RunningCollector) -> str:
    table = httpx.get(
        f"{collector.url}/v1/routing/recs", headers=collector.headers(collector.admin_key)
    ).json()
    return next(e["version"] for e in table["entries"] if e["stage"] == "champion")


def test_ingest_key_cannot_trigger_a_rollback_through_the_alertmanager_intake(
    collector: RunningCollector,
) -> None:
    admin = collector.headers(collector.admin_key)
    collector.register("recs", ["v1", "v2"], champion="v2")
    assert httpx.put(f"{collector.url}/v1/config", json=CONFIG, headers=admin).is_success
    url = f"{collector.url}/v1/alertmanager/webhook"
    now = datetime.now(UTC)

    forged = httpx.post(url, json=_payload(starts=now),
                        headers=collector.headers(collector.ingest_key))  # fmt: skip
    assert forged.status_code == 403 and "alertmanager" in forged.json()["error"]["message"]

    made = httpx.post(f"{collector.url}/v1/keys", json={"scopes": ["alertmanager"]}, headers=admin)
    intake = collector.headers(made.json()["token"])
    year_ago = now - timedelta(days=365)
    accepted = httpx.post(url, json=_payload(starts=year_ago), headers=intake)
    assert accepted.status_code == 200 and accepted.json() == {"accepted": 1}
    time.sleep(3.0)  # the alert engine ticks every second: the alert fires, nothing acts
    assert _champion(collector) == "v2"
    incidents = httpx.get(f"{collector.url}/v1/incidents", headers=admin).json()["incidents"]
    (incident,) = [i["incident"] for i in incidents]
    assert not [e for e in incident["timeline"] if e["kind"] == "action"]
    onset = incident["onset_at"]
    assert time.time() - onset <= 7 * 86400 + 60  # a year-old startsAt is clamped to 7 days

    # A runbook that says it acts on external alerts does.
    external = {**CONFIG, "runbooks": {"rollback-when-down": {
        **CONFIG["runbooks"]["rollback-when-down"], "external": True}}}  # fmt: skip
    assert httpx.put(f"{collector.url}/v1/config", json=external, headers=admin).is_success
    deadline = time.monotonic() + 10.0
    while _champion(collector) != "v1" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _champion(collector) == "v1"


def test_alertmanager_intake_bounds_alerts_and_refuses_a_start_in_the_future(
    collector: RunningCollector,
) -> None:
    admin = collector.headers(collector.admin_key)
    made = httpx.post(f"{collector.url}/v1/keys", json={"scopes": ["alertmanager"]}, headers=admin)
    intake = collector.headers(made.json()["token"])
    url = f"{collector.url}/v1/alertmanager/webhook"
    now = datetime.now(UTC)

    too_many = httpx.post(url, json=_payload(starts=now, n=1001), headers=intake)
    assert too_many.status_code == 413
    assert "at most 1000 alerts per request" in too_many.json()["error"]["message"]

    ahead = httpx.post(url, json=_payload(starts=now + timedelta(hours=1)), headers=intake)
    assert ahead.status_code == 422 and ahead.json()["error"]["field"] == "alerts[0].startsAt"

    for _ in range(5):
        assert httpx.post(url, json=_payload(starts=now, n=1000), headers=intake).is_success
    over = httpx.post(url, json=_payload(starts=now, n=1), headers=intake)
    assert over.status_code == 429
    assert "at most 5000 alerts per minute" in over.json()["error"]["message"]
