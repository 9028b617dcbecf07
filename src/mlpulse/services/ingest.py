"""The ingest service: accepted events to the store, the schema and the metrics."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Collection, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from mlpulse.domain.blocks import blocks_from_rows
from mlpulse.domain.events import (
    MAX_FEATURES,
    MAX_MODELS,
    Event,
    Label,
    Outcome,
    Prediction,
    PredictionBlock,
    Resource,
)
from mlpulse.domain.ingest import IngestResult, Rejection
from mlpulse.domain.names import PrintableNames
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
    """Remembers which (model, version) pairs and columns are known, and records new ones;
    holds the limits on models and feature names.

    Checking a block costs a look at its feature names; the metadata store is written
    only when something new appears.
    """

    def __init__(
        self,
        metadata: MetadataStore,
        *,
        versions: set[tuple[str, str]],
        columns: dict[str, set[str]],
        max_models: int = MAX_MODELS,
        max_features: int = MAX_FEATURES,
    ) -> None:
        self._metadata = metadata
        self._versions = versions
        self._columns = columns
        self._lock = threading.Lock()
        self.max_models = max_models
        self.max_features = max_features
        # Feature names admitted per model: what is stored, and what requests being
        # decoded now were allowed (so two requests cannot both take the last places).
        self._admitted: dict[str, set[str]] = {m: set(names) for m, names in columns.items()}
        for model, _ in versions:
            self._admitted.setdefault(model, set())

    def admitted(self, model: str) -> set[str] | None:
        """The feature names ``model`` may send again (None for a new model): the live
        set, to read and never change."""
        return self._admitted.get(model)

    def admit(self, model: str, names: Collection[str]) -> tuple[str, str] | None:
        """Take ``model``'s feature ``names`` within the limits, or say which is exceeded.

        Returns None when admitted, else (field, reason): ``model`` when this would be a
        model beyond ``max_models``, ``features`` when the model would have more than
        ``max_features`` distinct feature names. Admitted names count from then on,
        whether or not their batch is stored.
        """
        known_names = self._admitted.get(model)
        if known_names is not None and all(name in known_names for name in names):
            return None  # the usual case, without the lock: sets only grow, under the GIL
        with self._lock:
            seen = self._admitted.get(model)
            if seen is None and len(self._admitted) >= self.max_models:
                return "model", (
                    f"would be model number {len(self._admitted) + 1}; the collector "
                    f"takes at most {self.max_models} models (limit: models)"
                )
            known = seen or set()
            if names and not known.issuperset(names):
                new = [name for name in names if name not in known]
                if len(known) + len(new) > self.max_features:
                    return "features", (
                        f"model {model!r} would have {len(known) + len(new)} distinct feature "
                        f"names; the limit is {self.max_features} per model "
                        "(limit: features per model)"
                    )
                known.update(new)
            if seen is None:  # a model refused for its features does not take a place
                self._admitted[model] = known
            return None

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
        # Names found printable, shared by every request: a lookup per known name.
        self.names = PrintableNames()

    @property
    def schemas(self) -> SchemaTracker:
        return self._schemas

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
