"""The event store on PostgreSQL: writer threads per process, group commit, ``COPY``.

As in :mod:`mlpulse.adapters.store.duckdb_events`: a request turns its events into
rows in its own thread, queues them and waits; a writer thread takes everything
queued, writes it in one transaction on its own connection and resolves every waiting
request once PostgreSQL has committed (``synchronous_commit`` makes that durable).
While one writer commits, the next takes what arrived meanwhile.

Batch ids deduplicate across every replica writing to the database: the group's ids
go into ``batches`` first, in the same transaction, with ``ON CONFLICT DO NOTHING``;
only the batches whose id was new have their rows copied. A replica storing the same
id at the same moment waits on the primary key until the first commits, then sees it
and answers ``duplicate=True`` with the first delivery's counts (or stores it, if the
first rolled back). Ids are inserted in sorted order, so two writers never deadlock.

A group that fails (a value PostgreSQL refuses) is written again one batch per
transaction, so one client's bad batch fails that client's request only.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import psycopg
from psycopg import errors as pg_errors

from mlpulse.adapters.cluster import stream_log
from mlpulse.adapters.store.postgres import labels
from mlpulse.adapters.store.postgres.database import Database, Row, at, translated
from mlpulse.adapters.store.postgres.event_rows import (
    LABEL_COLUMNS,
    OUTCOME_COLUMNS,
    PREDICTION_COLUMNS,
    RESOURCE_COLUMNS,
    label_rows,
    outcome_rows,
    prediction_rows,
    resource_rows,
)
from mlpulse.domain.ingest import IngestResult, Rejection
from mlpulse.domain.models import LatencyPercentiles, ResourcePeak, VersionSummary
from mlpulse.domain.series import LabelledRows
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.errors import StoreBusyError, StoreClosedError, StoreError

log = logging.getLogger("mlpulse.store")

NAME: Final = "event store"
_STOP: Final = object()
_TABLES: Final = {
    "prediction": ("predictions", PREDICTION_COLUMNS),
    "label": ("labels", LABEL_COLUMNS),
    "outcome": ("outcomes", OUTCOME_COLUMNS),
    "resource": ("resources", RESOURCE_COLUMNS),
}
# Worth another try on a fresh transaction: a lost connection (a failover, a restart:
# a batch that did commit is then answered as a duplicate), a deadlock, a conflict.
_RETRIABLE: Final = (psycopg.OperationalError, pg_errors.DeadlockDetected,
                     pg_errors.SerializationFailure)  # fmt: skip
_ATTEMPTS: Final = 3
_encode_rejections = msgspec.json.Encoder().encode
_decode_rejections = msgspec.json.Decoder(list[Rejection]).decode


class _Connection:
    """A writer's own connection, replaced when it breaks (a restart, a failover)."""

    def __init__(self, connection: psycopg.Connection[Row]) -> None:
        self._connection: psycopg.Connection[Row] | None = connection

    def usable(self, database: Database) -> psycopg.Connection[Row]:
        current = self._connection
        if current is None or current.broken or current.closed:
            self.close()
            current = self._connection = database.connect()
        return current

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@dataclass(slots=True)
class _Pending:
    batch: AcceptedBatch
    rows: dict[str, list[Row]]  # kind → rows
    future: Future[IngestResult] = field(default_factory=Future)


class PostgresEventStore:
    """:class:`mlpulse.ports.EventStore` and :class:`mlpulse.ports.LabelStore` on
    PostgreSQL. Closing it leaves ``database`` open (its owner closes it)."""

    def __init__(
        self, database: Database, *, writers: int = 2, max_queued_batches: int = 1024
    ) -> None:
        """Start ``writers`` writer threads, each with a connection of its own.

        Several writers commit groups side by side: PostgreSQL spends most of a commit
        in its own process (parsing and indexing the copied rows), so with two, a second
        group is copied while the first is indexed. Measured in bench/postgres_store.py.
        """
        self._db = database
        self._queue: queue.Queue[_Pending | object] = queue.Queue(maxsize=max_queued_batches)
        self._closed = threading.Event()
        self._connections: list[_Connection] = []
        try:
            for _ in range(writers):
                self._connections.append(_Connection(database.connect()))
        except BaseException:
            for connection in self._connections:
                connection.close()
            raise
        self._writers = [
            threading.Thread(
                target=self._write_loop, args=(connection,), name=f"mlpulse-pg-writer-{i}",
                daemon=True,
            )
            for i, connection in enumerate(self._connections)
        ]  # fmt: skip
        for writer in self._writers:
            writer.start()

    # -- writing -----------------------------------------------------------------------------

    def append(self, batch: AcceptedBatch) -> Future[IngestResult]:
        if self._closed.is_set():
            raise StoreClosedError("the event store is closed")
        bid, received = batch.batch_id, batch.received_at
        rows: dict[str, list[Row]] = {}
        if batch.predictions:
            rows["prediction"] = [
                row
                for block in batch.predictions
                for row in prediction_rows(block, batch_id=bid, received_at=received)
            ]
        if batch.labels:
            rows["label"] = label_rows(batch.labels, batch_id=bid, received_at=received)
        if batch.outcomes:
            rows["outcome"] = outcome_rows(batch.outcomes, batch_id=bid, received_at=received)
        if batch.resources:
            rows["resource"] = resource_rows(batch.resources, batch_id=bid, received_at=received)
        pending = _Pending(batch, rows)
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            raise StoreBusyError("the write queue is full; retry shortly") from None
        return pending.future

    def _write_loop(self, connection: _Connection) -> None:
        while True:
            items = [self._queue.get()]
            while True:  # whatever else is queued already: that is the group commit
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            group = [item for item in items if isinstance(item, _Pending)]
            if group:
                self._commit(connection, group)
            if len(group) < len(items):  # the stop, queued after every append
                self._queue.put(_STOP)  # for the next writer
                connection.close()
                return

    def _commit(self, connection: _Connection, group: list[_Pending]) -> None:
        by_id: dict[str, list[_Pending]] = {}
        for pending in group:
            by_id.setdefault(pending.batch.batch_id, []).append(pending)
        try:
            answers = self._store(connection, [waiting[0] for waiting in by_id.values()])
        except Exception as exc:  # a loop boundary: every waiting request gets the error
            error = exc if isinstance(exc, StoreError) else StoreError(f"could not commit: {exc}")
            if error is not exc:
                error.__cause__ = exc
            # A batch PostgreSQL refuses fails the whole group: find it by writing each
            # batch alone, so the others succeed. Not when the database is unreachable:
            # each would wait for the same failure.
            if len(by_id) > 1 and not isinstance(error.__cause__, _RETRIABLE):
                log.warning("a group commit of %d batches failed; one at a time: %s",
                            len(by_id), error)  # fmt: skip
                for waiting in by_id.values():
                    self._commit(connection, waiting)
                return
            log.error("the commit of batch %s failed: %s", group[0].batch.batch_id, error)
            for pending in group:
                pending.future.set_exception(error)
            return
        for bid, waiting in by_id.items():
            first = answers[bid]
            waiting[0].future.set_result(first)
            for again in waiting[1:]:  # the same id twice in one group
                again.future.set_result(msgspec.structs.replace(first, duplicate=True))

    def _store(self, connection: _Connection, firsts: list[_Pending]) -> dict[str, IngestResult]:
        """Write ``firsts`` (distinct batch ids) in one transaction; each id's answer."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with translated(NAME, "commit"):
                    return self._transaction(connection.usable(self._db), firsts)
            except StoreError as error:
                if attempt == _ATTEMPTS or not isinstance(error.__cause__, _RETRIABLE):
                    raise
                log.warning("the event store retries a commit (attempt %d): %s", attempt + 1, error)
        raise AssertionError("unreachable: the last attempt raises")

    @staticmethod
    def _transaction(
        conn: psycopg.Connection[Row], firsts: list[_Pending]
    ) -> dict[str, IngestResult]:
        ordered = sorted(firsts, key=lambda p: p.batch.batch_id)
        with conn.transaction():
            inserted = conn.execute(
                "INSERT INTO batches (batch_id, received_at, accepted, rejected) "
                "SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::integer[], "
                "%s::json[]) ORDER BY 1 ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id",
                (
                    [p.batch.batch_id for p in ordered],
                    [at(p.batch.received_at) for p in ordered],
                    [p.batch.accepted for p in ordered],
                    [_encode_rejections(p.batch.rejected).decode() for p in ordered],
                ),
            ).fetchall()
            fresh = {row[0] for row in inserted}
            for kind, (table, columns) in _TABLES.items():
                parts = [
                    p.rows[kind] for p in ordered if p.batch.batch_id in fresh and kind in p.rows
                ]
                if not parts:
                    continue
                names = ", ".join(name for name, _ in columns)
                copying = f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)"
                with conn.cursor().copy(copying) as copy:
                    copy.set_types([sql_type for _, sql_type in columns])
                    for rows in parts:
                        for row in rows:
                            copy.write_row(row)
            earlier = [p.batch.batch_id for p in ordered if p.batch.batch_id not in fresh]
            stored = {}
            if earlier:
                stored = {
                    bid: (accepted, rejected)
                    for bid, accepted, rejected in conn.execute(
                        "SELECT batch_id, accepted, rejected::text FROM batches "
                        "WHERE batch_id = ANY(%s)",
                        (earlier,),
                    ).fetchall()
                }
            # Last, as it serialises appends until the commit: the leader's detectors
            # read every replica's predictions from this log (adapters/cluster/stream_log).
            with conn.cursor() as cursor:
                stream_log.append(cursor, [p.batch for p in ordered if p.batch.batch_id in fresh])
        answers = {}
        for pending in ordered:
            bid = pending.batch.batch_id
            if bid in fresh:
                answers[bid] = IngestResult(bid, pending.batch.accepted, pending.batch.rejected)
            else:
                accepted, rejected = stored[bid]
                answers[bid] = IngestResult(
                    bid, int(accepted), _decode_rejections(rejected), duplicate=True
                )
        return answers

    # -- reading -----------------------------------------------------------------------------

    def _rows(self, action: str, sql: str, params: Any = ()) -> list[Row]:
        if self._closed.is_set():
            raise StoreClosedError("the event store is closed")
        return self._db.rows(NAME, action, sql, params)

    def version_summaries(self, model: str, *, start: float, end: float) -> list[VersionSummary]:
        rows = self._rows(
            "summarise versions",
            "SELECT version, count(*), count(error), percentile_cont(ARRAY[0.5, 0.95, 0.99]) "
            "WITHIN GROUP (ORDER BY latency_ms) FROM predictions "
            "WHERE model = %s AND ts >= %s AND ts < %s GROUP BY version ORDER BY version",
            (model, at(start), at(end)),
        )
        window = end - start
        return [_summary(row, window) for row in rows]

    def resource_peaks(self, model: str, *, start: float, end: float) -> list[ResourcePeak]:
        rows = self._rows(
            "read resource peaks",
            """
            SELECT coalesce(host, ''), pid, coalesce(version, ''), count(*),
                   max(cpu_percent), max(memory_percent), max(gpu_peak)
            FROM (
                SELECT host, pid, version, cpu_percent, memory_percent,
                       (SELECT max(g) FROM unnest(gpu_utilization) AS g) AS gpu_peak
                FROM resources WHERE model = %s AND ts >= %s AND ts < %s
            ) AS r
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3, 4, 5, 6, 7
            """,
            (model, at(start), at(end)),
        )
        return [ResourcePeak(*row) for row in rows]

    def count(self, kind: str) -> int:
        table = _TABLES[kind][0]
        rows = self._rows(f"count {table}", f"SELECT count(*) FROM {table}")
        return int(rows[0][0])

    # -- labels and retention (LabelStore, in labels.py) --------------------------------------

    def labelled_predictions(
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> LabelledRows:
        with self._reading():
            return labels.labelled_predictions(
                self._db, model, start=start, end=end, version=version
            )

    def labelled_since(
        self, model: str, *, since: float, window: float | None = None
    ) -> list[tuple[str, float]]:
        with self._reading():
            return labels.labelled_since(self._db, model, since=since, window=window)

    def delete_events_before(self, cutoff: float) -> int:
        with self._reading():
            return labels.delete_events_before(
                self._db, [table for table, _ in _TABLES.values()], cutoff
            )

    @contextmanager
    def _reading(self) -> Iterator[None]:
        if self._closed.is_set():
            raise StoreClosedError("the event store is closed")
        yield

    def is_healthy(self) -> bool:
        return all(w.is_alive() for w in self._writers) and not self._closed.is_set()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()  # refuse new appends first, so none is queued behind the stop
        self._queue.put(_STOP)  # each writer passes it on to the next as it stops
        for writer in self._writers:
            writer.join()
        # An append that passed the closed check as close began may have queued behind
        # the stop: its request is answered, not left waiting.
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Pending):
                item.future.set_exception(StoreClosedError("the event store is closed"))


def _summary(row: Row, window: float) -> VersionSummary:
    version, count, errors, quantiles = row
    p50, p95, p99 = quantiles if quantiles is not None else (None, None, None)
    return VersionSummary(
        version=version,
        count=int(count),
        errors=int(errors),
        throughput_per_s=count / window,
        error_rate=errors / count if count else 0.0,
        latency_ms=LatencyPercentiles(p50=p50, p95=p95, p99=p99),
    )
