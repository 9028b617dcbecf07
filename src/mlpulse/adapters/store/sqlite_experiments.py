"""Experiment specs in the metadata database: one row per experiment, its spec as JSON.

SQLite in WAL mode like the other metadata (registry, alerts): specs are small, written
rarely (create, start, stop) and read on every assignment and result. The spec is kept
whole as JSON, so a field added to :class:`ExperimentSpec` needs no migration; the
columns beside it are what listing sorts and filters on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from mlpulse.adapters.store.sqlite_database import SQLiteDatabase, SQLiteTables
from mlpulse.domain.experiments import ExperimentSpec
from mlpulse.errors import InvalidInputError

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(ExperimentSpec).decode


class SQLiteExperimentStore:
    """:class:`mlpulse.ports.ExperimentStore` in the metadata database (tables: migration 1
    of ``sqlite_migrations``)."""

    def __init__(self, database: SQLiteDatabase | Path) -> None:
        self._file = SQLiteTables(database, name="experiment store")
        self.path = self._file.path

    def _run(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._file.rows("read or write experiments", sql, params)

    def insert(self, spec: ExperimentSpec) -> None:
        with self._file.transaction("store an experiment") as db:
            try:
                db.execute(
                    "INSERT INTO experiments (name, model, status, created_at, body) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (spec.name, spec.model, spec.status, spec.created_at or 0.0,
                     _encode(spec).decode()),
                )  # fmt: skip
            except sqlite3.IntegrityError as exc:
                raise InvalidInputError(
                    f"name: an experiment named {spec.name!r} exists already", field="name"
                ) from exc

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
        self._file.close()
