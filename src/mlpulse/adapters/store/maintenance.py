"""What operators' tools (``mlpulse backup | restore | doctor``, ``POST /v1/admin/backup``)
may use of the stores, besides the factory: the server and CLI reach storage through
these two modules only (tests/unit/test_import_layers.py)."""

from __future__ import annotations

from mlpulse.adapters.store.backup_archive import Manifest, backup, read_manifest, restore
from mlpulse.adapters.store.backup_postgres import backup as backup_postgres
from mlpulse.adapters.store.backup_postgres import restore as restore_postgres
from mlpulse.adapters.store.durability import MARKER, check_directory

__all__ = [
    "MARKER",
    "Manifest",
    "backup",
    "backup_postgres",
    "check_directory",
    "read_manifest",
    "restore",
    "restore_postgres",
]
