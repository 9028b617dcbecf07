"""Rollouts in the metadata database: one row per rollout, kept whole as JSON (its
timeline included)."""

from __future__ import annotations

from pathlib import Path

from mlpulse.adapters.store.sqlite_database import SQLiteDatabase
from mlpulse.adapters.store.sqlite_documents import SQLiteDocuments
from mlpulse.domain.rollouts import Rollout


class SQLiteRolloutStore(SQLiteDocuments[Rollout]):
    """Implements :class:`mlpulse.ports.RolloutStore` in the metadata database."""

    def __init__(self, database: SQLiteDatabase | Path) -> None:
        super().__init__(database, "rollouts", Rollout, noun="rollout")
