"""Metadata (API keys, models, schemas) in SQLite.

Why SQLite beside DuckDB: DuckDB lets one process open a file, so while the collector
runs, nothing else could create a key. SQLite in WAL mode lets the CLI write keys and
read models next to a running collector, and these records are small and read often
(point look-ups), which suits a row store. Events stay in DuckDB.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlpulse.adapters.store.sqlite_database import SQLiteDatabase, SQLiteTables
from mlpulse.domain.auth import TOKEN_PREFIX, ApiKey, Scope, hash_token
from mlpulse.domain.models import ModelInfo, models_from_rows, schema_from_rows
from mlpulse.domain.schema import ColumnKind


class SQLiteMetadataStore:
    """:class:`mlpulse.ports.MetadataStore` in the metadata database (tables: migration 1
    of ``sqlite_migrations``)."""

    def __init__(self, database: SQLiteDatabase | Path) -> None:
        self._file = SQLiteTables(database, name="metadata store")
        self.path = self._file.path

    def _run(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._file.rows("read or write metadata", sql, params)

    def _run_many(self, statements: Sequence[tuple[str, Sequence[object]]]) -> None:
        with self._file.transaction("write metadata") as db:
            for sql, params in statements:
                db.execute(sql, params)

    # -- keys -------------------------------------------------------------------------------

    def create_key(self, scopes: Sequence[Scope], *, name: str, now: float) -> tuple[ApiKey, str]:
        key_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(key_id=key_id, name=name, scopes=frozenset(scopes), created_at=now)
        self._run_many(
            [
                (
                    "INSERT INTO api_keys (key_id, name, token_hash, scopes, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (key_id, name, hash_token(token), _scopes_text(key.scopes), now),
                )
            ]
        )
        return key, token

    def find_key(self, token_hash: str) -> ApiKey | None:
        rows = self._run(
            "SELECT key_id, name, scopes, created_at, revoked_at FROM api_keys "
            "WHERE token_hash = ?",
            (token_hash,),
        )
        return _key(rows[0]) if rows else None

    def list_keys(self) -> list[ApiKey]:
        rows = self._run(
            "SELECT key_id, name, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at"
        )
        return [_key(row) for row in rows]

    def revoke_key(self, key_id: str, *, now: float) -> bool:
        with self._file.transaction("revoke a key") as db:
            cursor = db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (now, key_id),
            )
            changed = cursor.rowcount > 0
        return changed or bool(self._run("SELECT 1 FROM api_keys WHERE key_id = ?", (key_id,)))

    # -- monitors as code -------------------------------------------------------------------

    def applied_config(self) -> tuple[str, float] | None:
        rows = self._run("SELECT document, applied_at FROM applied_config WHERE id = 1")
        return (str(rows[0][0]), float(rows[0][1])) if rows else None

    def apply_config(self, document: str, *, now: float) -> None:
        self._run_many(
            [
                (
                    "INSERT INTO applied_config (id, document, applied_at) VALUES (1, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET document = excluded.document, "
                    "applied_at = excluded.applied_at",
                    (document, now),
                )
            ]
        )

    # -- dashboard sessions ended by logout -------------------------------------------------

    def end_session(self, session_id: str, *, expires_at: float, now: float) -> None:
        self._run_many(
            [
                ("DELETE FROM ended_sessions WHERE expires_at < ?", (now,)),
                (
                    "INSERT OR IGNORE INTO ended_sessions (session_id, expires_at) VALUES (?, ?)",
                    (session_id, expires_at),
                ),
            ]
        )

    def session_ended(self, session_id: str) -> bool:
        rows = self._run("SELECT 1 FROM ended_sessions WHERE session_id = ?", (session_id,))
        return bool(rows)

    # -- models -----------------------------------------------------------------------------

    def upsert_models(
        self, columns: dict[tuple[str, str], dict[str, ColumnKind]], *, now: float
    ) -> None:
        statements: list[tuple[str, Sequence[object]]] = []
        for (model, version), kinds in columns.items():
            statements.append(
                (
                    "INSERT OR IGNORE INTO model_versions (model, version, first_seen) "
                    "VALUES (?, ?, ?)",
                    (model, version, now),
                )
            )
            statements.extend(
                (
                    "INSERT OR IGNORE INTO model_columns (model, name, source, kind) "
                    "VALUES (?, ?, 'inferred', ?)",
                    (model, name, kind.value),
                )
                for name, kind in kinds.items()
            )
        if statements:
            self._run_many(statements)

    def list_models(self) -> list[ModelInfo]:
        versions = self._run(
            "SELECT model, version, first_seen FROM model_versions ORDER BY model, first_seen"
        )
        columns = self._run(
            "SELECT model, name, source, kind FROM model_columns ORDER BY model, name"
        )
        return models_from_rows(versions, columns)

    def model_schema(self, model: str) -> dict[str, ColumnKind]:
        return schema_from_rows(
            self._run(
                "SELECT name, source, kind FROM model_columns WHERE model = ? ORDER BY name",
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
        statements: list[tuple[str, Sequence[object]]] = [
            ("DELETE FROM model_columns WHERE model = ? AND source = 'override'", (model,))
        ]
        statements.extend(
            (
                "INSERT INTO model_columns (model, name, source, kind) "
                "VALUES (?, ?, 'override', ?)",
                (model, name, kind.value),
            )
            for name, kind in overrides.items()
        )
        self._run_many(statements)

    def close(self) -> None:
        self._file.close()


def _scopes_text(scopes: frozenset[Scope]) -> str:
    return ",".join(sorted(s.value for s in scopes))


def _key(row: tuple[Any, ...]) -> ApiKey:
    key_id, name, scopes, created_at, revoked_at = row
    return ApiKey(
        key_id=str(key_id),
        name=str(name),
        scopes=frozenset(Scope(s) for s in str(scopes).split(",") if s),
        created_at=float(created_at),
        revoked_at=None if revoked_at is None else float(revoked_at),
    )
