"""A runbook whose target hangs delays neither the page nor an acknowledgement, through a
real collector: the orchestrator holds the runbook's webhook for 20 s while the page
reaches the pager within 2 s of the alert firing."""

from __future__ import annotations

import threading
import time

import httpx

from mlpulse import Client
from tests.conftest import RunningCollector
from tests.integration.receivers import HttpReceiver, Reply


def test_a_hanging_runbook_target_does_not_delay_the_page(collector: RunningCollector) -> None:
    admin = httpx.Client(base_url=collector.url, headers=collector.headers(collector.admin_key))
    collector.register("recs", ["v1"])
    with HttpReceiver() as pager, HttpReceiver(Reply(200, "started", delay=20.0)) as orchestrator:
        config = {
            "version": 1,
            "rules": {"errors-up": {"kind": "detection", "series": "mlpulse_stream_change",
                                    "match": {"stream": "error_rate"}, "severity": "critical"}},
            "receivers": {"pager": {"kind": "webhook", "settings": {"url": pager.url}}},
            "route": {"receiver": "pager", "group_wait": "0s"},
            "runbooks": {"retrain": {
                "match": {"alertname": "errors-up"}, "confirm": {"failures": 1},
                "actions": [{"kind": "webhook", "url": orchestrator.url + "/retrain"}]}},
        }  # fmt: skip
        assert admin.put("/v1/config", json=config).status_code == 200

        paged_at: list[float] = []

        def watch() -> None:  # stamp the page when it arrives
            deadline = time.time() + 60
            while not pager.requests and time.time() < deadline:
                time.sleep(0.01)
            paged_at.append(time.time())

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        with Client(collector.url, collector.ingest_key, flush_interval=0.05) as client:
            started = time.perf_counter()
            while not pager.requests and time.perf_counter() - started < 30:
                failing = time.perf_counter() - started > 2.0
                error = "RuntimeError: model crashed" if failing else None
                client.log_prediction("recs", "v1", {"x": 1.0}, 1.0, latency_ms=3.0, error=error)
                time.sleep(0.004)
        watcher.join(30)
        assert pager.requests, "the alert was never paged"

        (alert,) = admin.get("/v1/alerts", params={"state": "firing"}).json()["alerts"]
        delay = paged_at[0] - alert["starts_at"]
        print(f"alert firing → page received: {delay:.2f} s")
        assert delay < 2.0, f"the page took {delay:.2f} s"
        assert pager.requests[0].json()["status"] == "firing"

        deadline = time.time() + 10
        while not orchestrator.requests and time.time() < deadline:
            time.sleep(0.05)
        assert orchestrator.requests, "the runbook never called its target"
        asked = time.perf_counter()
        acked = admin.post(f"/v1/alerts/{alert['fingerprint']}/ack")
        assert acked.status_code == 200 and time.perf_counter() - asked < 1.0
        assert admin.get("/v1/incidents/approvals").status_code == 200
        (item,) = admin.get("/v1/incidents").json()["incidents"]
        actions = [e for e in item["incident"]["timeline"] if e["kind"] == "action"]
        assert actions == []  # the webhook is still held by the orchestrator
    admin.close()
