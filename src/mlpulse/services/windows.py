"""The window aggregator: one mergeable profile per (model, version, segment, minute).

Committed batches arrive here after their acknowledgement (the aggregator is an
:class:`~mlpulse.services.ingest.IngestObserver`), so profiling never delays an ack.
A minute stays open in memory until it has ended and a grace period has passed; then
its profile is written to the store as one *partial* row. Events that arrive later for
a flushed minute start a new partial row, and readers merge every partial row of a
key, which is also how the profiles of several collectors combine.

Raw events are the source of truth: a profile lost in a crash (at most the open
minutes) can be rebuilt from the stored events of those minutes.

The aggregator shares the collector's interpreter lock with the requests being served,
so it works in slices and steps aside between them (:class:`Pacer`): a batch naming
1,000 new models or 2,000 new columns is about 0.2 s of Python, and held in the default
5 ms turns it made every other client's request wait at each of its hand-offs between
threads (p99 0.26-0.48 s); in slices of 2 ms it adds a few milliseconds.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

import numpy as np

from mlpulse.core.profiles.profile import ColumnKind as CoreKind
from mlpulse.core.profiles.profile import ColumnProfile, Profile
from mlpulse.core.profiles.window import WindowProfile
from mlpulse.domain.events import PredictionBlock, epoch_seconds
from mlpulse.domain.ingest import IngestResult
from mlpulse.domain.schema import ColumnKind, column_kinds
from mlpulse.domain.series import MinuteProfile, segment_key
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.errors import ParameterError, parameter_error
from mlpulse.ports import Clock, MetadataStore, SeriesStore

log = logging.getLogger("mlpulse.windows")

MINUTE: Final = 60.0
_STOP: Final = object()

# Feature values profiled between two chances to step aside: about 2 ms of work.
SLICE_VALUES: Final = 16_384
# Blocks handed to a batch listener at once (each block costs it ~0.1 ms when new).
SLICE_BLOCKS: Final = 16

_EPOCH_SECONDS: Final = frozenset({float, int})  # timestamps that are their own epoch_seconds

Key = tuple[str, str, str, float]  # model, version, segment, minute start
KindsOf = Callable[[str], Mapping[str, ColumnKind]]


def _keep_going() -> None:
    pass


class Pacer:
    """Lets other threads run after every ``slice_s`` of work of the calling thread.

    Call it between small pieces of background work. CPython hands the interpreter lock
    to a waiting thread only after it has waited ``sys.getswitchinterval()`` (5 ms), and
    a request crosses threads several times (event loop, worker thread, store writer):
    against a thread that never blocks, each crossing can wait the full 5 ms. Sleeping
    ``rest_s`` releases the lock at once to whoever wants it; when no one does, it costs
    the background work about ``rest_s / slice_s`` of its speed.
    """

    def __init__(self, *, slice_s: float = 0.002, rest_s: float = 0.0003) -> None:
        if not 0 < slice_s <= 1:
            raise parameter_error("slice_s", "Pacer", "seconds in (0, 1]", slice_s)
        if not 0 <= rest_s <= 1:
            raise parameter_error("rest_s", "Pacer", "seconds in [0, 1]", rest_s)
        self._slice = slice_s
        self._rest = rest_s
        self._since = time.perf_counter()
        self.rests = 0

    def __call__(self) -> None:
        now = time.perf_counter()
        if now - self._since >= self._slice:
            time.sleep(self._rest)
            self.rests += 1
            self._since = time.perf_counter()


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


PROFILED_KINDS: Final = frozenset({ColumnKind.NUMERIC, ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN})


def block_profiles(
    block: PredictionBlock,
    kinds: Mapping[str, ColumnKind],
    *,
    received_at: float,
    pause: Callable[[], None] = _keep_going,
) -> dict[tuple[str, float], WindowProfile]:
    """The profile of each (segment, minute) group of a block's rows.

    ``pause`` is called between slices of about :data:`SLICE_VALUES` feature values:
    each column profile is built as :meth:`WindowProfile.from_columns` would, on its own,
    so the result is the same however the columns are sliced.
    """
    n = len(block)
    if block.timestamp is None:
        minutes = np.full(n, minute_of(received_at))
    else:
        stamps: Sequence[Any] = block.timestamp
        if not set(map(type, stamps)) <= _EPOCH_SECONDS:  # datetimes or absent ones
            stamps = [received_at if t is None else epoch_seconds(t) for t in stamps]
        minutes = np.floor(np.asarray(stamps, dtype=np.float64) / MINUTE) * MINUTE
    segments = [""] * n if block.segment is None else [segment_key(s) for s in block.segment]
    groups: dict[tuple[str, float], list[int]] = {}
    if len(set(segments)) == 1 and (n == 0 or minutes.min() == minutes.max()):
        groups[(segments[0] if n else "", float(minutes[0]) if n else 0.0)] = list(range(n))
    else:
        for i, (segment, minute) in enumerate(zip(segments, minutes.tolist(), strict=True)):
            groups.setdefault((segment, minute), []).append(i)
    # Text, embedding and datetime columns (declared in a schema) have no minute profile:
    # the profiles hold numbers, categories and booleans only.
    feature_kinds = {
        name: kinds[name]
        for name in block.features
        if name in kinds and kinds[name] in PROFILED_KINDS
    }
    names = list(feature_kinds)
    out: dict[tuple[str, float], WindowProfile] = {}
    for key, rows in groups.items():
        whole = len(rows) == n

        def take(column: Sequence[Any] | None, rows: list[int] = rows, whole: bool = whole) -> Any:
            if column is None:
                return None
            return column if whole else [column[i] for i in rows]

        step = max(1, SLICE_VALUES // max(len(rows), 1))
        columns: dict[str, ColumnProfile] = {}
        kinds_seen: dict[str, CoreKind] = {}
        for start in range(0, len(names), step):
            part = Profile.from_columns(
                {
                    name: _feature_array(take(block.features[name]), feature_kinds[name])
                    for name in names[start : start + step]
                },
                feature_kinds,
            )
            columns.update(part)
            kinds_seen.update(part.kinds)
            pause()
        rest = WindowProfile.from_columns(
            {},
            {},
            prediction=take(block.prediction),
            score=_floats(take(block.score)),
            latency_ms=_floats(take(block.latency_ms)),
            errors=None if block.error is None else [e is not None for e in take(block.error)],
            rows=len(rows),
        )
        out[key] = WindowProfile(
            features=Profile(columns, kinds_seen, row_count=len(rows)),
            outputs=rest.outputs,
            latency=rest.latency,
            requests=rest.requests,
            errors=rest.errors,
        )
    return out


def _floats(values: Sequence[float | None] | None) -> np.ndarray | None:
    return None if values is None else np.array(values, dtype=np.float64)


class ModelKinds:
    """A model's effective column kinds (declared over inferred), cached for a few seconds.

    The aggregator asks per block; the metadata store is read at most once per ``ttl_s``
    per model, and only that model's rows (reading every model's schema at each new model
    held the interpreter for 0.17 s at 1,000 models), so a schema override takes effect
    within that time.
    """

    def __init__(self, metadata: MetadataStore, *, ttl_s: float = 5.0) -> None:
        self._metadata = metadata
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, Mapping[str, ColumnKind]]] = {}

    def __call__(self, model: str) -> Mapping[str, ColumnKind]:
        now = time.monotonic()
        cached = self._cache.get(model)
        if cached is None or now - cached[0] > self._ttl:
            cached = (now, self._metadata.model_schema(model))
            self._cache[model] = cached
        return cached[1]


class WindowAggregator:
    """Open minute profiles in memory, flushed to the store once each minute is over.

    ``kinds(model)`` gives a model's declared and inferred column kinds; columns it does
    not know yet are inferred from the block. ``writer`` names this collector in the
    stored rows. ``pause`` is called between slices of the work (a :class:`Pacer`, so
    that a large batch does not hold up the requests being served). Not thread-safe:
    :class:`AggregatorThread` feeds it from one thread.
    """

    def __init__(
        self,
        store: SeriesStore,
        *,
        writer: str,
        kinds: KindsOf,
        grace_s: float = 5.0,
        pause: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._writer = writer
        self._kinds = kinds
        self._grace = grace_s
        self._open: dict[Key, WindowProfile] = {}
        self.pause: Callable[[], None] = Pacer() if pause is None else pause

    @property
    def open_minutes(self) -> int:
        return len(self._open)

    def add(self, batch: AcceptedBatch) -> None:
        for block in batch.predictions:
            known = dict(self._kinds(block.model))
            known.update(column_kinds(block.features, known=known))
            profiles = block_profiles(block, known, received_at=batch.received_at, pause=self.pause)
            for (segment, minute), profile in profiles.items():
                key = (block.model, block.version, segment, minute)
                before = self._open.get(key)
                self._open[key] = profile if before is None else before.merge(profile)
            self.pause()

    def flush(self, *, now: float | None = None) -> int:
        """Write the minutes that ended before ``now - grace`` (all when ``now`` is None).

        Returns the number of partial profiles written. A failing store keeps them
        open, to be written at the next flush.
        """
        due = [key for key in self._open if now is None or key[3] + MINUTE + self._grace <= now]
        if not due:
            return 0
        rows = []
        for model, version, segment, minute in due:
            profile = self._open[(model, version, segment, minute)].to_bytes()
            rows.append(
                MinuteProfile(
                    model=model, version=version, segment=segment, minute=minute,
                    writer=self._writer, profile=profile,
                )
            )  # fmt: skip
            self.pause()
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
                paced(listener, self._aggregator.pause)(batch)
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


def paced(
    listener: Callable[[AcceptedBatch], None], pause: Callable[[], None]
) -> Callable[[AcceptedBatch], None]:
    """``listener``, handed a batch of many blocks :data:`SLICE_BLOCKS` blocks at a time,
    with ``pause`` between them: as batches with the same id, in order, the first with
    the batch's other events and rejections, the others with its predictions only."""

    def call(batch: AcceptedBatch) -> None:
        blocks = batch.predictions
        listener(
            batch
            if len(blocks) <= SLICE_BLOCKS
            else replace(batch, predictions=blocks[:SLICE_BLOCKS])
        )
        pause()
        for start in range(SLICE_BLOCKS, len(blocks), SLICE_BLOCKS):
            part = blocks[start : start + SLICE_BLOCKS]
            listener(AcceptedBatch(batch.batch_id, batch.received_at, predictions=part))
            pause()

    return call


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
