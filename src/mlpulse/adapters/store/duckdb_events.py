"""The embedded event store: one DuckDB file, one writer thread, group commit.

Durable before the acknowledgement, at high throughput: a request turns its events
into Arrow tables in its own thread, queues them and waits. The writer thread takes
everything queued, writes it in one transaction and resolves every waiting request
at once. Requests that arrive during a commit form the next group, so the group
grows with the load and an idle collector commits each request immediately.

DuckDB allows one process per file, so the CLI and the dashboard read through the
collector's API while it runs. Reads here use their own cursors and see committed
data only (DuckDB's MVCC), so they never block the writer.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import duckdb
import msgspec
import pyarrow as pa

from mlpulse.adapters.store import duckdb_labels
from mlpulse.adapters.store.arrow_tables import (
    LABEL_COLUMNS,
    OUTCOME_COLUMNS,
    RESOURCE_COLUMNS,
    labels_table,
    outcomes_table,
    prediction_arrays,
    resources_table,
)
from mlpulse.adapters.store.durability import DurabilityMarker
from mlpulse.adapters.store.prediction_migration import migrate_model_tables
from mlpulse.adapters.store.prediction_rows import (
    TABLE,
    VIEW_SQL,
    PredictionRows,
    PreparedRows,
    prepare,
)
from mlpulse.domain.ingest import IngestResult, Rejection
from mlpulse.domain.models import LatencyPercentiles, ResourcePeak, VersionSummary
from mlpulse.domain.series import LabelledRows
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.errors import StoreBusyError, StoreClosedError, StoreError

log = logging.getLogger("mlpulse.store")

_TABLES: Final = {
    "label": ("labels", LABEL_COLUMNS),
    "outcome": ("outcomes", OUTCOME_COLUMNS),
    "resource": ("resources", RESOURCE_COLUMNS),
}
# The tables of events other than predictions (those are in prediction_rows.py).
_ROW_TABLES: Final = tuple(table for table, _ in _TABLES.values())
_STOP: Final = object()
REMEMBERED_BATCHES: Final = 100_000
# Rejections kept per batch to answer its retries: a request of 100k bad events made
# 10 MB of them. The count is kept too.
STORED_REJECTIONS: Final = 100


@dataclass(frozen=True, slots=True)
class _Answer:
    """The counts of a batch's first delivery, to answer its retries the same way."""

    accepted: int
    rejected: list[Rejection]
    rejected_count: int


@dataclass(slots=True)
class _Pending:
    batch: AcceptedBatch
    predictions: PreparedRows | None
    tables: dict[str, pa.Table]
    future: Future[IngestResult]


@dataclass(slots=True)
class _Job:
    """Work on the writer's connection, between two group commits (e.g. retention)."""

    work: Callable[[duckdb.DuckDBPyConnection], int]
    future: Future[int]

    def run(self, con: duckdb.DuckDBPyConnection) -> None:
        try:
            self.future.set_result(self.work(con))
        except BaseException as exc:  # handed to the caller waiting on the future
            self.future.set_exception(exc)


def _create_table_sql(name: str, columns: tuple[tuple[str, str], ...]) -> str:
    cols = ", ".join(f"{col} {kind}" for col, kind in columns)
    return f"CREATE TABLE IF NOT EXISTS {name} ({cols})"


class DuckDBEventStore:
    """:class:`mlpulse.ports.EventStore` over an embedded DuckDB file."""

    def __init__(
        self,
        path: Path,
        *,
        max_queued_batches: int = 1024,
        checkpoint_mb: int = 128,
    ) -> None:
        """Open (or create) the store at ``path`` and start its writer thread.

        ``checkpoint_mb``: the write-ahead log size at which DuckDB folds it into the
        file. DuckDB's default (16 MB) rewrites a partly filled row group at every
        checkpoint; at 100k events/s that cost a third of the throughput (see
        bench/README.md). A larger log costs a longer replay after a crash.
        """
        self.path = path
        self._queue: queue.Queue[_Pending | _Job | object] = queue.Queue(maxsize=max_queued_batches)
        self._rejections = msgspec.json.Encoder()
        self._decode_rejections = msgspec.json.Decoder(list[Rejection])
        self._local = threading.local()
        self._closed = threading.Event()
        # Before DuckDB replays the log: the record notes the log as a crash left it.
        self.durability = DurabilityMarker(path)
        try:
            self._con = duckdb.connect(
                str(path), config={"checkpoint_threshold": f"{checkpoint_mb}MB"}
            )
            for name, columns in (t for t in _TABLES.values()):
                self._con.execute(_create_table_sql(name, columns))
            self._con.execute(
                "CREATE TABLE IF NOT EXISTS batches (batch_id VARCHAR PRIMARY KEY, "
                "received_at TIMESTAMPTZ, accepted INTEGER, rejected JSON, rejected_count INTEGER)"
            )
            # Stores from before the count: their rows' count is their list's length.
            self._con.execute("ALTER TABLE batches ADD COLUMN IF NOT EXISTS rejected_count INTEGER")
            migrate_model_tables(self._con)
            self._predictions = PredictionRows(self._con)
            self._con.execute(VIEW_SQL)
            # Batch ids seen lately: a retry is recognised without a query. Older ones
            # are caught by the table's primary key (see _commit).
            self._recent_order = deque(
                row[0]
                for row in self._con.execute(
                    "SELECT batch_id FROM batches ORDER BY rowid DESC LIMIT ?",
                    [REMEMBERED_BATCHES],
                ).fetchall()[::-1]
            )
            self._recent = set(self._recent_order)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open the event store at {path}: {exc}") from exc
        self.durability.start(self._con)  # logs an ERROR if acknowledged data is missing
        self._writer = threading.Thread(target=self._write_loop, name="mlpulse-writer", daemon=True)
        self._writer.start()

    # -- writing ---------------------------------------------------------------------------

    def append(self, batch: AcceptedBatch) -> Future[IngestResult]:
        if self._closed.is_set():
            raise StoreClosedError("the event store is closed")
        future: Future[IngestResult] = Future()
        tables = {}
        bid, received = batch.batch_id, batch.received_at
        predictions = (
            prepare(prediction_arrays(batch.predictions, batch_id=bid, received_at=received))
            if batch.predictions
            else None
        )
        if batch.labels:
            tables["labels"] = labels_table(batch.labels, batch_id=bid, received_at=received)
        if batch.outcomes:
            tables["outcomes"] = outcomes_table(batch.outcomes, batch_id=bid, received_at=received)
        if batch.resources:
            tables["resources"] = resources_table(
                batch.resources, batch_id=bid, received_at=received
            )
        try:
            self._queue.put_nowait(_Pending(batch, predictions, tables, future))
        except queue.Full:
            raise StoreBusyError("the write queue is full; retry shortly") from None
        return future

    def _write_loop(self) -> None:
        while True:
            items = [self._queue.get()]
            # Take whatever else is already queued: that is the group commit.
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            group: list[_Pending] = []
            for item in items:
                if isinstance(item, _Pending):
                    group.append(item)
                    continue
                if group:  # what came before a job or the stop is written first
                    self._commit(group)
                    group = []
                if item is _STOP:
                    return
                assert isinstance(item, _Job)
                item.run(self._con)
            if group:
                self._commit(group)

    def _commit(self, group: list[_Pending]) -> None:
        # The same batch id twice in one group: the later ones are duplicates of the first.
        firsts: dict[str, _Pending] = {}
        for pending in group:
            firsts.setdefault(pending.batch.batch_id, pending)
        try:
            fresh = [p for bid, p in firsts.items() if bid not in self._recent]
            try:
                self._write(fresh)
            except duckdb.ConstraintException:
                # A batch id older than the remembered window came again: ask the table.
                known = set(self._stored_answers([p.batch.batch_id for p in fresh]))
                fresh = [p for p in fresh if p.batch.batch_id not in known]
                self._write(fresh)
            stored = {p.batch.batch_id for p in fresh}
            self._remember(stored)
            earlier = self._stored_answers([b for b in firsts if b not in stored])
        except Exception as exc:  # a loop boundary: every waiting request gets the error
            log.exception("commit of %d batches failed", len(group))
            error = StoreError(f"the event store could not commit: {exc}")
            for pending in group:
                pending.future.set_exception(error)
            return
        for pending in group:
            bid = pending.batch.batch_id
            if pending is firsts[bid] and bid in stored:
                result = IngestResult(bid, pending.batch.accepted, pending.batch.rejected)
            else:
                first = earlier.get(bid) or _Answer(
                    firsts[bid].batch.accepted,
                    firsts[bid].batch.rejected[:STORED_REJECTIONS],
                    len(firsts[bid].batch.rejected),
                )
                result = IngestResult(
                    bid, first.accepted, first.rejected, True, first.rejected_count
                )
            pending.future.set_result(result)

    def _remember(self, batch_ids: Iterable[str]) -> None:
        for bid in batch_ids:
            self._recent.add(bid)
            self._recent_order.append(bid)
        while len(self._recent_order) > REMEMBERED_BATCHES:
            self._recent.discard(self._recent_order.popleft())

    def _stored_answers(self, batch_ids: list[str]) -> dict[str, _Answer]:
        """What was accepted and rejected the first time these (earlier) batches came."""
        if not batch_ids:
            return {}
        rows = self._con.execute(
            "SELECT batch_id, accepted, rejected, rejected_count FROM batches "
            "WHERE batch_id IN (SELECT unnest(?::VARCHAR[]))",
            [batch_ids],
        ).fetchall()
        answers = {}
        for bid, accepted, rejected, count in rows:
            kept = self._decode_rejections.decode(rejected)
            answers[bid] = _Answer(accepted, kept, len(kept) if count is None else count)
        return answers

    def _write(self, group: list[_Pending]) -> None:
        """Write the group in one transaction.

        The ``batches`` primary key makes a retry idempotent at any distance in time: a
        batch id stored before fails the transaction with a ConstraintException.
        """
        if not group:
            return
        batches = pa.table(
            {
                "batch_id": pa.array([p.batch.batch_id for p in group], type=pa.string()),
                "received_at": pa.array(
                    [round(p.batch.received_at * 1e6) for p in group],
                    type=pa.timestamp("us", tz="UTC"),
                ),
                "accepted": pa.array([p.batch.accepted for p in group], type=pa.int32()),
                "rejected": pa.array(
                    [
                        self._rejections.encode(p.batch.rejected[:STORED_REJECTIONS]).decode()
                        for p in group
                    ],
                    type=pa.string(),
                ),
                "rejected_count": pa.array([len(p.batch.rejected) for p in group], pa.int32()),
            }
        )
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            con.register("incoming", batches)
            con.execute("INSERT INTO batches BY NAME SELECT * FROM incoming")
            con.unregister("incoming")
            self._predictions.insert(con, [p.predictions for p in group if p.predictions])
            for table in _ROW_TABLES:
                parts = [p.tables[table] for p in group if table in p.tables]
                if parts:
                    con.register("incoming", pa.concat_tables(parts))
                    con.execute(f"INSERT INTO {table} SELECT * FROM incoming")
                    con.unregister("incoming")
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # a failed COMMIT has ended it already
                con.execute("ROLLBACK")
            self._predictions.rolled_back()
            raise
        self._predictions.committed()

    # -- reading ---------------------------------------------------------------------------

    @contextmanager
    def _reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._closed.is_set():
            raise StoreClosedError("the event store is closed")
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._con.cursor()
            self._local.cursor = cursor
        try:
            yield cursor
        except duckdb.Error as exc:
            raise StoreError(f"event store query failed: {exc}") from exc

    def version_summaries(self, model: str, *, start: float, end: float) -> list[VersionSummary]:
        with self._reader() as cur:
            rows = cur.execute(
                f"""
                SELECT version, count(*), count(error),
                       quantile_cont(latency_ms, [0.5, 0.95, 0.99])
                FROM {TABLE}
                WHERE model = ? AND ts >= make_timestamptz(?::BIGINT)
                  AND ts < make_timestamptz(?::BIGINT)
                GROUP BY version ORDER BY version
                """,
                [model, round(start * 1e6), round(end * 1e6)],
            ).fetchall()
        window = end - start
        return [_summary(row, window) for row in rows]

    def resource_peaks(self, model: str, *, start: float, end: float) -> list[ResourcePeak]:
        with self._reader() as cur:
            rows = cur.execute(
                """
                SELECT coalesce(host, ''), pid, coalesce(version, ''), count(*),
                       max(cpu_percent), max(memory_percent), max(list_max(gpu_utilization))
                FROM resources
                WHERE model = ? AND ts >= make_timestamptz(?::BIGINT)
                  AND ts < make_timestamptz(?::BIGINT)
                GROUP BY ALL ORDER BY ALL
                """,
                [model, round(start * 1e6), round(end * 1e6)],
            ).fetchall()
        return [ResourcePeak(*row) for row in rows]

    def count(self, kind: str) -> int:
        table = TABLE if kind == "prediction" else _TABLES[kind][0]
        with self._reader() as cur:
            row = cur.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Read-only SQL for tests and tools that run inside the collector process."""
        with self._reader() as cur:
            return cur.execute(sql, params or []).fetchall()

    # -- labels and retention (LabelStore, in duckdb_labels.py) -----------------------------

    def labelled_predictions(
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> LabelledRows:
        with self._reader() as cur:
            return duckdb_labels.labelled_predictions(
                cur, model, start=start, end=end, version=version
            )

    def labelled_since(
        self, model: str, *, since: float, window: float | None = None
    ) -> list[tuple[str, float]]:
        with self._reader() as cur:
            return duckdb_labels.labelled_since(cur, model, since=since, window=window)

    def delete_events_before(self, cutoff: float) -> int:
        if self._closed.is_set():
            raise StoreClosedError("the event store is closed")
        # On the writer thread, between group commits: DuckDB's optimistic concurrency
        # would fail a delete and an append touching the same rows' row groups.
        future: Future[int] = Future()
        self._queue.put(
            _Job(
                lambda con: duckdb_labels.delete_events_before(con, [TABLE, *_ROW_TABLES], cutoff),
                future,
            )
        )
        try:
            return future.result()
        except duckdb.Error as exc:
            raise StoreError(f"could not delete the events before {cutoff}: {exc}") from exc

    def connection(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on this store's database, for the series store to share the file.

        Closing this store closes it too.
        """
        if self._closed.is_set():
            raise StoreClosedError("the event store is closed")
        return self._con.cursor()

    def is_healthy(self) -> bool:
        return self._writer.is_alive() and not self._closed.is_set()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()  # refuse new appends first, so none is queued behind the stop
        self._queue.put(_STOP)
        self._writer.join()
        self.durability.close()
        self._con.close()


def _summary(row: tuple[Any, ...], window: float) -> VersionSummary:
    version, count, errors, quantiles = row
    p50, p95, p99 = quantiles if quantiles is not None else (None, None, None)
    return VersionSummary(
        version=version,
        count=count,
        errors=errors,
        throughput_per_s=count / window,
        error_rate=errors / count if count else 0.0,
        latency_ms=LatencyPercentiles(p50=p50, p95=p95, p99=p99),
    )
