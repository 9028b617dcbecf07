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
    """One SQLite file in WAL mode behind one connection and one (re-entrant) lock.

    ``name`` is for messages. The schema is not applied here: open it with
    :func:`mlpulse.adapters.store.sqlite_migrations.open_metadata_database`.
    """

    def __init__(self, path: Path, *, name: str = "metadata database") -> None:
        self.path = path
        self.name = name
        # Re-entrant: a store's transaction inside :meth:`transaction` on the same thread
        # joins it; other threads wait for the whole outer transaction.
        self._lock = threading.RLock()
        self._depth = 0
        self._closed = False
        try:
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=10.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the {name} at {path}: {exc}") from exc

    def _check_open(self, store: str, action: str) -> None:
        if self._closed:
            raise StoreClosedError(f"the {store} is closed (could not {action})")

    def rows(
        self, action: str, sql: str, params: Sequence[Any] = (), *, store: str = ""
    ) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows (inside the open transaction, if any)."""
        store = store or self.name
        with self._lock:
            self._check_open(store, action)
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
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
                self._depth = depth + 1
                try:
                    yield self._db
                except BaseException:
                    for statement in rollback:
                        self._db.execute(statement)
                    raise
                finally:
                    self._depth = depth
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
