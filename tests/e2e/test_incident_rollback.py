"""The whole loop: a failing champion is detected, an incident opens, a runbook rolls back,
and the serving process's router switches version — timed, and checked against the
incident's own record."""

from __future__ import annotations

import time

import httpx

from mlpulse import Client
from tests.conftest import RunningCollector

CONFIG = {
    "version": 1,
    "rules": {
        "errors-up": {
            "kind": "detection", "series": "mlpulse_stream_change",
            "match": {"stream": "error_rate"}, "severity": "critical",
            "annotations": {"summary": "{{ $labels.model }}/{{ $labels.version }} errors up"},
        }
    },
    "runbooks": {
        "rollback-on-errors": {
            "match": {"alertname": "errors-up"}, "actions": [{"kind": "rollback"}],
            "cooldown": "10m",
        }
    },
}  # fmt: skip


def test_failing_champion_is_rolled_back_and_the_router_switches_within_10_s(
    collector: RunningCollector,
) -> None:
    admin = collector.headers(collector.admin_key)
    collector.register("recs", ["v1", "v2"], champion="v2")
    assert httpx.put(f"{collector.url}/v1/config", json=CONFIG, headers=admin).is_success

    with Client(collector.url, collector.ingest_key, flush_interval=0.05) as client:
        router = client.router("recs")
        assert router.choose("user-0").version == "v2"
        started = time.perf_counter()
        failing_since: float | None = None
        switched_at: float | None = None
        i = 0
        while time.perf_counter() - started < 30:
            i += 1
            version = router.choose(f"user-{i}").version
            now = time.perf_counter()
            if failing_since is None and now - started >= 2.0:
                failing_since, failing_wall = now, time.time()  # v2 starts to fail
            if failing_since is not None and version == "v1":
                switched_at = now
                break
            broken = failing_since is not None and version == "v2"
            error = "RuntimeError: model crashed" if broken else None
            if broken and i % 20 == 0:  # the failing process is pegged at a full core
                client.log_resource(model="recs", version="v2", host="web-1", pid=4242,
                                    cpu_percent=99.0, memory_percent=40.0)  # fmt: skip
            client.log_prediction("recs", version, {"x": 1.0}, 1.0, latency_ms=3.0, error=error)
            time.sleep(0.004)  # about 200 requests a second
        assert failing_since is not None and switched_at is not None, "the router never switched"
        measured = switched_at - failing_since
        print(f"failure onset → router switched: {measured:.2f} s")
        assert measured < 10.0, f"failure onset → router switched took {measured:.2f} s"
        for i in range(375):  # one and a half seconds of traffic on v1 after the rollback
            version = router.choose(f"after-{i}").version
            client.log_prediction("recs", version, {"x": 1.0}, 1.0, latency_ms=3.0)
            time.sleep(0.004)
        assert client.flush(timeout=10.0)

    incidents = httpx.get(f"{collector.url}/v1/incidents", headers=admin).json()["incidents"]
    assert len(incidents) == 1
    incident, times = incidents[0]["incident"], incidents[0]["times"]
    assert incident["model"] == "recs" and incident["status"] == "mitigated"
    # The incident dates the failure from the detector's change-point estimate: its MTTR
    # (onset → rollback) agrees with the measurement (onset → router switched).
    assert abs(times["time_to_recover"] - measured) < 1.0, (times, measured)
    assert abs(incident["onset_at"] - failing_wall) < 1.0
    table = httpx.get(f"{collector.url}/v1/routing/recs", headers=admin).json()
    assert {e["version"]: e["stage"] for e in table["entries"]} == {"v1": "champion"}

    draft = httpx.get(f"{collector.url}/v1/incidents/{incident['id']}/postmortem", headers=admin)
    assert draft.status_code == 200
    text = draft.text
    assert "errors-up (recs/v2)" in text and "rollback — ok" in text
    assert f"{times['time_to_recover']:.1f} s" in text
    assert "promote recs v2" in text  # the deployment before the onset, as a hint
    assert "Resource saturation: web-1 pid 4242 (v2) reached CPU 99% of a core" in text

    # A second failure inside the cooldown does not roll back again (no loop).
    actions = [e for e in incident["timeline"] if e["kind"] == "action"]
    assert len(actions) == 1
    # The rollback is a deployment, and it is on the incident's timeline too.
    deployments = [e["text"] for e in incident["timeline"] if e["kind"] == "deployment"]
    assert any(text.startswith("rollback: recs champion v1") for text in deployments)

    # The rollback compared before and after: its "before" runs from the promotion (the
    # traffic move before it) and holds the failures; its "after" is v1's clean traffic.
    impact = httpx.get(f"{collector.url}/v1/deployments/impact", params={"model": "recs"},
                       headers=admin)  # fmt: skip
    assert impact.status_code == 200, impact.text
    rolled = [i for i in impact.json()["impacts"] if i["deployment"]["kind"] == "rollback"]
    assert len(rolled) == 1
    before, after = rolled[0]["before"], rolled[0]["after"]
    promote = next(i for i in impact.json()["impacts"] if i["deployment"]["kind"] == "promote")
    assert before["start"] == promote["deployment"]["at"]
    assert before["errors"] > 0 and before["error_rate"] > 0.05, before
    assert after is not None, [(i["deployment"], i["after"]) for i in impact.json()["impacts"]]
    assert after["predictions"] >= 300 and after["error_rate"] < 0.02, after
