"""The window aggregator: one mergeable profile per (model, version, segment, minute).

Committed batches arrive here after their acknowledgement (the aggregator is an
:class:`~mlpulse.services.ingest.IngestObserver`), so profiling never delays an ack.
A minute stays open in memory until it has ended and a grace period has passed; then
its profile is written to the store as one *partial* row. Events that arrive later for
a flushed minute start a new partial row, and readers merge every partial row of a
key, which is also how the profiles of several collectors combine.

Raw events are the source of truth: a profile lost in a crash (at most the open
minutes) can be rebuilt from the stored events of those minutes.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import numpy as np

from mlpulse.core.profiles.window import WindowProfile
from mlpulse.domain.events import PredictionBlock, epoch_seconds
from mlpulse.domain.ingest import IngestResult
from mlpulse.domain.schema import ColumnKind, column_kinds
from mlpulse.domain.series import MinuteProfile, segment_key
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.errors import ParameterError
from mlpulse.ports import Clock, MetadataStore, SeriesStore

log = logging.getLogger("mlpulse.windows")

MINUTE: Final = 60.0
_STOP: Final = object()

Key = tuple[str, str, str, float]  # model, version, segment, minute start
KindsOf = Callable[[str], Mapping[str, ColumnKind]]


def minute_of(ts: float) -> float:
    """The start of the minute ``ts`` falls in.

    >>> minute_of(125.5)
    120.0
    """
    return math.floor(ts / MINUTE) * MINUTE


def _feature_array(values: Sequence[Any], kind: ColumnKind) -> np.ndarray:
    if kind == ColumnKind.NUMERIC:
        try:  # None becomes NaN; a string makes this fail and is read value by value
            return np.array(values, dtype=np.float64)
        except (TypeError, ValueError):
            pass
    return np.array(values, dtype=object)


def block_profiles(
    block: PredictionBlock, kinds: Mapping[str, ColumnKind], *, received_at: float
) -> dict[tuple[str, float], WindowProfile]:
    """The profile of each (segment, minute) group of a block's rows."""
    n = len(block)
    if block.timestamp is None:
        minutes = np.full(n, minute_of(received_at))
    else:
        seconds = [received_at if t is None else epoch_seconds(t) for t in block.timestamp]
        minutes = np.floor(np.asarray(seconds, dtype=np.float64) / MINUTE) * MINUTE
    segments = [""] * n if block.segment is None else [segment_key(s) for s in block.segment]
    groups: dict[tuple[str, float], list[int]] = {}
    if len(set(segments)) == 1 and (n == 0 or minutes.min() == minutes.max()):
        groups[(segments[0] if n else "", float(minutes[0]) if n else 0.0)] = list(range(n))
    else:
        for i, (segment, minute) in enumerate(zip(segments, minutes.tolist(), strict=True)):
            groups.setdefault((segment, minute), []).append(i)
    feature_kinds = {name: kinds[name] for name in block.features if name in kinds}
    out: dict[tuple[str, float], WindowProfile] = {}
    for key, rows in groups.items():
        whole = len(rows) == n

        def take(column: Sequence[Any] | None, rows: list[int] = rows, whole: bool = whole) -> Any:
            if column is None:
                return None
            return column if whole else [column[i] for i in rows]

        out[key] = WindowProfile.from_columns(
            {
                name: _feature_array(take(block.features[name]), kind)
                for name, kind in feature_kinds.items()
            },
            feature_kinds,
            prediction=take(block.prediction),
            score=_floats(take(block.score)),
            latency_ms=_floats(take(block.latency_ms)),
            errors=None if block.error is None else [e is not None for e in take(block.error)],
            rows=len(rows),
        )
    return out


def _floats(values: Sequence[float | None] | None) -> np.ndarray | None:
    return None if values is None else np.array(values, dtype=np.float64)


class ModelKinds:
    """A model's effective column kinds (declared over inferred), cached for a few seconds.

    The aggregator asks per block; the metadata store is read at most once per
    ``ttl_s`` per model, so a schema override takes effect within that time.
    """

    def __init__(self, metadata: MetadataStore, *, ttl_s: float = 5.0) -> None:
        self._metadata = metadata
        self._ttl = ttl_s
        self._cache: dict[str, Mapping[str, ColumnKind]] = {}
        self._read_at = -math.inf

    def __call__(self, model: str) -> Mapping[str, ColumnKind]:
        now = time.monotonic()
        if now - self._read_at > self._ttl or model not in self._cache:
            self._cache = {info.model: info.schema for info in self._metadata.list_models()}
            self._read_at = now
        return self._cache.get(model, {})


class WindowAggregator:
    """Open minute profiles in memory, flushed to the store once each minute is over.

    ``kinds(model)`` gives a model's declared and inferred column kinds; columns it does
    not know yet are inferred from the block. ``writer`` names this collector in the
    stored rows. Not thread-safe: :class:`AggregatorThread` feeds it from one thread.
    """

    def __init__(
        self,
        store: SeriesStore,
        *,
        writer: str,
        kinds: KindsOf,
        grace_s: float = 5.0,
    ) -> None:
        self._store = store
        self._writer = writer
        self._kinds = kinds
        self._grace = grace_s
        self._open: dict[Key, WindowProfile] = {}

    @property
    def open_minutes(self) -> int:
        return len(self._open)

    def add(self, batch: AcceptedBatch) -> None:
        for block in batch.predictions:
            known = dict(self._kinds(block.model))
            known.update(column_kinds(block.features, known=known))
            profiles = block_profiles(block, known, received_at=batch.received_at)
            for (segment, minute), profile in profiles.items():
                key = (block.model, block.version, segment, minute)
                before = self._open.get(key)
                self._open[key] = profile if before is None else before.merge(profile)

    def flush(self, *, now: float | None = None) -> int:
        """Write the minutes that ended before ``now - grace`` (all when ``now`` is None).

        Returns the number of partial profiles written. A failing store keeps them
        open, to be written at the next flush.
        """
        due = [key for key in self._open if now is None or key[3] + MINUTE + self._grace <= now]
        if not due:
            return 0
        rows = [
            MinuteProfile(
                model=model,
                version=version,
                segment=segment,
                minute=minute,
                writer=self._writer,
                profile=self._open[(model, version, segment, minute)].to_bytes(),
            )
            for model, version, segment, minute in due
        ]
        self._store.append_profiles(rows)
        for key in due:
            del self._open[key]
        return len(rows)


class AggregatorThread:
    """Feeds committed batches to a :class:`WindowAggregator` (and the streaming
    detectors) on a background thread, and flushes closed minutes every second."""

    def __init__(
        self,
        aggregator: WindowAggregator,
        clock: Clock,
        *,
        listeners: Sequence[Callable[[AcceptedBatch], None]] = (),
        max_queued: int = 10_000,
        flush_every_s: float = 1.0,
    ) -> None:
        self._aggregator = aggregator
        self._clock = clock
        self._listeners = list(listeners)
        self._queue: queue.Queue[AcceptedBatch | object] = queue.Queue(max_queued)
        self._flush_every = flush_every_s
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="mlpulse-windows", daemon=True)
        self._thread.start()

    def observe(self, batch: AcceptedBatch, result: IngestResult, seconds: float) -> None:
        if not batch.predictions:
            return
        try:
            self._queue.put_nowait(batch)
        except queue.Full:
            # The events are stored; only their profile is missing (rebuildable).
            self.dropped += 1
            log.warning("window aggregator queue full: batch %s not profiled", batch.batch_id)

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._flush_every)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._flush(None)
                return
            if isinstance(item, AcceptedBatch):
                self._handle(item)
            elif isinstance(item, _Marker):
                item.done.set()
            self._flush(self._clock.now())

    def _handle(self, batch: AcceptedBatch) -> None:
        try:
            self._aggregator.add(batch)
        except Exception:  # a loop boundary: one bad batch must not stop profiling
            log.exception("profiling batch %s failed", batch.batch_id)
        for listener in self._listeners:
            try:
                listener(batch)
            except Exception:
                log.exception("a batch listener failed on %s", batch.batch_id)

    def _flush(self, now: float | None) -> None:
        try:
            self._aggregator.flush(now=now)
        except Exception:
            log.exception("writing minute profiles failed; kept open for the next flush")

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued batch has been handled (for tests and shutdown)."""
        done = threading.Event()
        self._queue.put(_Marker(done))
        done.wait(timeout)

    def close(self) -> None:
        """Handle what is queued, write every open minute, stop."""
        self._queue.put(_STOP)
        self._thread.join()


class _Marker:
    def __init__(self, done: threading.Event) -> None:
        self.done = done


def merge_profiles(rows: Sequence[MinuteProfile]) -> WindowProfile:
    """The merge of stored partial profiles: the profile of all their events."""
    profiles = [WindowProfile.from_bytes(row.profile) for row in rows]
    try:
        return WindowProfile.merge_all(profiles)
    except ParameterError:
        # A column whose kind was redeclared cannot merge with its older minutes: keep
        # the rows that merge, in order, and skip the others.
        merged = WindowProfile.empty()
        for row, profile in zip(rows, profiles, strict=True):
            try:
                merged = merged.merge(profile)
            except ParameterError:
                log.warning("skipping an unmergeable profile of %s/%s", row.model, row.version)
        return merged
