"""The ingest service: accepted events to the store, the schema and the metrics."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from mlpulse.domain.blocks import blocks_from_rows
from mlpulse.domain.events import Event, Label, Outcome, Prediction, PredictionBlock, Resource
from mlpulse.domain.ingest import IngestResult, Rejection
from mlpulse.domain.schema import ColumnKind, column_kinds
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.ports import Clock, EventStore, MetadataStore


class IngestObserver(Protocol):
    """Told about every committed batch (the Prometheus metrics implement this)."""

    def observe(self, batch: AcceptedBatch, result: IngestResult, seconds: float) -> None: ...


class Observers:
    """Several observers as one, told in order."""

    def __init__(self, observers: Sequence[IngestObserver]) -> None:
        self._observers = list(observers)

    def observe(self, batch: AcceptedBatch, result: IngestResult, seconds: float) -> None:
        for observer in self._observers:
            observer.observe(batch, result, seconds)


class SchemaTracker:
    """Remembers which (model, version) pairs and columns are known, and records new ones.

    Checking a block costs a look at its feature names; the metadata store is written
    only when something new appears.
    """

    def __init__(
        self,
        metadata: MetadataStore,
        *,
        versions: set[tuple[str, str]],
        columns: dict[str, set[str]],
    ) -> None:
        self._metadata = metadata
        self._versions = versions
        self._columns = columns
        self._lock = threading.Lock()

    def track(self, blocks: Sequence[PredictionBlock], *, now: float) -> None:
        found: dict[tuple[str, str], dict[str, ColumnKind]] = {}
        for block in blocks:
            key = (block.model, block.version)
            known = self._columns.get(block.model, set())
            kinds = column_kinds(block.features, known=known)
            if kinds or key not in self._versions:
                found.setdefault(key, {}).update(kinds)
        if not found:
            return
        with self._lock:
            self._metadata.upsert_models(found, now=now)
            for (model, version), kinds in found.items():
                self._versions.add((model, version))
                self._columns.setdefault(model, set()).update(kinds)


class IngestService:
    def __init__(
        self,
        store: EventStore,
        schemas: SchemaTracker,
        clock: Clock,
        observer: IngestObserver,
    ) -> None:
        self._store = store
        self._schemas = schemas
        self._clock = clock
        self._observer = observer

    def submit(
        self,
        batch_id: str | None,
        events: Sequence[Event],
        blocks: Sequence[PredictionBlock],
        rejected: list[Rejection],
    ) -> PendingBatch:
        """Hand the valid events to the store; CPU-bound, so callers run it off the event loop.

        Predictions sent as rows join the column blocks, one block per (model, version).
        """
        started = time.perf_counter()
        predictions: list[Prediction] = []
        labels: list[Label] = []
        outcomes: list[Outcome] = []
        resources: list[Resource] = []
        for event in events:
            if type(event) is Prediction:
                predictions.append(event)
            elif type(event) is Label:
                labels.append(event)
            elif type(event) is Outcome:
                outcomes.append(event)
            else:
                assert type(event) is Resource
                resources.append(event)
        now = self._clock.now()
        all_blocks = [*blocks, *blocks_from_rows(predictions)]
        if all_blocks:
            self._schemas.track(all_blocks, now=now)
        batch = AcceptedBatch(
            batch_id=batch_id or f"srv-{uuid.uuid4().hex}",
            received_at=now,
            predictions=all_blocks,
            labels=labels,
            outcomes=outcomes,
            resources=resources,
            rejected=rejected,
        )
        return PendingBatch(batch, self._store.append(batch), started)

    async def acknowledge(self, pending: PendingBatch) -> IngestResult:
        """Wait until the batch is committed; then it is safe to acknowledge."""
        result = await asyncio.wrap_future(pending.future)
        if not result.duplicate:
            self._observer.observe(pending.batch, result, time.perf_counter() - pending.started)
        return result


@dataclass(frozen=True, slots=True)
class PendingBatch:
    batch: AcceptedBatch
    future: Future[IngestResult]
    started: float
