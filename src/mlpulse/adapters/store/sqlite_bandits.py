"""Bandits in SQLite: one row per bandit, kept whole as JSON (its history included).

A bandit is written once per tick and read on every tick; the JSON body means a
field added to :class:`~mlpulse.services.bandits.Bandit` needs no migration.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from mlpulse.adapters.store.sqlite_file import SQLiteFile
from mlpulse.services.bandits import Bandit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bandits (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    body TEXT NOT NULL
);
"""

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Bandit).decode


class SQLiteBanditStore:
    """Implements :class:`mlpulse.services.bandits.BanditStore` in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self._file = SQLiteFile(path, _SCHEMA, name="bandit store")

    def save(self, bandit: Bandit) -> None:
        self._file.rows(
            "save a bandit",
            "INSERT OR REPLACE INTO bandits (id, model, status, created_at, body) "
            "VALUES (?, ?, ?, ?, ?)",
            (bandit.id, bandit.model, bandit.status, bandit.created_at,
             _encode(bandit).decode()),
        )  # fmt: skip

    def get(self, bandit_id: str) -> Bandit | None:
        rows = self._file.rows(
            "read a bandit", "SELECT body FROM bandits WHERE id = ?", (bandit_id,)
        )
        return _decode(rows[0][0]) if rows else None

    def list(self) -> list[Bandit]:
        rows = self._file.rows("list bandits", "SELECT body FROM bandits ORDER BY created_at, id")
        return [_decode(row[0]) for row in rows]

    def close(self) -> None:
        self._file.close()
