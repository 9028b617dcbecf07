"""One SQLite file as the small stores use it: WAL mode, one lock, errors made ours.

The profile, alert and registry stores keep keyed records that are read and written a
few at a time, which suits SQLite's B-trees; WAL mode lets a reader (the CLI, another
thread) work beside the writer. Every ``sqlite3`` error becomes a
:class:`~mlpulse.errors.StoreError` here, naming the store and what it was doing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlpulse.errors import StoreClosedError, StoreError


class SQLiteFile:
    """A connection to ``path`` with ``schema`` applied; ``name`` is for messages."""

    def __init__(self, path: Path, schema: str, *, name: str) -> None:
        self.path = path
        self.name = name
        self._lock = threading.Lock()
        self._closed = False
        try:
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=10.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(schema)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the {name} at {path}: {exc}") from exc

    def rows(self, action: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows."""
        with self._lock:
            if self._closed:
                raise StoreClosedError(f"the {self.name} is closed (could not {action})")
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"the {self.name} could not {action}: {exc}") from exc

    @contextmanager
    def transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed on leaving the block."""
        with self._lock:
            if self._closed:
                raise StoreClosedError(f"the {self.name} is closed (could not {action})")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"the {self.name} could not {action}: {exc}") from exc

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for tests that break the file on purpose."""
        return self._db

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()
