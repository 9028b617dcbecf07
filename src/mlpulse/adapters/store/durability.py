"""``store.json``: a small record of what the embedded store held, checked at start.

Neither engine complains when acknowledged data has gone. Measured with DuckDB 2.0.1
after a SIGKILL: a write-ahead log cut in half brought back half the rows written since
the last checkpoint, an emptied or deleted log none of them, each without an error; and
SQLite takes an emptied file for a new database. So the collector keeps this record
beside the files and compares the store with it when it opens:

- ``events.duckdb``: acknowledged batches and their events (the ``batches`` table has a
  row per acknowledged batch, committed with its events), the 16 newest batches, and
  the sizes of the file and its log. Refreshed every second, off the writer thread (a
  read of the rows added since; the file is rewritten only when something changed).
  A loss is one of those newest batches gone while the store still holds a batch as
  old or older: retention deletes the oldest batches, a lost or cut log the newest.
- every ``*.sqlite`` file: its pages and rows per table, every 30 seconds. SQLite files
  never shrink on their own (nothing here vacuums), so fewer pages *and* fewer rows
  means the file was truncated, emptied or replaced. Rows alone may fall (the outbox
  deletes delivered entries).

The record lags the store by at most its interval, so it is a lower bound: a store
holding less than it says lost acknowledged data. Each finding is logged as an ERROR
naming the file and what is missing, kept in the record (the last 20), and shown by
``GET /v1/health`` and ``mlpulse doctor``. The record is written to a temporary name and
renamed; a SIGKILL leaves the old or the new one whole.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

import duckdb
import msgspec

log = logging.getLogger("mlpulse.store")

MARKER: Final = "store.json"
_KEPT_FINDINGS: Final = 20


class EventsState(msgspec.Struct, frozen=True):
    batches: int
    events: int
    # The newest acknowledged batches (id, received at), newest first.
    newest: list[tuple[str, float]]
    file_bytes: int
    wal_bytes: int


class SQLiteState(msgspec.Struct, frozen=True):
    bytes: int
    pages: int
    rows: dict[str, int]


class Finding(msgspec.Struct, frozen=True):
    file: str
    message: str
    found_at: float


class Record(msgspec.Struct):
    written_at: float
    clean: bool  # written at close (the store was checkpointed and closed)
    events: EventsState | None
    sqlite: dict[str, SQLiteState]
    findings: list[Finding] = []  # from past starts, newest last
    version: int = 1


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


NEWEST: Final = 16  # batches whose ids the record keeps


class Tally(NamedTuple):
    """Acknowledged batches and events, the newest ones, the last row id counted."""

    batches: int
    events: int
    newest: tuple[tuple[str, float], ...]
    last_rowid: int


_EMPTY: Final = Tally(0, 0, (), -1)
_NEWEST_SQL: Final = (
    "SELECT batch_id, epoch_us(received_at) / 1e6 FROM batches WHERE rowid > ? "
    f"ORDER BY rowid DESC LIMIT {NEWEST}"
)


def tally(con: duckdb.DuckDBPyConnection, previous: Tally | None = None) -> Tally:
    """Count the ``batches`` table, from ``previous`` on when rows were only added.

    A whole count reads every batch id: 40 ms of CPU at 1M batches, and the table grows
    by about a million a day at 60k events/s. Counting only the rows after the last row
    id counted reads the newest row group: under 1 ms (DuckDB 2.0.1, measured here).
    """
    try:
        con.execute("BEGIN TRANSACTION")  # one snapshot for every read
        try:
            counted = con.execute("SELECT count(*) FROM batches").fetchone()
            total = int(counted[0]) if counted else 0
            added = _added(con, previous)
            if previous is not None and previous.batches + added.batches != total:
                added = _added(con, None)  # rows were deleted (retention): count them all
                previous = None
            base = previous or _EMPTY
            return Tally(
                total, base.events + added.events, (added.newest + base.newest)[:NEWEST],
                base.last_rowid if added.last_rowid < 0 else added.last_rowid,
            )  # fmt: skip
        finally:
            con.execute("COMMIT")
    except duckdb.CatalogException:  # read-only, a file whose tables were only in a lost log
        return _EMPTY


def _added(con: duckdb.DuckDBPyConnection, previous: Tally | None) -> Tally:
    """The batches after ``previous``'s last row id (all of them without it)."""
    since = -1 if previous is None else previous.last_rowid
    n, events, last = con.execute(
        "SELECT count(*), coalesce(sum(accepted), 0), coalesce(max(rowid), -1) FROM batches "
        "WHERE rowid > ?",
        [since],
    ).fetchone() or (0, 0, -1)
    newest = tuple((str(b), float(t)) for b, t in con.execute(_NEWEST_SQL, [since]).fetchall())
    return Tally(int(n), int(events), newest, int(last))


def present(con: duckdb.DuckDBPyConnection, batch_ids: list[str]) -> tuple[set[str], float | None]:
    """Which of ``batch_ids`` the store holds, and when its oldest batch was received."""
    try:
        found = con.execute(
            "SELECT batch_id FROM batches WHERE batch_id IN (SELECT unnest(?::VARCHAR[]))",
            [batch_ids],
        ).fetchall()
        oldest = con.execute("SELECT epoch_us(min(received_at)) / 1e6 FROM batches").fetchone()
    except duckdb.CatalogException:
        return set(), None
    return {str(r[0]) for r in found}, None if not oldest or oldest[0] is None else float(oldest[0])


def events_state(path: Path, counted: Tally) -> EventsState:
    wal = _size(Path(f"{path}.wal")) or 0
    newest = list(counted.newest)
    return EventsState(counted.batches, counted.events, newest, _size(path) or 0, wal)


def sqlite_state(path: Path) -> SQLiteState | None:
    """Pages and rows per table of an SQLite file, read-only; None if it is not there."""
    size = _size(path)
    if size is None:
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            pages = int(db.execute("PRAGMA page_count").fetchone()[0])
            names = [r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )]  # fmt: skip
            rows = {
                n: int(db.execute(f'SELECT count(*) FROM "{n.replace(chr(34), chr(34) * 2)}"')
                       .fetchone()[0])
                for n in names
            }  # fmt: skip
    except sqlite3.Error as exc:
        log.warning("could not read %s for the store record: %s", path, exc)
        return None
    return SQLiteState(size, pages, rows)


def read_record(path: Path) -> Record | None:
    try:
        return msgspec.json.decode(path.read_bytes(), type=Record)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError) as exc:
        log.warning("ignoring an unreadable %s (%s): the store is not checked this time", path, exc)
        return None


def check_events(
    before: EventsState, now: EventsState, *, name: str, at: float, held: Collection[str],
    oldest: float | None, existed: bool, wal_at_open: int | None, clean: bool = False,
) -> str | None:  # fmt: skip
    """What the event store lost since ``before`` (recorded at ``at``), if anything.

    ``held``: which of ``before.newest`` the store holds now; ``oldest``: when its oldest
    batch was received. A newest batch gone is a loss unless the store's batches are
    all newer than it: retention deletes the oldest batches, a lost log the newest.
    ``clean``: ``before`` was written at a clean close, so the log was folded into the
    file then and its size says nothing.
    """
    gone = [b for b, received in before.newest
            if b not in held and (oldest is None or oldest <= received)]  # fmt: skip
    if not gone:
        return None
    lost = before.events - now.events
    message = (
        f"{name} lacks {len(gone)} of the {len(before.newest)} newest batches acknowledged by "
        f"{_when(at)} (e.g. {gone[0]!r}): it holds {now.batches:,} acknowledged batches "
        f"({now.events:,} events) and held {before.batches:,} ({before.events:,} events) then"
        + (f"; at least {lost:,} acknowledged events are missing." if lost > 0 else
           "; acknowledged events are missing.")
    )  # fmt: skip
    wal = f"{name}.wal"
    if not existed:
        cause = f" {name} did not exist at start (deleted or moved?)."
    elif clean:
        cause = f" It was closed cleanly then: {name} may have been replaced by an older copy."
    elif before.wal_bytes and wal_at_open is None:
        cause = f" {wal} was missing at start ({before.wal_bytes:,} bytes then): deleted?"
    elif before.wal_bytes and wal_at_open == 0:
        cause = f" {wal} was empty at start ({before.wal_bytes:,} bytes then)."
    elif wal_at_open is not None and wal_at_open < before.wal_bytes:
        cause = f" {wal} was {wal_at_open:,} bytes at start, {before.wal_bytes:,} then: truncated?"
    else:
        cause = f" {name} may have been replaced by an older copy."
    return message + cause


def check_sqlite(
    before: SQLiteState, now: SQLiteState | None, *, name: str, at: float
) -> str | None:
    held = sum(before.rows.values())
    if not held:
        return None
    if now is None:
        return f"{name} is missing; it held {held:,} rows at {_when(at)}."
    lost = {t: (n, now.rows.get(t, 0)) for t, n in before.rows.items() if now.rows.get(t, 0) < n}
    if not lost or (now.pages >= before.pages and sum(now.rows.values()) > 0):
        return None
    tables = ", ".join(f"{t} {was:,} → {is_:,}" for t, (was, is_) in sorted(lost.items()))
    return (
        f"{name} lost rows since {_when(at)} ({tables}); it has {now.pages:,} pages against "
        f"{before.pages:,} then ({now.bytes:,} bytes): truncated, emptied or replaced?"
    )


def sqlite_states(data_dir: Path) -> dict[str, SQLiteState]:
    states = {p.name: sqlite_state(p) for p in sorted(data_dir.glob("*.sqlite"))}
    return {name: state for name, state in states.items() if state is not None}


def migrated_files(data_dir: Path) -> frozenset[str]:
    return frozenset(p.name.removesuffix(".migrated") for p in data_dir.glob("*.sqlite.migrated"))


def compare(
    previous: Record, events: EventsState | None, sqlite: dict[str, SQLiteState], *,
    name: str, existed: bool, wal_at_open: int | None, now: float,
    held: Collection[str] = frozenset(), oldest: float | None = None,
    migrated: frozenset[str] = frozenset(),
) -> list[Finding]:  # fmt: skip
    """Everything the store lost since ``previous`` was recorded.

    ``migrated``: SQLite files an upgrade moved into another database (renamed to
    ``<name>.migrated``), so their absence is no loss.
    """
    messages: list[tuple[str, str | None]] = []
    if previous.events is not None:
        events = events or EventsState(0, 0, [], 0, 0)
        messages.append((name, check_events(
            previous.events, events, name=name, at=previous.written_at, held=held,
            oldest=oldest, existed=existed, wal_at_open=wal_at_open, clean=previous.clean,
        )))  # fmt: skip
    for file, state in sorted(previous.sqlite.items()):
        if file in migrated:
            continue
        found = check_sqlite(state, sqlite.get(file), name=file, at=previous.written_at)
        messages.append((file, found))
    return [Finding(file, message, now) for file, message in messages if message]


def _newest_ids(record: Record | None) -> list[str]:
    return [b for b, _ in record.events.newest] if record and record.events else []


def check_directory(events_path: Path, *, now: float) -> tuple[Record | None, list[Finding]]:
    """The record and what the files lack against it, for ``mlpulse doctor`` (no collector
    may hold the files). DuckDB replays its log in memory, read-only, as a start would."""
    record = read_record(events_path.parent / MARKER)
    if record is None:
        return None, []
    wal = _size(Path(f"{events_path}.wal"))
    existed = bool(_size(events_path))
    events, held, oldest = None, set[str](), None
    if existed:
        with duckdb.connect(str(events_path), read_only=True) as con:
            events = events_state(events_path, tally(con))
            held, oldest = present(con, _newest_ids(record))
    findings = compare(
        record, events, sqlite_states(events_path.parent), name=events_path.name,
        existed=existed, wal_at_open=wal, now=now, held=held, oldest=oldest,
        migrated=migrated_files(events_path.parent),
    )  # fmt: skip
    return record, findings


class DurabilityMarker:
    """Checks the store against ``store.json`` at open, then keeps the record current.

    Make it before DuckDB opens the file (it notes the log as a crash left it: DuckDB
    replays the log at open), call :meth:`start` once the store is open and
    :meth:`close` before the connection closes.
    """

    def __init__(
        self, events_path: Path, *, interval_s: float = 1.0, sqlite_every_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self._path = events_path
        self._dir = events_path.parent
        self._marker = self._dir / MARKER
        self._interval_s = interval_s
        self._sqlite_every_s = sqlite_every_s
        self._clock = clock
        self._previous = read_record(self._marker)
        self._existed = bool(_size(events_path))
        self._wal_at_open = _size(Path(f"{events_path}.wal"))
        self.findings: list[Finding] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._tally: Tally | None = None
        self._written: bytes = b""
        self._sqlite: dict[str, SQLiteState] = {}
        self._sqlite_at = 0.0
        self._findings_kept: list[Finding] = list(self._previous.findings if self._previous else [])

    def start(self, con: duckdb.DuckDBPyConnection) -> None:
        """Compare the opened store with the record, log what is missing, start keeping it."""
        self._cursor = con.cursor()
        try:
            self._tally = tally(self._cursor)
            events = events_state(self._path, self._tally)
            self._refresh_sqlite(self._clock())
            self.findings = self._compare(events)
            for finding in self.findings:
                log.error("STORE DATA MISSING: %s", finding.message)
            self._findings_kept = (self._findings_kept + self.findings)[-_KEPT_FINDINGS:]
            self._write(events, clean=False)
        except (duckdb.Error, OSError) as exc:  # a record must never stop the collector
            log.warning("could not check the store against %s: %s", self._marker, exc)
        self._thread = threading.Thread(target=self._loop, name="mlpulse-store-record", daemon=True)
        self._thread.start()

    def _compare(self, events: EventsState) -> list[Finding]:
        if self._previous is None:
            return []
        assert self._cursor is not None
        held, oldest = present(self._cursor, _newest_ids(self._previous))
        return compare(
            self._previous, events, self._sqlite, name=self._path.name, existed=self._existed,
            wal_at_open=self._wal_at_open, now=self._clock(), held=held, oldest=oldest,
            migrated=migrated_files(self._dir),
        )  # fmt: skip

    def _refresh_sqlite(self, now: float) -> None:
        self._sqlite = sqlite_states(self._dir)
        self._sqlite_at = now

    def _write(self, events: EventsState, *, clean: bool) -> None:
        record = Record(
            written_at=self._clock(), clean=clean, events=events, sqlite=self._sqlite,
            findings=self._findings_kept,
        )  # fmt: skip
        # Unchanged state: no write (written_at alone does not count).
        key = msgspec.json.encode((events, self._sqlite, clean, len(self._findings_kept)))
        if key == self._written:
            return
        tmp = self._marker.with_name(MARKER + ".tmp")
        tmp.write_bytes(msgspec.json.format(msgspec.json.encode(record)))
        os.replace(tmp, self._marker)
        self._written = key

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.refresh()
            except Exception:  # a loop boundary: the record is best effort, the store goes on
                log.exception("could not update %s", self._marker)

    def refresh(self) -> None:
        """Bring the record up to date now (its thread does this every second)."""
        with self._lock:  # one cursor: DuckDB's are not for two threads at once
            if self._cursor is None:
                return  # closed
            now = self._clock()
            if now - self._sqlite_at >= self._sqlite_every_s:
                self._refresh_sqlite(now)
            self._tally = tally(self._cursor, self._tally)
            self._write(events_state(self._path, self._tally), clean=False)

    def report(self) -> dict[str, Any]:
        """For ``GET /v1/health``: this start's findings, earlier ones, the last record."""
        return {
            "findings": msgspec.to_builtins(self.findings),
            "earlier_findings": msgspec.to_builtins(
                [f for f in self._findings_kept if f not in self.findings]
            ),
            "record": str(self._marker),
        }

    def close(self) -> None:
        """Stop refreshing and write the record of a clean close."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self._cursor is None:
                return
            try:
                self._refresh_sqlite(self._clock())
                self._tally = tally(self._cursor, self._tally)
                self._write(events_state(self._path, self._tally), clean=True)
            except (duckdb.Error, OSError) as exc:
                log.warning("could not write %s at close: %s", self._marker, exc)
            finally:
                self._cursor.close()
                self._cursor = None
