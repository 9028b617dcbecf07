"""What operators' tools (``mlpulse backup | restore | doctor``, ``POST /v1/admin/backup``)
may use of the stores, besides the factory: the server and CLI reach storage through
these two modules only (tests/unit/test_import_layers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from mlpulse.adapters.store.backup_archive import Manifest, backup, read_manifest, restore
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


# The PostgreSQL ones import its driver (the `postgres` extra) only when called.


def backup_postgres(url: str, out: IO[bytes], *, gzip: bool = True) -> Manifest:
    """``pg_dump`` of the database at ``url`` into an archive like the embedded one's."""
    from mlpulse.adapters.store import backup_postgres as postgres

    return postgres.backup(url, out, gzip=gzip)


def restore_postgres(archive: Path, url: str, *, force: bool = False) -> Manifest:
    """``pg_restore`` of ``archive`` into the database at ``url``."""
    from mlpulse.adapters.store import backup_postgres as postgres

    return postgres.restore(archive, url, force=force)
