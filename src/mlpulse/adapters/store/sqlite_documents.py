"""Records kept whole as JSON in SQLite, one row each: rollouts, bandits.

Each is written once per decision or tick and read on every tick; the JSON body means a
field added to the record's struct needs no migration. The columns beside the body are
what listing sorts on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Generic, Protocol, TypeVar

import msgspec

from mlpulse.adapters.store.sqlite_database import SQLiteDatabase, SQLiteTables


class Record(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> float: ...


R = TypeVar("R", bound=Record)

_encode = msgspec.json.Encoder().encode


class SQLiteDocuments(Generic[R]):
    """``save``, ``get``, ``list`` and ``close`` of records of type ``kind`` in ``table``
    (a name of the code's, never of a user's; made by a migration in
    ``sqlite_migrations``: id, model, status, created_at, body)."""

    def __init__(
        self, database: SQLiteDatabase | Path, table: str, kind: type[R], *, noun: str
    ) -> None:
        self._file = SQLiteTables(database, name=f"{noun} store")
        self.path = self._file.path
        self._table = table
        self._noun = noun
        self._decode = msgspec.json.Decoder(kind).decode

    def save(self, record: R) -> None:
        self._file.rows(
            f"save a {self._noun}",
            f"INSERT OR REPLACE INTO {self._table} (id, model, status, created_at, body) "
            "VALUES (?, ?, ?, ?, ?)",
            (record.id, record.model, record.status, record.created_at,
             _encode(record).decode()),
        )  # fmt: skip

    def get(self, record_id: str) -> R | None:
        rows = self._file.rows(
            f"read a {self._noun}", f"SELECT body FROM {self._table} WHERE id = ?", (record_id,)
        )
        return self._decode(rows[0][0]) if rows else None

    def list(self) -> list[R]:
        rows = self._file.rows(
            f"list {self._table}", f"SELECT body FROM {self._table} ORDER BY created_at, id"
        )
        return [self._decode(row[0]) for row in rows]

    def close(self) -> None:
        self._file.close()
