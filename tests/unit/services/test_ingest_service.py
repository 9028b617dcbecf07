"""The ingest service over the in-memory fakes."""

from __future__ import annotations

import asyncio

from mlpulse.domain.events import Label, Outcome, Prediction, PredictionBlock, Resource
from mlpulse.domain.ingest import IngestResult, Rejection
from mlpulse.domain.schema import ColumnKind
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.services.ingest import IngestService, SchemaTracker
from mlpulse.testing.fakes import InMemoryEventStore, InMemoryMetadataStore


class FixedClock:
    def __init__(self, now: float) -> None:
        self.value = now

    def now(self) -> float:
        return self.value


class RecordingObserver:
    def __init__(self) -> None:
        self.seen: list[tuple[AcceptedBatch, IngestResult]] = []

    def observe(self, batch: AcceptedBatch, result: IngestResult, seconds: float) -> None:
        self.seen.append((batch, result))


def _service() -> tuple[
    IngestService, InMemoryEventStore, InMemoryMetadataStore, RecordingObserver
]:
    store, metadata, observer = InMemoryEventStore(), InMemoryMetadataStore(), RecordingObserver()
    tracker = SchemaTracker(metadata, versions=set(), columns={})
    return IngestService(store, tracker, FixedClock(1_000.0), observer), store, metadata, observer


def test_ingest_service_joins_prediction_rows_to_blocks_and_keeps_other_kinds() -> None:
    service, store, _, observer = _service()
    rows = [
        Prediction("fraud", "v1", "r1", {"amount": 1.0}),
        Prediction("fraud", "v2", "r2", {"amount": 2.0}),
        Label(model="fraud", request_id="r1", label=0.0),
        Outcome(name="click"),
        Resource(host="web-1", pid=7, cpu_percent=3.0),
    ]
    block = PredictionBlock("fraud", "v1", ["r3", "r4"], features={"country": ["DE", None]})
    rejected = [Rejection(index=9, field="events[9].model", reason="required field is missing")]
    pending = service.submit("b1", rows, [block], rejected)
    result = asyncio.run(service.acknowledge(pending))
    assert (result.accepted, len(result.rejected)) == (7, 1)
    (stored,) = store.batches
    assert sorted((b.version, len(b)) for b in stored.predictions) == [
        ("v1", 1),
        ("v1", 2),
        ("v2", 1),
    ]
    assert (len(stored.labels), len(stored.outcomes), stored.received_at) == (1, 1, 1_000.0)
    assert stored.resources == [Resource(host="web-1", pid=7, cpu_percent=3.0)]
    assert len(observer.seen) == 1


def test_ingest_service_records_new_versions_and_column_kinds() -> None:
    service, _, metadata, _ = _service()
    block = PredictionBlock(
        "fraud", "v1", ["a", "b"], features={"amount": [None, 3.0], "vip": [True, False]}
    )
    asyncio.run(service.acknowledge(service.submit("b1", [], [block], [])))
    (info,) = metadata.list_models()
    assert [v.version for v in info.versions] == ["v1"]
    assert info.schema == {"amount": ColumnKind.NUMERIC, "vip": ColumnKind.BOOLEAN}


def test_ingest_service_does_not_observe_a_duplicate_twice() -> None:
    service, store, _, observer = _service()
    block = PredictionBlock("fraud", "v1", ["a"])
    first = asyncio.run(service.acknowledge(service.submit("same", [], [block], [])))
    again = asyncio.run(service.acknowledge(service.submit("same", [], [block], [])))
    assert not first.duplicate and again.duplicate
    assert len(observer.seen) == 1
    assert store.count("prediction") == 1


def test_ingest_service_names_batches_that_came_without_an_id() -> None:
    service, _, _, _ = _service()
    pending = service.submit(None, [Outcome(name="click")], [], [])
    assert pending.batch.batch_id.startswith("srv-")
