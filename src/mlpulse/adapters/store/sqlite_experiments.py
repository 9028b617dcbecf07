"""Experiment specs in SQLite: one row per experiment, its spec as a JSON body.

SQLite in WAL mode like the other metadata (registry, alerts): specs are small, written
rarely (create, start, stop) and read on every assignment and result. The spec is kept
whole as JSON, so a field added to :class:`ExperimentSpec` needs no migration; the
columns beside it are what listing sorts and filters on.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from mlpulse.domain.experiments import ExperimentSpec
from mlpulse.errors import InvalidInputError, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    name TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    body TEXT NOT NULL
);
"""

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(ExperimentSpec).decode


class SQLiteExperimentStore:
    """Implements :class:`mlpulse.services.experiments.ExperimentStore` in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=10.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the experiment store at {path}: {exc}") from exc

    def _run(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.IntegrityError as exc:
                raise InvalidInputError(
                    f"name: an experiment named {params[0]!r} exists already", field="name"
                ) from exc
            except sqlite3.Error as exc:
                raise StoreError(f"experiment store failed: {exc}") from exc

    def insert(self, spec: ExperimentSpec) -> None:
        self._run(
            "INSERT INTO experiments (name, model, status, created_at, body) "
            "VALUES (?, ?, ?, ?, ?)",
            (spec.name, spec.model, spec.status, spec.created_at or 0.0,
             _encode(spec).decode()),
        )  # fmt: skip

    def update(self, spec: ExperimentSpec) -> None:
        self._run(
            "UPDATE experiments SET status = ?, body = ? WHERE name = ?",
            (spec.status, _encode(spec).decode(), spec.name),
        )

    def get(self, name: str) -> ExperimentSpec | None:
        rows = self._run("SELECT body FROM experiments WHERE name = ?", (name,))
        return _decode(rows[0][0]) if rows else None

    def list(self) -> list[ExperimentSpec]:
        rows = self._run("SELECT body FROM experiments ORDER BY created_at, name")
        return [_decode(row[0]) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
