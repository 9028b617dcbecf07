"""Two collectors (replicas) on one PostgreSQL database, through the HTTP API: what one
stores the other sees, and a batch sent to both is stored once."""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from mlpulse.adapters.store.factory import open_metadata
from mlpulse.domain.auth import Scope
from mlpulse.server.app import create_app
from mlpulse.server.settings import Settings

# Starlette 1.x warns at import that its TestClient wants the `httpx2` package, which the
# dev environment does not install; with plain httpx the TestClient works the same.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient, str]]:
    """Two apps on one schema of the session's database, and an admin key."""
    url = f"{postgres_url}?options=-csearch_path%3Dr_{secrets.token_hex(6)}"
    with ExitStack() as stack:
        clients = []
        for name in ("a", "b"):
            settings = Settings.from_env(
                {"MLPULSE_STORE": url, "MLPULSE_WRITER_ID": name}, data_dir=tmp_path / name
            )
            clients.append(stack.enter_context(TestClient(create_app(settings))))
        with open_metadata(settings) as metadata:
            token = metadata.create_key([Scope.ADMIN], name="admin", now=time.time())[1]
        yield clients[0], clients[1], token


def test_postgres_replicas_share_events_and_store_a_batch_once(
    replicas: tuple[TestClient, TestClient, str],
) -> None:
    a, b, token = replicas
    headers = {"Authorization": f"Bearer {token}"}
    now = time.time()
    batch = {
        "batch_id": "shared-1",
        "events": [
            {"kind": "prediction", "model": "fraud", "version": "v1", "request_id": f"r{i}",
             "features": {"amount": float(i), "country": "DE"}, "latency_ms": 2.0 + i,
             "timestamp": now - 5}
            for i in range(10)
        ],
    }  # fmt: skip

    first = a.post("/v1/ingest", json=batch, headers=headers)
    again = b.post("/v1/ingest", json=batch, headers=headers)  # a retry, to the other one

    assert first.status_code == 200, first.text
    assert (first.json()["accepted"], first.json()["duplicate"]) == (10, False)
    assert (again.json()["accepted"], again.json()["duplicate"]) == (10, True)
    summary = b.get("/v1/models/fraud/summary?window=5m", headers=headers)
    assert summary.status_code == 200, summary.text
    (version,) = summary.json()["versions"]
    assert (version["version"], version["count"]) == ("v1", 10)
    models = a.get("/v1/models", headers=headers).json()
    assert [m["model"] for m in models["models"]] == ["fraud"]
