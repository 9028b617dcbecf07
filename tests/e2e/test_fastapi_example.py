"""examples/fastapi_service.py against a real collector: what the service logs arrives.

The example is imported from its file with ``MLPULSE_URL`` / ``MLPULSE_API_KEY`` pointing at
a collector in a child process, driven with FastAPI's TestClient (which runs its lifespan:
the SDK client is made at start-up and closed, so flushed, at shutdown), and every check
is made through the collector's HTTP API.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningCollector

# Starlette 1.x warns at import that its TestClient wants the `httpx2` package, which the
# dev environment does not install; with plain httpx the TestClient works the same.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_service.py"
COUNTRIES = ("DE", "FR", "US", "BR")


def load_example(monkeypatch: pytest.MonkeyPatch, url: str, key: str) -> ModuleType:
    """A fresh copy of the example module, configured through the environment."""
    monkeypatch.setenv("MLPULSE_URL", url)
    monkeypatch.setenv("MLPULSE_API_KEY", key)
    name = "fastapi_service_example"
    spec = importlib.util.spec_from_file_location(name, EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # pydantic resolves the models' types here
    spec.loader.exec_module(module)
    return module


def transaction(i: int) -> dict[str, Any]:
    return {
        "user_id": f"user-{i}",
        "amount": 5.0 + (i * 37) % 400,
        "account_age_days": float((i * 53) % 2000),
        "country": COUNTRIES[i % len(COUNTRIES)],
        "channel": "app" if i % 3 == 0 else "web",
    }


def ingest_counts(collector: RunningCollector) -> dict[str, float]:
    """``mlpulse_ingest_events_total`` by kind, from the collector's /metrics."""
    text = httpx.get(f"{collector.url}/metrics", headers=collector.headers(collector.read_key)).text
    return {
        sample.labels["kind"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "mlpulse_ingest_events_total"
    }


def summary(collector: RunningCollector) -> dict[str, dict[str, Any]]:
    found = httpx.get(
        f"{collector.url}/v1/models/fraud/summary",
        params={"window": "1h"},
        headers=collector.headers(collector.read_key),
    )
    assert found.status_code == 200, found.text
    return {row["version"]: row for row in found.json()["versions"]}


def test_predictions_labels_outcomes_and_errors_reach_the_collector(
    collector: RunningCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = load_example(monkeypatch, collector.url, collector.ingest_key)
    n, labelled, purchases = 60, 40, 10
    with TestClient(example.app, raise_server_exceptions=False) as http:
        service = example.app.state.service
        assert service.router is None  # 'fraud' is not in the registry: v1 serves all
        scored = []
        for i in range(n):
            answer = http.post("/predict", json=transaction(i))
            assert answer.status_code == 200, answer.text
            scored.append(answer.json())
        assert {s["version"] for s in scored} == {"v1"}
        assert all(0.0 <= s["score"] <= 1.0 for s in scored)
        assert len({s["request_id"] for s in scored}) == n
        for i, s in enumerate(scored[:labelled]):
            body = {"request_id": s["request_id"], "is_fraud": i % 4 == 0, "version": "v1"}
            assert http.post("/feedback", json=body).status_code == 202
        for s in scored[:purchases]:
            body = {"request_id": s["request_id"], "amount": 19.99, "version": s["version"]}
            assert http.post("/purchase", json=body).status_code == 202

        # A model that raises: a 500 for the caller, a prediction with an error for mlpulse.
        def broken(_: object) -> object:
            raise RuntimeError("model file is corrupt")

        monkeypatch.setattr(service.models["v1"], "predict_proba", broken)
        assert http.post("/predict", json=transaction(n)).status_code == 500
        assert http.get("/healthz").json()["status"] == "ok"
    # Leaving the block ran the lifespan's shutdown: client.close() delivered the buffer.
    stats = service.client.stats()
    assert (stats.sent, stats.rejected, stats.dropped) == (n + 1 + labelled + purchases, 0, 0)

    v1 = summary(collector)["v1"]
    assert (v1["count"], v1["errors"]) == (n + 1, 1)
    assert v1["latency_ms"]["p50"] > 0
    counts = ingest_counts(collector)
    assert (counts["prediction"], counts["label"], counts["outcome"]) == (
        n + 1,
        labelled,
        purchases,
    )

    # The labels are joined to their predictions by request id: with the task declared,
    # the performance monitor reports the share of predictions that have a label.
    admin = collector.headers(collector.admin_key)
    config = {"version": 1, "models": {"fraud": {"task": "binary_classification"}}}
    assert httpx.put(f"{collector.url}/v1/config", json=config, headers=admin).status_code == 200
    tick = httpx.post(f"{collector.url}/v1/evaluator/tick", headers=admin).json()
    assert tick["failures"] == []
    now = time.time()
    found = httpx.get(
        f"{collector.url}/v1/metrics/query",
        params={"name": "mlpulse_label_coverage", "match": "model=fraud",
                "start": now - 2 * 86400, "end": now + 60},
        headers=collector.headers(collector.read_key),
    ).json()  # fmt: skip
    (series,) = found["series"]
    coverage = [value for _, value, _ in series["points"]]
    if len(coverage) == 1:  # one daily window (two only when the test straddles midnight UTC)
        assert coverage[0] == pytest.approx(labelled / (n + 1))
    assert all(value is not None and 0 < value <= 1 for value in coverage)


def test_the_router_splits_users_between_champion_and_challenger(
    collector: RunningCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = collector.headers(collector.admin_key)
    for version in ("v1", "v2"):  # the first registered is champion at 100, the next shadow
        registered = httpx.post(
            f"{collector.url}/v1/registry/fraud/versions",
            json={"version": version, "artifact_uri": f"file:///models/fraud/{version}"},
            headers=admin,
        )
        assert registered.status_code == 201, registered.text
    routing = {"versions": [{"version": "v1", "stage": "champion", "weight": 50},
                            {"version": "v2", "stage": "challenger", "weight": 50}]}  # fmt: skip
    moved = httpx.put(f"{collector.url}/v1/registry/fraud/routing", json=routing, headers=admin)
    assert moved.status_code == 200, moved.text

    example = load_example(monkeypatch, collector.url, collector.ingest_key)
    users = 200
    with TestClient(example.app) as http:
        assert example.app.state.service.router is not None
        first = [http.post("/predict", json=transaction(i)).json() for i in range(users)]
        again = [http.post("/predict", json=transaction(i)).json() for i in range(users)]
    assert [a["version"] for a in again] == [f["version"] for f in first]  # sticky per user
    served = Counter(f["version"] for f in first)
    assert set(served) == {"v1", "v2"}
    # 200 users at 50/50: a share this far from a half has probability below 1e-6.
    assert abs(served["v1"] / users - 0.5) < 5 * math.sqrt(0.25 / users)

    by_version = summary(collector)
    assert {v: row["count"] for v, row in by_version.items()} == {
        version: 2 * count for version, count in served.items()
    }
