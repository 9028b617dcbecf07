"""One suite over every EventStore and MetadataStore: the fakes keep the adapters' promises."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.postgres.events import PostgresEventStore
from mlpulse.adapters.store.postgres.metadata import PostgresMetadataStore
from mlpulse.adapters.store.sqlite_metadata import SQLiteMetadataStore
from mlpulse.domain.auth import Scope, hash_token
from mlpulse.domain.events import Label, Outcome, PredictionBlock, Resource
from mlpulse.domain.models import ResourcePeak
from mlpulse.domain.schema import ColumnKind
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.ports import EventStore, MetadataStore
from mlpulse.testing.fakes import InMemoryEventStore, InMemoryMetadataStore
from tests.contract.conftest import postgres_database

NOW = 1_767_225_600.0
T = TypeVar("T")
Make = Callable[[Path, pytest.FixtureRequest], T]
EVENT_STORES: dict[str, Make[EventStore]] = {
    "duckdb": lambda tmp, _: DuckDBEventStore(tmp / "events.duckdb"),
    "in-memory": lambda tmp, _: InMemoryEventStore(),
    "postgres": lambda _, request: PostgresEventStore(postgres_database(request)),
}
METADATA_STORES: dict[str, Make[MetadataStore]] = {
    "sqlite": lambda tmp, _: SQLiteMetadataStore(tmp / "metadata.sqlite"),
    "in-memory": lambda tmp, _: InMemoryMetadataStore(),
    "postgres": lambda _, request: PostgresMetadataStore(postgres_database(request)),
}


@pytest.fixture(params=sorted(EVENT_STORES))
def event_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    store = EVENT_STORES[request.param](tmp_path, request)
    yield store
    store.close()


@pytest.fixture(params=sorted(METADATA_STORES))
def metadata(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    store = METADATA_STORES[request.param](tmp_path, request)
    yield store
    store.close()


def _block(version: str, latencies: list[float], *, start: float = NOW - 30) -> PredictionBlock:
    n = len(latencies)
    return PredictionBlock(
        model="fraud",
        version=version,
        request_id=[f"{version}-{start}-{i}" for i in range(n)],
        features={"amount": [float(i) for i in range(n)]},
        timestamp=[start + i * 0.01 for i in range(n)],
        latency_ms=latencies,
        error=["boom" if i % 4 == 0 else None for i in range(n)],
    )


def test_event_store_counts_what_it_stored(event_store: EventStore) -> None:
    batch = AcceptedBatch(
        "b1",
        NOW,
        predictions=[_block("v1", [1.0, 2.0, 3.0])],
        labels=[Label(model="fraud", request_id="v1-x-0", label=1.0)],
        outcomes=[Outcome(name="click"), Outcome(name="buy", value=3.5)],
        resources=[Resource(host="h", pid=1, cpu_percent=5.0), Resource(gpu_utilization=[1.0])],
    )
    result = event_store.append(batch).result(10)
    assert (result.accepted, result.duplicate) == (8, False)
    counts = [event_store.count(k) for k in ("prediction", "label", "outcome", "resource")]
    assert counts == [3, 1, 2, 2]


def test_event_store_deletes_old_resource_samples_with_the_other_events(
    event_store: EventStore,
) -> None:
    old, new = NOW - 86_400, NOW
    batch = AcceptedBatch(
        "b1",
        NOW,
        outcomes=[Outcome(name="click", timestamp=old)],
        resources=[
            Resource(pid=1, cpu_percent=1.0, timestamp=old),
            Resource(pid=1, cpu_percent=2.0, timestamp=new),
            Resource(pid=2, cpu_percent=3.0),  # no timestamp: the time it was received
        ],
    )
    event_store.append(batch).result(10)
    assert event_store.delete_events_before(NOW - 3600) == 2
    assert [event_store.count(k) for k in ("outcome", "resource")] == [0, 2]


def test_event_store_reports_each_serving_process_peak_resources(event_store: EventStore) -> None:
    def sample(
        pid: int,
        cpu: float | None,
        t: float,
        memory: float | None = None,
        gpu: list[float] | None = None,
    ) -> Resource:
        return Resource(model="recs", version="v2", host="web-1", pid=pid, cpu_percent=cpu,
                        memory_percent=memory, gpu_utilization=gpu, timestamp=t)  # fmt: skip

    batch = AcceptedBatch(
        "r1",
        NOW,
        resources=[
            sample(1, 40.0, NOW - 100, memory=30.0),
            sample(1, 97.0, NOW - 50, memory=35.0, gpu=[10.0, 99.0]),
            sample(2, None, NOW - 50, memory=91.0),
            sample(1, 100.0, NOW - 5000),  # before the window
            Resource(model="fraud", host="web-1", pid=1, cpu_percent=100.0, timestamp=NOW - 50),
        ],
    )
    event_store.append(batch).result(10)

    peaks = event_store.resource_peaks("recs", start=NOW - 600, end=NOW)

    assert peaks == [
        ResourcePeak("web-1", 1, "v2", 2, 97.0, 35.0, 99.0),
        ResourcePeak("web-1", 2, "v2", 1, None, 91.0, None),
    ]
    assert event_store.resource_peaks("nobody", start=NOW - 600, end=NOW) == []


def test_event_store_stores_a_batch_id_once(event_store: EventStore) -> None:
    batch = AcceptedBatch("same", NOW, predictions=[_block("v1", [1.0])])
    assert not event_store.append(batch).result(10).duplicate
    again = event_store.append(batch).result(10)
    assert again.duplicate and again.accepted == 1
    assert event_store.count("prediction") == 1


def test_event_store_summarises_versions_with_exact_percentiles(event_store: EventStore) -> None:
    rng = np.random.default_rng(5)
    v1 = [float(x) for x in rng.lognormal(2, 0.5, 400)]
    v2 = [float(x) for x in rng.lognormal(3, 0.5, 40)]
    event_store.append(AcceptedBatch("a", NOW, predictions=[_block("v1", v1)])).result(10)
    event_store.append(AcceptedBatch("b", NOW, predictions=[_block("v2", v2)])).result(10)
    old = _block("v1", [999.0], start=NOW - 5000)
    event_store.append(AcceptedBatch("c", NOW, predictions=[old])).result(10)
    summaries = event_store.version_summaries("fraud", start=NOW - 60, end=NOW)
    assert [s.version for s in summaries] == ["v1", "v2"]
    for summary, latencies in zip(summaries, (v1, v2), strict=True):
        assert summary.count == len(latencies)
        assert summary.errors == len(range(0, len(latencies), 4))
        expected = np.percentile(latencies, [50, 95, 99])
        got = [summary.latency_ms.p50, summary.latency_ms.p95, summary.latency_ms.p99]
        assert got == pytest.approx(expected)
    assert event_store.version_summaries("nobody", start=NOW - 60, end=NOW) == []


def test_metadata_store_finds_keys_by_hash_and_honours_revocation(
    metadata: MetadataStore,
) -> None:
    key, token = metadata.create_key([Scope.READ], name="grafana", now=1.0)
    assert metadata.find_key(hash_token(token)) == key
    assert metadata.revoke_key(key.key_id, now=2.0)
    found = metadata.find_key(hash_token(token))
    assert found is not None and found.revoked_at == 2.0
    assert not metadata.revoke_key("missing", now=3.0)


def test_metadata_store_merges_inferred_schema_with_overrides(metadata: MetadataStore) -> None:
    metadata.upsert_models({("fraud", "v1"): {"zip": ColumnKind.NUMERIC}}, now=1.0)
    metadata.upsert_models({("fraud", "v2"): {"age": ColumnKind.NUMERIC}}, now=2.0)
    metadata.set_schema_overrides("fraud", {"zip": ColumnKind.CATEGORICAL})
    (info,) = metadata.list_models()
    assert [v.version for v in info.versions] == ["v1", "v2"]
    assert info.schema == {"zip": ColumnKind.CATEGORICAL, "age": ColumnKind.NUMERIC}
    assert info.overrides == {"zip": ColumnKind.CATEGORICAL}
    # One model's schema alone, the same as in the list; {} for a model without any.
    metadata.upsert_models({("other", "v1"): {"x": ColumnKind.TEXT}}, now=3.0)
    assert metadata.model_schema("fraud") == info.schema
    assert metadata.model_schema("other") == {"x": ColumnKind.TEXT}
    assert metadata.model_schema("nope") == {}


def test_event_store_commits_what_is_queued_when_it_closes(event_store: EventStore) -> None:
    futures = [
        event_store.append(AcceptedBatch(f"b{i}", NOW, predictions=[_block("v1", [1.0, 2.0])]))
        for i in range(50)
    ]
    event_store.close()  # closing twice (again by the fixture) is harmless
    assert [f.result(0).accepted for f in futures] == [2] * 50
