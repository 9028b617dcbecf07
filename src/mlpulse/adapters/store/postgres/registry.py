"""The model registry on PostgreSQL: versions, a revision per model, deployment history.

The rules of :mod:`mlpulse.adapters.store.sqlite_registry`: every write is one
transaction that changes versions, bumps the model's revision and appends its
:class:`Deployment`. The revision's upsert locks the model's row first, so writes to
one model from several replicas take turns and each gets its own revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec

from mlpulse.adapters.store.postgres.database import Database, Row
from mlpulse.domain.registry import Deployment, ModelVersion, RoutingEntry

NAME: Final = "registry store"
_encode = msgspec.json.Encoder().encode
_decode_detail = msgspec.json.Decoder(dict[str, str]).decode
_VERSION_COLUMNS: Final = "model, version, artifact_uri, metadata, created_at, stage, weight"


class PostgresRegistryStore:
    """Implements :class:`mlpulse.ports.RegistryStore` on PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._db.rows(NAME, "read the registry", sql, params)

    def _write(
        self, model: str, statements: Sequence[tuple[str, Sequence[Any]]], event: Deployment
    ) -> int:
        """Bump ``model``'s revision, run ``statements``, append ``event``: all or nothing."""
        with self._db.transaction(NAME, "change the registry") as conn:
            row = conn.execute(
                "INSERT INTO registry_models (model, revision, updated_at) VALUES (%s, 1, %s) "
                "ON CONFLICT (model) DO UPDATE SET revision = registry_models.revision + 1, "
                "updated_at = excluded.updated_at RETURNING revision",
                (model, event.at),
            ).fetchone()
            for sql, params in statements:
                conn.execute(sql, params)
            conn.execute(
                "INSERT INTO deployments (model, version, at, kind, detail, actor) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (event.model, event.version, event.at, event.kind,
                 _encode(event.detail).decode(), event.actor),
            )  # fmt: skip
        assert row is not None  # RETURNING gives the upserted row
        return int(row[0])

    def add_version(self, version: ModelVersion, event: Deployment) -> int:
        """Store a new version (and its event); returns the model's new revision."""
        insert = (
            f"INSERT INTO registry_versions ({_VERSION_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (version.model, version.version, version.artifact_uri,
             _encode(version.metadata).decode(), version.created_at, version.stage,
             version.weight),
        )  # fmt: skip
        return self._write(version.model, [insert], event)

    def set_routing(self, model: str, entries: Sequence[RoutingEntry], event: Deployment) -> int:
        """Set the stage and weight of each version in ``entries``; returns the new revision."""
        updates = [
            (
                "UPDATE registry_versions SET stage = %s, weight = %s "
                "WHERE model = %s AND version = %s",
                (entry.stage, entry.weight, model, entry.version),
            )
            for entry in entries
        ]
        return self._write(model, updates, event)

    def versions(self, model: str) -> list[ModelVersion]:
        rows = self._rows(
            f"SELECT {_VERSION_COLUMNS} FROM registry_versions WHERE model = %s "
            "ORDER BY created_at, seq",
            (model,),
        )
        return [_version(row) for row in rows]

    def revision(self, model: str) -> tuple[int, float] | None:
        """The model's revision and when it last changed; None for an unknown model."""
        rows = self._rows(
            "SELECT revision, updated_at FROM registry_models WHERE model = %s", (model,)
        )
        return (int(rows[0][0]), float(rows[0][1])) if rows else None

    def models(self) -> list[str]:
        return [str(row[0]) for row in self._rows("SELECT model FROM registry_models ORDER BY 1")]

    def deployments(self, model: str | None = None, since: float | None = None) -> list[Deployment]:
        """Deployment events, oldest first, optionally of one model and at or after ``since``."""
        where: list[str] = []
        params: list[Any] = []
        if model is not None:
            where.append("model = %s")
            params.append(model)
        if since is not None:
            where.append("at >= %s")
            params.append(since)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._rows(
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
        """Nothing of its own to release: the backend closes the shared database."""


def _version(row: Row) -> ModelVersion:
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
