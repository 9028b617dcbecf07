"""Records kept whole as JSON, one row each, on PostgreSQL: experiments, rollouts, bandits.

The rules of :mod:`mlpulse.adapters.store.sqlite_documents` and
:mod:`mlpulse.adapters.store.sqlite_experiments`: the body is the record's JSON (a
field added to its struct needs no migration); the columns beside it are what listing
sorts on.
"""

from __future__ import annotations

from typing import Any, Final, Generic, Protocol, TypeVar

import msgspec

from mlpulse.adapters.store.postgres.database import Database
from mlpulse.domain.bandits import Bandit
from mlpulse.domain.experiments import ExperimentSpec
from mlpulse.domain.rollouts import Rollout
from mlpulse.errors import InvalidInputError

_encode = msgspec.json.Encoder().encode


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


class PostgresDocuments(Generic[R]):
    """``save``, ``get`` and ``list`` of records of type ``kind`` in ``table`` (a name of
    the code's, never of a user's)."""

    def __init__(self, database: Database, table: str, kind: type[R], *, noun: str) -> None:
        self._db = database
        self._table = table
        self._noun = noun
        self._name = f"{noun} store"
        self._decode = msgspec.json.Decoder(kind).decode

    def save(self, record: R) -> None:
        self._db.rows(
            self._name,
            f"save a {self._noun}",
            f"INSERT INTO {self._table} (id, model, status, created_at, body) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET model = excluded.model, "
            "status = excluded.status, created_at = excluded.created_at, body = excluded.body",
            (record.id, record.model, record.status, record.created_at,
             _encode(record).decode()),
        )  # fmt: skip

    def get(self, record_id: str) -> R | None:
        rows = self._db.rows(
            self._name,
            f"read a {self._noun}",
            f"SELECT body::text FROM {self._table} WHERE id = %s",
            (record_id,),
        )
        return self._decode(rows[0][0]) if rows else None

    def list(self) -> list[R]:
        rows = self._db.rows(
            self._name,
            f"list {self._table}",
            f"SELECT body::text FROM {self._table} ORDER BY created_at, id",
        )
        return [self._decode(row[0]) for row in rows]

    def close(self) -> None:
        """Nothing of its own to release: the backend closes the shared database."""


class PostgresRolloutStore(PostgresDocuments[Rollout]):
    """Implements :class:`mlpulse.ports.RolloutStore` on PostgreSQL."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, "rollouts", Rollout, noun="rollout")


class PostgresBanditStore(PostgresDocuments[Bandit]):
    """Implements :class:`mlpulse.ports.BanditStore` on PostgreSQL."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, "bandits", Bandit, noun="bandit")


NAME: Final = "experiment store"
_decode_spec = msgspec.json.Decoder(ExperimentSpec).decode


class PostgresExperimentStore:
    """Implements :class:`mlpulse.ports.ExperimentStore` on PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def _rows(self, action: str, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        return self._db.rows(NAME, action, sql, params)

    def insert(self, spec: ExperimentSpec) -> None:
        def taken() -> InvalidInputError:
            return InvalidInputError(
                f"name: an experiment named {spec.name!r} exists already", field="name"
            )

        with self._db.transaction(NAME, "store an experiment", unique=taken) as conn:
            conn.execute(
                "INSERT INTO experiments (name, model, status, created_at, body) "
                "VALUES (%s, %s, %s, %s, %s)",
                (spec.name, spec.model, spec.status, spec.created_at or 0.0,
                 _encode(spec).decode()),
            )  # fmt: skip

    def update(self, spec: ExperimentSpec) -> None:
        self._rows(
            "update an experiment",
            "UPDATE experiments SET status = %s, body = %s WHERE name = %s",
            (spec.status, _encode(spec).decode(), spec.name),
        )

    def get(self, name: str) -> ExperimentSpec | None:
        rows = self._rows(
            "read an experiment", "SELECT body::text FROM experiments WHERE name = %s", (name,)
        )
        return _decode_spec(rows[0][0]) if rows else None

    def list(self) -> list[ExperimentSpec]:
        rows = self._rows(
            "list experiments", "SELECT body::text FROM experiments ORDER BY created_at, name"
        )
        return [_decode_spec(row[0]) for row in rows]

    def close(self) -> None:
        """Nothing of its own to release: the backend closes the shared database."""
