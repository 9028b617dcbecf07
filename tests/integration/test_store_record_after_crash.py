"""A collector killed with SIGKILL, its files damaged: the restart says what is missing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from mlpulse.domain.auth import Scope
from mlpulse.testing.process import CollectorProcess, create_key

pytestmark = pytest.mark.slow


def _mlpulse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlpulse", *args], capture_output=True, text=True)


def _ingest(url: str, key: str, batches: int) -> int:
    """Post ``batches`` acknowledged batches of 100 predictions; the events acknowledged."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/msgpack"}
    acked = 0
    for _ in range(batches):
        batch_id = uuid.uuid4().hex
        events = [
            {"kind": "prediction", "model": "rec", "version": "v1", "request_id": f"{batch_id}-{i}",
             "timestamp": time.time() - 300, "features": {"amount": float(i)}, "prediction": 1}
            for i in range(100)
        ]  # fmt: skip
        body = msgspec.msgpack.encode({"batch_id": batch_id, "events": events})
        response = httpx.post(f"{url}/v1/ingest", content=body, headers=headers)
        assert response.status_code == 200, response.text
        acked += response.json()["accepted"]
    return acked


def _recorded(data_dir: Path, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """store.json once ``check`` holds for it (it is refreshed every second)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            record: dict[str, Any] = msgspec.json.decode((data_dir / "store.json").read_bytes())
            if check(record):
                return record
        except (FileNotFoundError, msgspec.DecodeError):
            pass
        assert time.monotonic() < deadline, "store.json never recorded the batches"
        time.sleep(0.1)


def _health(collector: CollectorProcess, key: str) -> dict[str, Any]:
    response = httpx.get(f"{collector.url}/v1/health", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _crash_after_ingest(data_dir: Path, key: str) -> dict[str, Any]:
    collector = CollectorProcess(data_dir).start()
    acked = _ingest(collector.url, key, 20)
    record = _recorded(data_dir, lambda r: r["events"]["events"] >= acked)
    collector.kill()
    return record


WAL_DAMAGE = {
    "truncated": lambda wal: os.truncate(wal, wal.stat().st_size // 2),
    "emptied": lambda wal: os.truncate(wal, 0),
    "deleted": lambda wal: wal.unlink(),
}


@pytest.mark.parametrize("damage", WAL_DAMAGE, ids=str)
def test_restart_logs_an_error_naming_the_wal_when_it_was_damaged_after_sigkill(
    tmp_path: Path, damage: str
) -> None:
    data_dir = tmp_path / "data"
    key = create_key(data_dir, [Scope.ADMIN])
    record = _crash_after_ingest(data_dir, key)
    wal = data_dir / "events.duckdb.wal"
    assert wal.stat().st_size > 0, "the acknowledged events should be in the log"

    WAL_DAMAGE[damage](wal)

    doctor = _mlpulse("doctor", "--data-dir", str(data_dir))
    assert doctor.returncode == 1
    assert "MISSING: events.duckdb lacks " in doctor.stderr
    assert "acknowledged events are missing" in doctor.stderr
    with CollectorProcess(data_dir) as restarted:
        health = _health(restarted, key)
        log = restarted.log()
    assert health["status"] == "degraded"
    (finding,) = health["store"]["findings"]
    assert finding["file"] == "events.duckdb"
    assert (
        f"held {record['events']['batches']} ({record['events']['events']:,} events)"
        in (finding["message"])
    )
    assert "acknowledged events are missing" in finding["message"]
    assert {"truncated": "truncated?", "emptied": "was empty", "deleted": "was missing"}[
        damage
    ] in finding["message"]
    assert "STORE DATA MISSING: events.duckdb lacks" in log


def test_restart_logs_an_error_naming_profiles_sqlite_when_it_was_emptied_after_sigkill(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    key = create_key(data_dir, [Scope.ADMIN])
    with CollectorProcess(data_dir) as first:
        _ingest(first.url, key, 5)  # closed minutes: their profiles are written at the stop
    # A clean restart and a plain SIGKILL find nothing missing.
    with CollectorProcess(data_dir) as second:
        assert _health(second, key)["status"] == "ok"
    record = _crash_after_ingest(data_dir, key)
    profiles = record["sqlite"]["profiles.sqlite"]
    assert sum(profiles["rows"].values()) > 0
    with CollectorProcess(data_dir) as third:
        assert _health(third, key)["status"] == "ok"
        third.kill()

    os.truncate(data_dir / "profiles.sqlite", 0)

    with CollectorProcess(data_dir) as restarted:
        health = _health(restarted, key)
        log = restarted.log()
        doctor = _mlpulse("doctor", "--url", restarted.url, "--api-key", key)
    assert doctor.returncode == 1 and "MISSING: profiles.sqlite lost rows" in doctor.stderr
    assert health["status"] == "degraded"
    (finding,) = health["store"]["findings"]
    assert finding["file"] == "profiles.sqlite"
    assert "profiles.sqlite lost rows" in finding["message"]
    assert "emptied or replaced?" in finding["message"]
    assert "STORE DATA MISSING: profiles.sqlite lost rows" in log
