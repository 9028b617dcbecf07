"""Rollouts in SQLite: one row per rollout, kept whole as JSON (its timeline included).

A rollout is written once per decision and read on every tick; the JSON body means a
field added to :class:`~mlpulse.services.rollouts.Rollout` needs no migration.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from mlpulse.adapters.store.sqlite_file import SQLiteFile
from mlpulse.services.rollouts import Rollout

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rollouts (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    body TEXT NOT NULL
);
"""

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Rollout).decode


class SQLiteRolloutStore:
    """Implements :class:`mlpulse.services.rollouts.RolloutStore` in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self._file = SQLiteFile(path, _SCHEMA, name="rollout store")

    def save(self, rollout: Rollout) -> None:
        self._file.rows(
            "save a rollout",
            "INSERT OR REPLACE INTO rollouts (id, model, status, created_at, body) "
            "VALUES (?, ?, ?, ?, ?)",
            (rollout.id, rollout.model, rollout.status, rollout.created_at,
             _encode(rollout).decode()),
        )  # fmt: skip

    def get(self, rollout_id: str) -> Rollout | None:
        rows = self._file.rows(
            "read a rollout", "SELECT body FROM rollouts WHERE id = ?", (rollout_id,)
        )
        return _decode(rows[0][0]) if rows else None

    def list(self) -> list[Rollout]:
        rows = self._file.rows("list rollouts", "SELECT body FROM rollouts ORDER BY created_at, id")
        return [_decode(row[0]) for row in rows]

    def close(self) -> None:
        self._file.close()
