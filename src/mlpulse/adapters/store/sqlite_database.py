"""The embedded metadata database: one SQLite file that the small stores share.

Keys and models, alerts with incidents and the audit log, the registry, experiments,
rollouts and bandits are small keyed records, read and written a few at a time, which
suits SQLite's B-trees. They live in one file (``metadata.sqlite``) with one connection,
so a change that spans several stores (a rollback: the registry, the incident, the
rollout) commits once: :meth:`SQLiteDatabase.transaction` is re-entrant, and a store's
own transaction inside it joins it as a savepoint. WAL mode lets another process (the
CLI creating a key) read and write beside the collector.

Each store sees the database through :class:`SQLiteTables`, which names the store in
errors. Every ``sqlite3`` error becomes a :class:`~mlpulse.errors.StoreError` here. The
tables themselves are made by numbered migrations
(:mod:`mlpulse.adapters.store.sqlite_migrations`), not by the stores.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from mlpulse.adapters.store.sqlite_migrations import migrate
from mlpulse.errors import StoreClosedError, StoreError

_LOG = logging.getLogger("mlpulse.store")


class SQLiteDatabase:
    """One SQLite file in WAL mode: one connection for transactions behind a re-entrant
    lock, and one connection per thread for statements outside them.

    Statements outside a transaction (the reads of the routing-table poll, of the
    dashboard) run on the calling thread's own connection, so they never queue behind
    another thread's transaction. Measured (``bench/metadata_database.py``) with one
    thread committing alert changes in a loop and a registry read every millisecond:
    read p99 20.8 ms when every statement shared the one connection, 0.35-3.7 ms with
    a connection per thread, 0.25-0.45 ms with the stores in separate files (the
    rest is the shared write-ahead log). WAL mode gives each such statement the last
    committed state. Inside a transaction the thread's statements join it.

    ``name`` is for messages. The schema is not applied here: open it with
    :func:`open_metadata_database`.
    """

    def __init__(self, path: Path, *, name: str = "metadata database") -> None:
        self.path = path
        self.name = name
        # Re-entrant: a store's transaction inside :meth:`transaction` on the same thread
        # joins it; other threads wait for the whole outer transaction.
        self._lock = threading.RLock()
        self._depth = 0
        self._owner: int | None = None  # the thread in the transaction
        self._closed = False
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        try:
            self._db = self._connect()
            self._db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the {name} at {path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=10.0
        )
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    def _reader(self) -> sqlite3.Connection:
        """This thread's connection for statements outside a transaction."""
        con: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if con is None:
            with self._readers_lock:  # not the transaction lock: that may be held long
                if self._closed:  # closed after the caller looked: no new connection
                    raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
                con = self._local.connection = self._connect()
                self._readers.append(con)
        return con

    def _check_open(self, store: str, action: str) -> None:
        if self._closed:
            raise StoreClosedError(f"the {store} is closed (could not {action})")

    def rows(
        self, action: str, sql: str, params: Sequence[Any] = (), *, store: str = ""
    ) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows: inside this thread's transaction, if
        it has one open, else on its own connection (autocommit)."""
        store = store or self.name
        try:
            if self._owner == threading.get_ident():
                with self._lock:
                    return self._db.execute(sql, params).fetchall()
            self._check_open(store, action)
            return self._reader().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            self._check_open(store, action)  # closed meanwhile: say so, not "misuse"
            raise StoreError(f"the {store} could not {action}: {exc}") from exc

    @contextmanager
    def transaction(self, action: str, *, store: str = "") -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed on leaving the block.

        Inside another one on this thread it is a savepoint of it: an error rolls back
        this block's changes only, and nothing is committed before the outer block ends.
        """
        store = store or self.name
        with self._lock:
            self._check_open(store, action)
            depth = self._depth
            begin, commit, rollback = (
                ("BEGIN IMMEDIATE", "COMMIT", ("ROLLBACK",))
                if depth == 0
                else (f"SAVEPOINT s{depth}", f"RELEASE s{depth}",
                      (f"ROLLBACK TO s{depth}", f"RELEASE s{depth}"))
            )  # fmt: skip
            try:
                self._db.execute(begin)
                self._depth, self._owner = depth + 1, threading.get_ident()
                try:
                    yield self._db
                except BaseException:
                    for statement in rollback:
                        self._db.execute(statement)
                    raise
                finally:
                    self._depth = depth
                    if depth == 0:
                        self._owner = None
                self._db.execute(commit)
            except sqlite3.Error as exc:
                if depth == 0 and self._db.in_transaction:  # a failed COMMIT keeps it open
                    self._db.execute("ROLLBACK")
                raise StoreError(f"the {store} could not {action}: {exc}") from exc

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for migrations and for tests that break the file on purpose."""
        return self._db

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                with self._readers_lock:
                    for con in self._readers:
                        con.close()
                self._db.close()


def open_metadata_database(path: Path, *, legacy_dir: Path | None = None) -> SQLiteDatabase:
    """The database at ``path``, migrated forward to the current schema.

    ``legacy_dir``: a data directory whose separate store files of earlier versions
    are copied in (once, by migration 2) and renamed ``*.migrated``.
    """
    database = SQLiteDatabase(path)
    try:
        report = migrate(database, legacy_dir=legacy_dir)
    except BaseException:
        database.close()
        raise
    if report.applied:
        _LOG.info("%s", report.describe())
    return database


class SQLiteTables:
    """One store's view of a :class:`SQLiteDatabase`: its name in errors.

    Given a path instead of a database (a store used on its own, as tests and tools
    do), it opens that file, migrated to the current schema, and closes it on
    :meth:`close`; a shared database is closed by its owner (the backend) instead.
    """

    def __init__(self, where: SQLiteDatabase | Path, *, name: str) -> None:
        if isinstance(where, SQLiteDatabase):
            self.database, self._owned = where, False
        else:
            self.database, self._owned = open_metadata_database(where), True
        self.name = name
        self.path = self.database.path

    def rows(self, action: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.database.rows(action, sql, params, store=self.name)

    def transaction(self, action: str) -> AbstractContextManager[sqlite3.Connection]:
        return self.database.transaction(action, store=self.name)

    @property
    def connection(self) -> sqlite3.Connection:
        return self.database.connection

    def close(self) -> None:
        if self._owned:
            self.database.close()
