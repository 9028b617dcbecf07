"""The model registry in SQLite: versions, a revision per model, and deployment history.

SQLite in WAL mode like the other metadata: the records are small, written rarely and
read often (every routing-table poll), and a reader never waits for the writer. Every
write is one transaction that changes versions, bumps the model's revision and appends
its :class:`Deployment`, so the history never disagrees with the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from mlpulse.adapters.store.sqlite_database import SQLiteDatabase, SQLiteTables
from mlpulse.domain.registry import Deployment, ModelVersion, RoutingEntry

_encode = msgspec.json.Encoder().encode
_decode_detail = msgspec.json.Decoder(dict[str, str]).decode
_VERSION_COLUMNS = "model, version, artifact_uri, metadata, created_at, stage, weight"


class SQLiteRegistryStore:
    """:class:`mlpulse.ports.RegistryStore` in the metadata database (tables: migration 1
    of ``sqlite_migrations``)."""

    def __init__(self, database: SQLiteDatabase | Path) -> None:
        self._file = SQLiteTables(database, name="registry store")
        self.path = self._file.path

    def _run(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._file.rows("read the registry", sql, params)

    def _write(
        self, model: str, statements: Sequence[tuple[str, Sequence[object]]], event: Deployment
    ) -> int:
        """Run ``statements``, bump ``model``'s revision, append ``event``: all or nothing."""
        with self._file.transaction("change the registry") as db:
            db.execute(
                "INSERT INTO registry_models (model, revision, updated_at) "
                "VALUES (?, 1, ?) ON CONFLICT (model) DO UPDATE SET "
                "revision = revision + 1, updated_at = excluded.updated_at",
                (model, event.at),
            )
            for sql, params in statements:
                db.execute(sql, params)
            db.execute(
                "INSERT INTO deployments (model, version, at, kind, detail, actor) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (event.model, event.version, event.at, event.kind,
                 _encode(event.detail).decode(), event.actor),
            )  # fmt: skip
            row = db.execute(
                "SELECT revision FROM registry_models WHERE model = ?", (model,)
            ).fetchone()
        return int(row[0])

    def add_version(self, version: ModelVersion, event: Deployment) -> int:
        """Store a new version (and its event); returns the model's new revision."""
        insert = (
            f"INSERT INTO registry_versions ({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (version.model, version.version, version.artifact_uri,
             _encode(version.metadata).decode(), version.created_at, version.stage,
             version.weight),
        )  # fmt: skip
        return self._write(version.model, [insert], event)

    def set_routing(self, model: str, entries: Sequence[RoutingEntry], event: Deployment) -> int:
        """Set the stage and weight of each version in ``entries``; returns the new revision."""
        updates = [
            (
                "UPDATE registry_versions SET stage = ?, weight = ? "
                "WHERE model = ? AND version = ?",
                (entry.stage, entry.weight, model, entry.version),
            )
            for entry in entries
        ]
        return self._write(model, updates, event)

    def versions(self, model: str) -> list[ModelVersion]:
        rows = self._run(
            f"SELECT {_VERSION_COLUMNS} FROM registry_versions WHERE model = ? "
            "ORDER BY created_at, rowid",
            (model,),
        )
        return [_version(row) for row in rows]

    def revision(self, model: str) -> tuple[int, float] | None:
        """The model's revision and when it last changed; None for an unknown model."""
        rows = self._run(
            "SELECT revision, updated_at FROM registry_models WHERE model = ?", (model,)
        )
        return (int(rows[0][0]), float(rows[0][1])) if rows else None

    def models(self) -> list[str]:
        return [str(row[0]) for row in self._run("SELECT model FROM registry_models ORDER BY 1")]

    def deployments(self, model: str | None = None, since: float | None = None) -> list[Deployment]:
        """Deployment events, oldest first, optionally of one model and at or after ``since``."""
        where: list[str] = []
        params: list[object] = []
        if model is not None:
            where.append("model = ?")
            params.append(model)
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._run(
            f"SELECT model, version, at, kind, detail, actor FROM deployments {clause}ORDER BY seq",
            params,
        )
        return [
            Deployment(
                model=str(m), version=str(v), at=float(at), kind=kind,
                detail=_decode_detail(detail), actor=str(actor),
            )
            for m, v, at, kind, detail, actor in rows
        ]  # fmt: skip

    def close(self) -> None:
        self._file.close()


def _version(row: tuple[Any, ...]) -> ModelVersion:
    model, version, artifact_uri, metadata, created_at, stage, weight = row
    return ModelVersion(
        model=str(model),
        version=str(version),
        artifact_uri=str(artifact_uri),
        metadata=_decode_detail(metadata),
        created_at=float(created_at),
        stage=stage,
        weight=int(weight),
    )
