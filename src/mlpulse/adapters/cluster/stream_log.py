"""Each model's whole prediction stream, in order, for the leader's streaming detectors.

Replicas each take part of the ingest, but a streaming detector must see all of a
model's events. So the PostgreSQL event writer also appends, in the same transaction
as the events, a compact entry per batch (the prediction blocks without their
features) to ``stream_log``; the leader reads that log and feeds its detectors. Same
transaction: an acknowledged batch is in the log, a failed one is not.

Why not simply read by sequence number: sequence values are taken at insert, and
transactions commit in another order, so a reader that moves past 6 can miss a 5 that
commits a moment later. So an append first takes a transaction-level advisory lock,
as the last step before COMMIT: appends are serialised from the insert to the commit,
sequence order is commit order, and a reader that has seen ``seq`` will never see a
smaller one appear. The lock is held for the commit's flush only (a millisecond or
two), once per group commit per replica. (A cursor on transaction ids bounded by
``pg_snapshot_xmin`` avoids the lock but is held back by any long write transaction on
the whole server, another application's included; this is not.)

The leader stores its cursor, so a new leader goes on where the old one stopped:
nothing is skipped or seen twice across a failover, apart from entries read but not
yet recorded when the old leader died (at most ``save_every_s`` worth, seen again).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Final, cast

import msgspec
import psycopg

from mlpulse.adapters.cluster.leader import KEEPALIVES
from mlpulse.domain.events import PredictionBlock
from mlpulse.domain.storage import AcceptedBatch

log = logging.getLogger("mlpulse.cluster")

SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS stream_log ("
    " seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " received_at double precision NOT NULL,"
    " payload bytea NOT NULL)",
    "CREATE TABLE IF NOT EXISTS stream_log_cursor ("
    " id integer PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL)",
)
INSERT_SQL: Final = "INSERT INTO stream_log (received_at, payload) VALUES (%s, %s)"
# Serialises appends from insert to commit (see above); a constant key, "mlps".
APPEND_LOCK: Final = 0x6D6C7073
_READ_SQL: Final = "SELECT seq, payload FROM stream_log WHERE seq > %s ORDER BY seq LIMIT %s"
# Where a leader with no stored cursor starts: the present (history is skipped).
_START_SQL: Final = "SELECT coalesce(max(seq), 0) FROM stream_log"


class _Entry(msgspec.Struct, frozen=True, array_like=True):
    batch_id: str
    received_at: float
    predictions: list[PredictionBlock]


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(_Entry)


def entry(batch: AcceptedBatch) -> bytes | None:
    """The log entry of ``batch``: its predictions without features; None without any."""
    if not batch.predictions:
        return None
    blocks = [msgspec.structs.replace(b, features={}) for b in batch.predictions]
    return _encoder.encode(_Entry(batch.batch_id, batch.received_at, blocks))


def append(cursor: psycopg.Cursor[tuple[object, ...]], batches: Sequence[AcceptedBatch]) -> int:
    """Append the entries of ``batches`` in the caller's (the event writer's) transaction.

    Call it last, right before COMMIT: the lock it takes is held until then.
    """
    rows = [(b.received_at, e) for b in batches if (e := entry(b)) is not None]
    if rows:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
        cursor.executemany(INSERT_SQL, rows)
    return len(rows)


def ensure_schema(con: psycopg.Connection[tuple[object, ...]]) -> None:
    for statement in SCHEMA:
        con.execute(statement)


class StreamLogReader:
    """On the leader: reads the log in order and hands each batch to ``listener``."""

    def __init__(
        self,
        url: str,
        listener: Callable[[AcceptedBatch], None],
        *,
        poll_s: float = 0.1,
        batch_limit: int = 500,
        save_every_s: float = 1.0,
        keep_s: float = 3600.0,
        now: Callable[[], float] | None = None,
    ) -> None:
        self._url = url
        self._listener = listener
        self._poll = poll_s
        self._limit = batch_limit
        self._save_every = save_every_s
        self._keep = keep_s
        self._now = now
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.position: int | None = None

    def start(self) -> None:
        """Start following the log (on election)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mlpulse-stream-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following it (on demotion or shutdown); the cursor is saved first."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join()
        self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._url, autocommit=True, connect_timeout=5, **KEEPALIVES,  # type: ignore[arg-type]  # libpq options
                ) as con:  # fmt: skip
                    self._follow(con)
            except psycopg.Error:
                log.warning("the stream log reader lost its connection", exc_info=True)
                self._stop.wait(1.0)

    def _follow(self, con: psycopg.Connection[tuple[object, ...]]) -> None:
        ensure_schema(con)
        position = self._load(con)
        saved, saved_at = position, time.monotonic()
        while not self._stop.is_set():
            rows = con.execute(_READ_SQL, (position, self._limit)).fetchall()
            for seq, payload in rows:
                position = cast(int, seq)
                self._deliver(cast(bytes, payload))  # bytea column
            self.position = position
            if position != saved and time.monotonic() - saved_at >= self._save_every:
                self._save(con, position)
                saved, saved_at = position, time.monotonic()
            if len(rows) < self._limit:
                self._stop.wait(self._poll)
        if position != saved:
            self._save(con, position)

    def _deliver(self, payload: bytes) -> None:
        try:
            item = _decoder.decode(payload)
        except msgspec.DecodeError:
            log.exception("an unreadable stream log entry was skipped")
            return
        try:
            self._listener(AcceptedBatch(item.batch_id, item.received_at, item.predictions))
        except Exception:  # a loop boundary: the log goes on
            log.exception("a stream log listener failed on %s", item.batch_id)

    def _load(self, con: psycopg.Connection[tuple[object, ...]]) -> int:
        row = con.execute("SELECT seq FROM stream_log_cursor WHERE id = 1").fetchone()
        if row is not None:
            return cast(int, row[0])
        # The first leader ever starts at the present, and records it at once: a leader
        # after it, however soon, goes on from here instead of from a later present.
        row = con.execute(_START_SQL).fetchone()
        start = cast(int, row[0]) if row else 0
        con.execute(
            "INSERT INTO stream_log_cursor (id, seq) VALUES (1, %s) ON CONFLICT (id) DO NOTHING",
            (start,),
        )
        return self._load(con)

    def _save(self, con: psycopg.Connection[tuple[object, ...]], position: int) -> None:
        con.execute(
            "INSERT INTO stream_log_cursor (id, seq) VALUES (1, %s)"
            " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq",
            (position,),
        )
        if self._now is not None:
            # Entries behind the cursor and older than keep_s are of no further use.
            con.execute(
                "DELETE FROM stream_log WHERE seq <= %s AND received_at < %s",
                (position, self._now() - self._keep),
            )
