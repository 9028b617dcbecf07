"""Acknowledged events survive a SIGKILL of the collector."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import duckdb
import httpx
import msgspec
import pytest

from mlpulse.domain.auth import Scope
from mlpulse.testing.process import CollectorProcess, create_key

pytestmark = pytest.mark.slow


def _batch(sender: int, n: int, serial: int) -> tuple[str, list[str], bytes]:
    batch_id = f"crash-{sender}-{serial}-{uuid.uuid4().hex[:8]}"
    request_ids = [f"{batch_id}-{i}" for i in range(n)]
    events = [
        {
            "kind": "prediction",
            "model": "crash",
            "version": f"v{sender}",
            "request_id": rid,
            "timestamp": time.time(),
            "features": {"amount": float(i), "country": "DE"},
            "prediction": 1,
            "latency_ms": 2.0,
        }
        for i, rid in enumerate(request_ids)
    ]
    return batch_id, request_ids, msgspec.msgpack.encode({"batch_id": batch_id, "events": events})


def _send_until_refused(
    url: str, key: str, sender: int, acknowledged: list[str], stop: threading.Event
) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/msgpack"}
    with httpx.Client(timeout=5.0) as http:
        serial = 0
        while not stop.is_set():
            _, request_ids, body = _batch(sender, 200, serial)
            serial += 1
            try:
                response = http.post(f"{url}/v1/ingest", content=body, headers=headers)
            except httpx.TransportError:
                return  # the collector is gone: what was not acknowledged may be lost
            if response.status_code == 200:
                assert response.json()["accepted"] == len(request_ids)
                acknowledged.extend(request_ids)


def test_collector_keeps_acknowledged_events_when_killed_with_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = create_key(data_dir, [Scope.ADMIN])
    collector = CollectorProcess(data_dir).start()
    acknowledged: list[list[str]] = [[], []]
    stop = threading.Event()
    senders = [
        threading.Thread(
            target=_send_until_refused, args=(collector.url, key, i, acknowledged[i], stop)
        )
        for i in range(2)
    ]
    for sender in senders:
        sender.start()
    deadline = time.monotonic() + 30
    while sum(map(len, acknowledged)) < 20_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    collector.kill()  # mid-stream: requests are in flight and commits are queued
    stop.set()
    for sender in senders:
        sender.join(10)
    acked = {rid for ids in acknowledged for rid in ids}
    assert len(acked) >= 20_000

    restarted = CollectorProcess(data_dir).start()
    try:
        summary = httpx.get(
            f"{restarted.url}/v1/models/crash/summary",
            params={"window": "1d"},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        assert sum(v["count"] for v in summary["versions"]) >= len(acked)
    finally:
        restarted.stop()

    with duckdb.connect(str(data_dir / "events.duckdb"), read_only=True) as con:
        stored = [row[0] for row in con.execute("SELECT request_id FROM predictions").fetchall()]
    assert len(stored) == len(set(stored)), "a batch was stored twice"
    missing = acked - set(stored)
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
