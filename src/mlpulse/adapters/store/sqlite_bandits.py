"""Bandits in the metadata database: one row per bandit, kept whole as JSON (its
history included)."""

from __future__ import annotations

from pathlib import Path

from mlpulse.adapters.store.sqlite_database import SQLiteDatabase
from mlpulse.adapters.store.sqlite_documents import SQLiteDocuments
from mlpulse.domain.bandits import Bandit


class SQLiteBanditStore(SQLiteDocuments[Bandit]):
    """Implements :class:`mlpulse.ports.BanditStore` in the metadata database."""

    def __init__(self, database: SQLiteDatabase | Path) -> None:
        super().__init__(database, "bandits", Bandit, noun="bandit")
