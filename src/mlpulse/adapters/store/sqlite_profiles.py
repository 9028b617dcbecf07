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

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlpulse.adapters.store.sqlite_database import SQLiteDatabase
from mlpulse.domain.series import MinuteProfile

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS window_profiles (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        version TEXT NOT NULL,
        segment TEXT NOT NULL,
        minute INTEGER NOT NULL,   -- microseconds since the epoch, as the other tables
        writer TEXT NOT NULL,
        profile BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS window_profiles_by_minute ON window_profiles (model, minute)",
)


def _micros(seconds: float) -> int:
    return round(seconds * 1e6)


class SQLiteProfileStore:
    """The minute-profile half of :class:`mlpulse.ports.SeriesStore`, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Its own file, not the metadata database: see mlpulse.adapters.store.embedded.
        self._file = SQLiteDatabase(path, name="profile store")
        try:
            with self._file.transaction("create its table") as db:
                for statement in _SCHEMA:
                    db.execute(statement)
        except BaseException:
            self._file.close()
            raise

    def _run(self, action: str, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._file.rows(action, sql, params)

    def append_profiles(self, rows: Sequence[MinuteProfile]) -> None:
        """Insert the rows in one transaction, committed before returning."""
        if not rows:
            return
        values = [
            (r.model, r.version, r.segment, _micros(r.minute), r.writer, r.profile) for r in rows
        ]
        with self._file.transaction("store profiles") as db:
            db.executemany(
                "INSERT INTO window_profiles (model, version, segment, minute, writer, "
                "profile) VALUES (?, ?, ?, ?, ?, ?)",
                values,
            )

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
        self._file.close()
