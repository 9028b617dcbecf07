"""Stopping a collector that SDK routers follow: their long-polls are answered at once,
and the stop does not wait out uvicorn's graceful timeout."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from mlpulse.domain.auth import Scope
from mlpulse.testing.process import CollectorProcess, create_key


def test_sigterm_answers_held_routing_long_polls_and_stops_promptly(tmp_path: Path) -> None:
    admin = {"Authorization": f"Bearer {create_key(tmp_path, [Scope.ADMIN], name='admin')}"}
    process = CollectorProcess(tmp_path).start()
    try:
        registered = httpx.post(
            f"{process.url}/v1/registry/recs/versions",
            json={"version": "v1", "artifact_uri": "s3://models/recs/v1"}, headers=admin,
        )  # fmt: skip
        assert registered.status_code == 201, registered.text
        etag = httpx.get(f"{process.url}/v1/routing/recs", headers=admin).headers["etag"]
        answers: list[int] = []

        def poll() -> None:
            held = httpx.get(
                f"{process.url}/v1/routing/recs", params={"wait": 25},
                headers={**admin, "If-None-Match": etag}, timeout=40,
            )  # fmt: skip
            answers.append(held.status_code)

        pollers = [threading.Thread(target=poll) for _ in range(3)]
        for poller in pollers:
            poller.start()
        time.sleep(0.5)  # the polls are held by the collector now
        assert answers == []
        started = time.monotonic()
        process.stop()
        took = time.monotonic() - started
        for poller in pollers:
            poller.join(10)
    finally:
        process.kill()
    assert answers == [304, 304, 304]  # unchanged table, answered rather than cancelled
    assert took < 5.0, f"the stop took {took:.1f} s"
    assert "CancelledError" not in process.log() and "Traceback" not in process.log()
