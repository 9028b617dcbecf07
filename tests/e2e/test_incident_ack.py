"""``mlpulse incidents ack`` through a real collector acknowledges the incident's alerts:
the PagerDuty and Opsgenie pages (posted to a local receiver) are acknowledged within
seconds, not at the group's next reminder hours later."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import httpx

from mlpulse import Client
from tests.conftest import RunningCollector
from tests.integration.receivers import HttpReceiver, Reply


def _wait(done: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(0.02)
    return False


def test_incidents_ack_acknowledges_its_pages_in_pagerduty_and_opsgenie_at_once(
    collector: RunningCollector,
) -> None:
    admin = httpx.Client(base_url=collector.url, headers=collector.headers(collector.admin_key))
    collector.register("recs", ["v1"])
    with HttpReceiver(default=Reply(202, {"status": "success"})) as pager:
        config = {
            "version": 1,
            "rules": {"errors-up": {"kind": "detection", "series": "mlpulse_stream_change",
                                    "match": {"stream": "error_rate"}, "severity": "critical"}},
            "receivers": {
                "pd": {"kind": "pagerduty", "settings": {"routing_key": "R" * 32,
                                                         "events_url": pager.url + "/pd"}},
                "og": {"kind": "opsgenie", "settings": {"api_key": "k",
                                                        "api_url": pager.url + "/og"}},
            },
            "route": {"receiver": "pd", "group_wait": "0s", "repeat_interval": "4h", "routes": [
                {"receiver": "pd", "continue": True}, {"receiver": "og"}]},
        }  # fmt: skip
        assert admin.put("/v1/config", json=config).status_code == 200

        def paged() -> bool:
            paths = [r.path for r in pager.requests]
            return "/pd/v2/enqueue" in paths and "/og/v2/alerts" in paths

        with Client(collector.url, collector.ingest_key, flush_interval=0.05) as client:
            started = time.perf_counter()
            while not paged() and time.perf_counter() - started < 30:
                failing = time.perf_counter() - started > 2.0
                error = "RuntimeError: model crashed" if failing else None
                client.log_prediction("recs", "v1", {"x": 1.0}, 1.0, latency_ms=3.0, error=error)
                time.sleep(0.004)
        assert _wait(paged, 10.0), [r.path for r in pager.requests]
        (item,) = admin.get("/v1/incidents").json()["incidents"]
        incident = item["incident"]

        env = {**os.environ, "MLPULSE_URL": collector.url, "MLPULSE_API_KEY": collector.admin_key}
        asked = time.perf_counter()
        command = [sys.executable, "-m", "mlpulse", "incidents", "ack", incident["id"]]
        acked = subprocess.run(command, capture_output=True, text=True, env=env)
        assert acked.returncode == 0, acked.stderr

        def acknowledged() -> bool:
            actions = [r.json()["event_action"] for r in pager.requests if r.path.startswith("/pd")]
            og = [r.path for r in pager.requests if r.path.endswith("/acknowledge")]
            return actions == ["trigger", "acknowledge"] and len(og) == 1

        assert _wait(acknowledged, 5.0), [(r.path, r.body[:80]) for r in pager.requests]
        delay = time.perf_counter() - asked
        print(f"mlpulse incidents ack → PagerDuty and Opsgenie acknowledged: {delay:.2f} s")
        pd = [r.json() for r in pager.requests if r.path.startswith("/pd")]
        assert pd[0]["dedup_key"] == pd[1]["dedup_key"]  # the same PagerDuty incident
        (alert,) = admin.get("/v1/alerts", params={"state": "firing"}).json()["alerts"]
        assert alert["acknowledged_by"] == "admin"
        shown = admin.get(f"/v1/incidents/{incident['id']}").json()["incident"]
        assert shown["status"] == "acknowledged"
        assert shown["timeline"][-1]["text"] == "acknowledged by admin with its firing alert"
    admin.close()
