"""Metadata (API keys, models, schemas, the applied configuration) on PostgreSQL.

The same records and rules as :mod:`mlpulse.adapters.store.sqlite_metadata`; every
replica reads and writes them in the shared database.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any, Final

from mlpulse.adapters.store.postgres.database import Database, Row
from mlpulse.domain.auth import TOKEN_PREFIX, ApiKey, Scope, hash_token
from mlpulse.domain.models import ModelInfo, models_from_rows, schema_from_rows
from mlpulse.domain.schema import ColumnKind

NAME: Final = "metadata store"
_KEY_COLUMNS: Final = "key_id, name, scopes, created_at, revoked_at"


class PostgresMetadataStore:
    """:class:`mlpulse.ports.MetadataStore` on PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._db.rows(NAME, "read or write metadata", sql, params)

    def _run_many(self, action: str, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        with self._db.transaction(NAME, action) as conn:
            for sql, params in statements:
                conn.execute(sql, params)

    # -- keys -------------------------------------------------------------------------------

    def create_key(self, scopes: Sequence[Scope], *, name: str, now: float) -> tuple[ApiKey, str]:
        key_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(key_id=key_id, name=name, scopes=frozenset(scopes), created_at=now)
        self._run_many(
            "create a key",
            [
                (
                    "INSERT INTO api_keys (key_id, name, token_hash, scopes, created_at) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (key_id, name, hash_token(token), _scopes_text(key.scopes), now),
                )
            ],
        )
        return key, token

    def find_key(self, token_hash: str) -> ApiKey | None:
        rows = self._run(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE token_hash = %s", (token_hash,)
        )
        return _key(rows[0]) if rows else None

    def list_keys(self) -> list[ApiKey]:
        rows = self._run(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id")
        return [_key(row) for row in rows]

    def revoke_key(self, key_id: str, *, now: float) -> bool:
        rows = self._run(
            "WITH revoked AS (UPDATE api_keys SET revoked_at = %s "
            "WHERE key_id = %s AND revoked_at IS NULL RETURNING 1) "
            "SELECT EXISTS (SELECT 1 FROM revoked) "
            "OR EXISTS (SELECT 1 FROM api_keys WHERE key_id = %s)",
            (now, key_id, key_id),
        )
        return bool(rows[0][0])

    # -- monitors as code -------------------------------------------------------------------

    def applied_config(self) -> tuple[str, float] | None:
        rows = self._run("SELECT document, applied_at FROM applied_config WHERE id = 1")
        return (str(rows[0][0]), float(rows[0][1])) if rows else None

    def apply_config(self, document: str, *, now: float) -> None:
        self._run_many(
            "apply a configuration",
            [
                (
                    "INSERT INTO applied_config (id, document, applied_at) VALUES (1, %s, %s) "
                    "ON CONFLICT (id) DO UPDATE SET document = excluded.document, "
                    "applied_at = excluded.applied_at",
                    (document, now),
                )
            ],
        )

    # -- dashboard sessions ended by logout -------------------------------------------------

    def end_session(self, session_id: str, *, expires_at: float, now: float) -> None:
        self._run_many(
            "end a dashboard session",
            [
                ("DELETE FROM ended_sessions WHERE expires_at < %s", (now,)),
                (
                    "INSERT INTO ended_sessions (session_id, expires_at) VALUES (%s, %s) "
                    "ON CONFLICT (session_id) DO NOTHING",
                    (session_id, expires_at),
                ),
            ],
        )

    def session_ended(self, session_id: str) -> bool:
        rows = self._run("SELECT 1 FROM ended_sessions WHERE session_id = %s", (session_id,))
        return bool(rows)

    # -- models -----------------------------------------------------------------------------

    def upsert_models(
        self, columns: dict[tuple[str, str], dict[str, ColumnKind]], *, now: float
    ) -> None:
        if not columns:
            return
        pairs = sorted(columns)  # one lock order for every replica: no deadlock
        kinds = sorted(
            (model, name, kind.value)
            for (model, _), found in columns.items()
            for name, kind in found.items()
        )
        with self._db.transaction(NAME, "record models") as conn:
            conn.execute(
                "INSERT INTO model_versions (model, version, first_seen) "
                "SELECT m, v, %s FROM unnest(%s::text[], %s::text[]) AS u (m, v) "
                "ON CONFLICT DO NOTHING",
                (now, [m for m, _ in pairs], [v for _, v in pairs]),
            )
            if kinds:
                conn.execute(
                    "INSERT INTO model_columns (model, name, source, kind) "
                    "SELECT m, n, 'inferred', k FROM unnest(%s::text[], %s::text[], %s::text[]) "
                    "AS u (m, n, k) ON CONFLICT DO NOTHING",
                    ([m for m, _, _ in kinds], [n for _, n, _ in kinds], [k for _, _, k in kinds]),
                )

    def list_models(self) -> list[ModelInfo]:
        versions = self._run(
            "SELECT model, version, first_seen FROM model_versions "
            "ORDER BY model, first_seen, version"
        )
        columns = self._run(
            "SELECT model, name, source, kind FROM model_columns ORDER BY model, name"
        )
        return models_from_rows(versions, columns)

    def model_schema(self, model: str) -> dict[str, ColumnKind]:
        return schema_from_rows(
            self._run(
                "SELECT name, source, kind FROM model_columns WHERE model = %s ORDER BY name",
                (model,),
            )
        )

    def known_columns(self) -> dict[str, set[str]]:
        """Inferred column names per model (to skip re-inferring after a restart)."""
        known: dict[str, set[str]] = {}
        for model, name in self._run(
            "SELECT model, name FROM model_columns WHERE source = 'inferred'"
        ):
            known.setdefault(str(model), set()).add(str(name))
        return known

    def known_versions(self) -> set[tuple[str, str]]:
        return {(str(m), str(v)) for m, v in self._run("SELECT model, version FROM model_versions")}

    def set_schema_overrides(self, model: str, overrides: dict[str, ColumnKind]) -> None:
        statements: list[tuple[str, Sequence[Any]]] = [
            ("DELETE FROM model_columns WHERE model = %s AND source = 'override'", (model,))
        ]
        statements.extend(
            (
                "INSERT INTO model_columns (model, name, source, kind) "
                "VALUES (%s, %s, 'override', %s)",
                (model, name, kind.value),
            )
            for name, kind in overrides.items()
        )
        self._run_many("set schema overrides", statements)

    def close(self) -> None:
        """Nothing of its own to release: the backend closes the shared database."""


def _scopes_text(scopes: frozenset[Scope]) -> str:
    """Scopes as the SQLite store writes them: sorted, comma-separated."""
    return ",".join(sorted(s.value for s in scopes))


def _key(row: Row) -> ApiKey:
    key_id, name, scopes, created_at, revoked_at = row
    return ApiKey(
        key_id=str(key_id),
        name=str(name),
        scopes=frozenset(Scope(s) for s in str(scopes).split(",") if s),
        created_at=float(created_at),
        revoked_at=None if revoked_at is None else float(revoked_at),
    )
