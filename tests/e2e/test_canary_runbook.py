"""Runbooks through a real collector: a failing 10% canary is taken out and the champion
stays; approvals are re-checked, so a second, stale one is refused; the CLI shows why an
action did what it did; a rollout and a bandit cannot steer one model together."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import httpx

from mlpulse import Client
from tests.conftest import RunningCollector

RULE = {
    "kind": "detection", "series": "mlpulse_stream_change", "match": {"stream": "error_rate"},
    "severity": "critical",
}  # fmt: skip


def _config(**runbooks: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "rules": {"errors-up": RULE}, "runbooks": runbooks}


def _canary(collector: RunningCollector, admin: httpx.Client) -> None:
    """recs: v1 champion at 90%, v2 a challenger at 10%."""
    collector.register("recs", ["v1", "v2"])
    routed = admin.put("/v1/registry/recs/routing", json={"versions": [
        {"version": "v1", "stage": "champion", "weight": 90},
        {"version": "v2", "stage": "challenger", "weight": 10}]})  # fmt: skip
    assert routed.status_code == 200, routed.text


def _serve_until(collector: RunningCollector, done: Any, *, seconds: float = 30.0) -> float | None:
    """Serve recs through the router: v2 starts failing after 2 s. Once ``done()``, the
    wall time of v2's first failure (None if ``done()`` never held)."""
    failing_since: float | None = None
    with Client(collector.url, collector.ingest_key, flush_interval=0.05) as client:
        router = client.router("recs")
        started = time.perf_counter()
        i = 0
        while time.perf_counter() - started < seconds:
            i += 1
            version = router.choose(f"user-{i}").version
            failing = version == "v2" and time.perf_counter() - started > 2.0
            if failing and failing_since is None:
                failing_since = time.time()
            error = "RuntimeError: canary crashed" if failing else None
            client.log_prediction("recs", version, {"x": 1.0}, 1.0, latency_ms=3.0, error=error)
            if i % 50 == 0 and done():
                return failing_since
            time.sleep(0.004)
    return None


def _table(admin: httpx.Client) -> dict[str, tuple[str, int]]:
    entries = admin.get("/v1/routing/recs").json()["entries"]
    return {e["version"]: (e["stage"], e["weight"]) for e in entries}


def _cli(collector: RunningCollector, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLPULSE_URL": collector.url, "MLPULSE_API_KEY": collector.admin_key}
    return subprocess.run(
        [sys.executable, "-m", "mlpulse", *args], capture_output=True, text=True, env=env
    )


def test_a_failing_canary_is_taken_out_and_the_champion_is_untouched(
    collector: RunningCollector,
) -> None:
    admin = httpx.Client(base_url=collector.url, headers=collector.headers(collector.admin_key))
    _canary(collector, admin)
    runbook = {"match": {"alertname": "errors-up"}, "actions": [{"kind": "rollback"}]}
    assert admin.put("/v1/config", json=_config(rollback=runbook)).is_success

    failing_since = _serve_until(collector, lambda: "v2" not in _table(admin))
    assert failing_since is not None, "v2 was never taken out"

    assert _table(admin) == {"v1": ("champion", 100)}
    kinds = [d["kind"] for d in admin.get("/v1/deployments", params={"model": "recs"}).json()[
        "deployments"]]  # fmt: skip
    assert "rollback" not in kinds  # the champion was never rolled back
    (item,) = admin.get("/v1/incidents").json()["incidents"]
    incident = item["incident"]
    print(f"canary: time to detect {item['times']['time_to_detect']:.2f} s, to recover "
          f"{item['times']['time_to_recover']:.2f} s, recorded onset - first failure "
          f"{incident['onset_at'] - failing_since:+.2f} s")  # fmt: skip
    assert incident["status"] == "mitigated" and incident["onset_method"] == "detector"
    (action,) = [e for e in incident["timeline"] if e["kind"] == "action"]
    assert action["data"]["detail"].startswith("took recs/v2 out of traffic: v1=champion:100")

    shown = _cli(collector, "incidents", "show", incident["id"])
    assert shown.returncode == 0, shown.stderr
    assert "took recs/v2 out of traffic" in shown.stdout
    assert "the streaming detector's change-point estimate" in shown.stdout
    admin.close()


def test_a_second_stale_approval_is_refused_and_a_rejection_sticks(
    collector: RunningCollector,
) -> None:
    admin = httpx.Client(base_url=collector.url, headers=collector.headers(collector.admin_key))
    _canary(collector, admin)
    ask = {"match": {"alertname": "errors-up"}, "actions": [{"kind": "rollback"}],
           "require_approval": True, "confirm": {"failures": 1}}  # fmt: skip
    circuit = {**ask, "actions": [{"kind": "open_circuit"}]}
    assert admin.put("/v1/config", json=_config(oncall=ask, team=ask, circuit=circuit)).is_success

    def asked() -> bool:
        return len(admin.get("/v1/incidents/approvals").json()["approvals"]) == 3

    assert _serve_until(collector, asked) is not None, "the runbooks never asked for approval"
    approvals = {a["runbook"]: a for a in admin.get("/v1/incidents/approvals").json()["approvals"]}
    assert {a["version"] for a in approvals.values()} == {"v2"}

    rejected = _cli(collector, "incidents", "reject", approvals["circuit"]["id"],
                    "--reason", "the canary is being fixed")  # fmt: skip
    assert rejected.returncode == 0 and "rejected" in rejected.stderr, rejected.stderr
    first = admin.post(f"/v1/incidents/approvals/{approvals['oncall']['id']}")
    assert first.status_code == 200 and first.json()["status"] == "ok", first.text
    assert _table(admin) == {"v1": ("champion", 100)}

    second = admin.post(f"/v1/incidents/approvals/{approvals['team']['id']}")
    assert second.status_code == 409, second.text
    assert "recs/v2 is not serving any more" in second.json()["error"]["message"]
    again = admin.post(f"/v1/incidents/approvals/{approvals['circuit']['id']}")
    assert again.status_code == 409 and "is rejected" in again.json()["error"]["message"]
    assert admin.get("/v1/incidents/approvals").json()["approvals"] == []
    admin.close()


def test_a_rollout_and_a_bandit_cannot_steer_one_model(
    shared_collector: RunningCollector,
) -> None:
    collector = shared_collector
    admin = httpx.Client(base_url=collector.url, headers=collector.headers(collector.admin_key))
    collector.register("steer-shop", ["v1", "v2"])
    collector.register("steer-ads", ["v1", "v2"])
    rollout = {"model": "steer-shop", "challenger": "v2", "primary": {"name": "purchase"}}
    bandit = {"model": "steer-shop", "versions": ["v1", "v2"], "reward": {"name": "purchase"}}

    harmful = admin.post("/v1/rollouts", json={
        **rollout, "primary": {"name": "purchase", "max_harm": -0.1}})  # fmt: skip
    assert harmful.status_code == 422 and harmful.json()["error"]["field"] == "primary.max_harm"
    assert admin.post("/v1/rollouts", json=rollout).status_code == 201
    refused = admin.post("/v1/bandits", json=bandit)
    assert refused.status_code == 409 and "running rollout" in refused.text

    assert admin.post("/v1/bandits", json={**bandit, "model": "steer-ads"}).status_code == 201
    refused = admin.post("/v1/rollouts", json={**rollout, "model": "steer-ads"})
    assert refused.status_code == 409 and "running bandit" in refused.text
    admin.close()
