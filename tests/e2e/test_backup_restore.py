"""Backup through a running collector under ingest, restore, and the same store again."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import httpx
import msgspec
import numpy as np
import pytest

from mlpulse import Client
from mlpulse.testing.process import CollectorProcess
from tests.conftest import RunningCollector

pytestmark = pytest.mark.slow


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlpulse", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})},
    )  # fmt: skip


Acked = list[tuple[float, str, int]]


def _send(url: str, key: str, sender: int, acked: Acked, stop: threading.Event) -> None:
    """Post 100-event batches until stopped; record (ack time, batch id, events) of each ack."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/msgpack"}
    with httpx.Client(timeout=30.0) as http:
        serial = 0
        while not stop.is_set():
            batch_id = f"bk-{sender}-{serial}-{uuid.uuid4().hex[:6]}"
            serial += 1
            events = [
                {"kind": "prediction", "model": "bk", "version": "v1",
                 "request_id": f"{batch_id}-{i}", "timestamp": time.time() - 60,
                 "features": {"amount": float(i)}, "prediction": 1, "latency_ms": 2.0}
                for i in range(100)
            ]  # fmt: skip
            body = msgspec.msgpack.encode({"batch_id": batch_id, "events": events})
            response = http.post(f"{url}/v1/ingest", content=body, headers=headers)
            assert response.status_code == 200, response.text
            acked.append((time.monotonic(), batch_id, 100))


def _fire_an_alert(collector: RunningCollector) -> None:
    admin = collector.headers(collector.admin_key)
    config = {
        "version": 1,
        "monitors": {"slow-p99": {"model": "slow", "check": "latency", "metric": "p99",
                                  "window": "1h"}},
        "rules": {"latency-high": {"kind": "threshold", "series": "mlpulse_latency_seconds",
                                   "match": {"model": "slow"}, "op": ">", "value": 0.1,
                                   "severity": "warning"}},
    }  # fmt: skip
    applied = httpx.put(f"{collector.url}/v1/config", json=config, headers=admin)
    assert applied.status_code == 200, applied.text
    rng = np.random.default_rng(0)
    now = time.time()
    with Client(collector.url, collector.ingest_key) as client:
        for i in range(300):
            client.log_prediction("slow", "v1", {"x": 1.0}, 1.0,
                                  latency_ms=float(rng.gamma(20, 10)),
                                  timestamp=now - 1800 + i * 5)  # fmt: skip
        assert client.flush(timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        httpx.post(f"{collector.url}/v1/evaluator/tick", headers=admin)
        alerts = httpx.get(f"{collector.url}/v1/alerts", headers=admin).json()["alerts"]
        if any(a["state"] == "firing" for a in alerts):
            return
        time.sleep(0.3)
    raise AssertionError("the latency alert never fired")


def _state(url: str, key: str) -> dict[str, Any]:
    """What a restore must bring back: alerts, silences, registry, keys, config."""
    h = {"Authorization": f"Bearer {key}"}
    alerts = httpx.get(f"{url}/v1/alerts", headers=h).json()["alerts"]
    return {
        "alerts": sorted((a["fingerprint"], a["state"]) for a in alerts),
        "silences": httpx.get(f"{url}/v1/silences", headers=h).json(),
        "registry": httpx.get(f"{url}/v1/registry/bk", headers=h).json(),
        "keys": httpx.get(f"{url}/v1/keys", headers=h).json(),
        "config": httpx.get(f"{url}/v1/config", headers=h).json(),
    }


def _stored_batches(events_file: Path) -> dict[str, int]:
    with duckdb.connect(str(events_file), read_only=True) as con:
        return dict(con.execute("SELECT batch_id, accepted FROM batches").fetchall())  # type: ignore[arg-type]


def _prediction_count(url: str, key: str, model: str) -> int:
    summary = httpx.get(f"{url}/v1/models/{model}/summary", params={"window": "1d"},
                        headers={"Authorization": f"Bearer {key}"}).json()  # fmt: skip
    return sum(v["count"] for v in summary["versions"])


def test_backup_under_ingest_restores_a_store_that_serves_the_same_data(
    collector: RunningCollector, tmp_path: Path
) -> None:
    collector.register("bk", ["v1", "v2"], champion="v2")
    admin = collector.headers(collector.admin_key)
    silence = {"matchers": {"model": "x"}, "comment": "kept", "duration": "2d"}
    silenced = httpx.post(f"{collector.url}/v1/silences", headers=admin, json=silence)
    assert silenced.status_code == 201, silenced.text
    _fire_an_alert(collector)
    acked: list[Acked] = [[], []]
    stop = threading.Event()
    senders = [threading.Thread(target=_send, args=(collector.url, collector.ingest_key, i,
                                                    acked[i], stop)) for i in range(2)]  # fmt: skip
    for sender in senders:
        sender.start()
    while sum(map(len, acked)) < 100:
        time.sleep(0.05)
    started = time.monotonic()
    archive = tmp_path / "backup.tar.gz"
    backed_up = _cli("backup", "-o", str(archive), "--url", collector.url,
                     "--api-key", collector.admin_key)  # fmt: skip
    finished = time.monotonic()
    time.sleep(0.3)
    stop.set()
    for sender in senders:
        sender.join(30)
    assert backed_up.returncode == 0, backed_up.stderr
    assert "events.duckdb" in backed_up.stderr
    all_acked = {bid: n for part in acked for _, bid, n in part}
    before = {bid for part in acked for at, bid, _ in part if at < started}
    during = [bid for part in acked for at, bid, _ in part if started <= at <= finished]
    assert during, "no batch was acknowledged while the backup ran"
    live = _state(collector.url, collector.admin_key)
    assert ("firing" in {state for _, state in live["alerts"]}) and live["silences"]["silences"]

    restored_dir = tmp_path / "restored"
    restored = _cli("restore", str(archive), "--data-dir", str(restored_dir))
    assert restored.returncode == 0, restored.stderr

    in_backup = {b: n for b, n in _stored_batches(restored_dir / "events.duckdb").items()
                 if b.startswith("bk-")}  # fmt: skip
    assert before <= set(in_backup), "a batch acknowledged before the backup is not in it"
    assert set(in_backup) <= set(all_acked)
    # Nothing acknowledged is lost from the live store, during the backup or after it.
    collector.process.stop()
    assert set(all_acked) <= set(_stored_batches(collector.process.data_dir / "events.duckdb"))

    with CollectorProcess(restored_dir) as again:
        # The keys came back with the store: the old admin key works on the restored one.
        assert _state(again.url, collector.admin_key) == live
        assert _prediction_count(again.url, collector.admin_key, "bk") == sum(in_backup.values())
