"""Bandits in SQLite: one row per bandit, kept whole as JSON (its history included)."""

from __future__ import annotations

from pathlib import Path

from mlpulse.adapters.store.sqlite_documents import SQLiteDocuments
from mlpulse.domain.bandits import Bandit


class SQLiteBanditStore(SQLiteDocuments[Bandit]):
    """Implements :class:`mlpulse.ports.BanditStore` in one SQLite file."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "bandits", Bandit, noun="bandit")
