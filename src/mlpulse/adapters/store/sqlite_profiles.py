"""Minute profiles in SQLite: keyed blobs, read a few at a time.

Why not DuckDB, like the events and metric points: the evaluator reads the profiles of
one model's few minutes at a time, and DuckDB, a column store, reads a BLOB column by
row group; with a file-backed table every such read scanned all the blobs of the table
(9 ms for 10 of 6,000 rows of 33 KB, growing with the table). SQLite's B-tree finds
the rows by (model, minute) through an index and reads only their pages (well under a
millisecond). The table is append-only; WAL mode lets the aggregator write while the
evaluator reads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlpulse.domain.series import MinuteProfile
from mlpulse.errors import StoreClosedError, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS window_profiles (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    segment TEXT NOT NULL,
    minute INTEGER NOT NULL,   -- microseconds since the epoch, as the other tables
    writer TEXT NOT NULL,
    profile BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS window_profiles_by_minute ON window_profiles (model, minute);
"""


def _micros(seconds: float) -> int:
    return round(seconds * 1e6)


class SQLiteProfileStore:
    """The minute-profile half of :class:`mlpulse.ports.SeriesStore`, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._closed = False
        try:
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=10.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the profile store at {path}: {exc}") from exc

    def _run(self, action: str, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._closed:
                raise StoreClosedError(f"the profile store is closed (could not {action})")
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"the profile store could not {action}: {exc}") from exc

    def append_profiles(self, rows: Sequence[MinuteProfile]) -> None:
        """Insert the rows in one transaction, committed before returning."""
        if not rows:
            return
        values = [
            (r.model, r.version, r.segment, _micros(r.minute), r.writer, r.profile) for r in rows
        ]
        with self._lock:
            if self._closed:
                raise StoreClosedError("the profile store is closed")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(
                        "INSERT INTO window_profiles (model, version, segment, minute, writer, "
                        "profile) VALUES (?, ?, ?, ?, ?, ?)",
                        values,
                    )
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"the profile store could not store profiles: {exc}") from exc

    def _where(
        self, model: str, start: float, end: float, version: str | None
    ) -> tuple[str, list[Any]]:
        sql = "WHERE model = ? AND minute >= ? AND minute < ?"
        params: list[Any] = [model, _micros(start), _micros(end)]
        if version is not None:
            sql += " AND version = ?"
            params.append(version)
        return sql, params

    def read_profiles(
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> list[MinuteProfile]:
        where, params = self._where(model, start, end, version)
        rows = self._run(
            "read profiles",
            "SELECT model, version, segment, minute, writer, profile FROM window_profiles "
            f"{where} ORDER BY minute, version, segment, writer, id",
            params,
        )
        return [MinuteProfile(m, v, s, us / 1e6, w, bytes(p)) for m, v, s, us, w, p in rows]

    def profile_index(
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> list[tuple[float, int, int]]:
        where, params = self._where(model, start, end, version)
        rows = self._run(
            "index profiles",
            f"SELECT minute, count(*), max(id) FROM window_profiles {where} "
            "GROUP BY minute ORDER BY minute",
            params,
        )
        return [(us / 1e6, int(n), int(last)) for us, n, last in rows]

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()
