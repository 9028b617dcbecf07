"""Rollouts in SQLite: one row per rollout, kept whole as JSON (its timeline included)."""

from __future__ import annotations

from pathlib import Path

from mlpulse.adapters.store.sqlite_documents import SQLiteDocuments
from mlpulse.domain.rollouts import Rollout


class SQLiteRolloutStore(SQLiteDocuments[Rollout]):
    """Implements :class:`mlpulse.ports.RolloutStore` in one SQLite file."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "rollouts", Rollout, noun="rollout")
