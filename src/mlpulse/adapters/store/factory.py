"""``open_backend(settings)``: the storage backend ``MLPULSE_STORE`` names.

A directory (the default: the data directory) opens the embedded backend; a
``postgresql://`` URL the PostgreSQL one, imported only then, so the embedded path
never loads a database driver. The server and the CLI reach storage through here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mlpulse.errors import ConfigurationError
from mlpulse.ports import Backend, MetadataStore

if TYPE_CHECKING:
    from mlpulse.adapters.store.sqlite_migrations import MigrationReport


class Settings(Protocol):
    """What the backends read of :class:`mlpulse.server.settings.Settings` (a protocol:
    adapters do not import the server)."""

    @property
    def store(self) -> str: ...
    @property
    def uses_postgres(self) -> bool: ...
    @property
    def data_dir(self) -> Path: ...
    @property
    def events_path(self) -> Path: ...
    @property
    def metadata_path(self) -> Path: ...
    @property
    def profiles_path(self) -> Path: ...
    @property
    def checkpoint_mb(self) -> int: ...


_POSTGRES_MODULE = "mlpulse.adapters.store.postgres.backend"


def open_backend(settings: Settings) -> Backend:
    """Every storage port, as ``settings.store`` (``MLPULSE_STORE``) says."""
    if settings.uses_postgres:
        return _postgres(settings)
    from mlpulse.adapters.store.embedded import EmbeddedBackend

    return EmbeddedBackend(settings)


def _postgres(settings: Settings) -> Backend:
    import importlib

    try:
        module = importlib.import_module(_POSTGRES_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name is None or not _POSTGRES_MODULE.startswith(exc.name):
            raise  # the module is there but needs something missing (psycopg): say so
        raise ConfigurationError(
            "MLPULSE_STORE names a PostgreSQL database, but this mlpulse has no PostgreSQL "
            f"backend ({_POSTGRES_MODULE}); set MLPULSE_STORE to a directory"
        ) from exc
    backend: Backend = module.PostgresBackend(settings.store, settings)
    return backend


@contextmanager
def open_metadata(settings: Settings) -> Iterator[MetadataStore]:
    """The metadata store alone, for the CLI beside a running collector.

    Embedded: only the metadata database (SQLite in WAL mode, which another process may
    write while the collector runs; the collector's DuckDB file it may not open).
    PostgreSQL: the whole backend, which any number of processes may open.
    """
    if settings.uses_postgres:
        backend = _postgres(settings)
        try:
            yield backend.metadata
        finally:
            backend.close()
        return
    from mlpulse.adapters.store.sqlite_database import open_metadata_database
    from mlpulse.adapters.store.sqlite_metadata import SQLiteMetadataStore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = open_metadata_database(settings.metadata_path, legacy_dir=settings.data_dir)
    try:
        yield SQLiteMetadataStore(database)
    finally:
        database.close()


def migrate(settings: Settings) -> MigrationReport | None:
    """Bring the store's schema up to date (``mlpulse migrate``).

    Embedded: the metadata database's migrations, with the separate files of earlier
    versions copied in; returns what was done. PostgreSQL: the backend migrates its
    schema when it opens; returns None.
    """
    if settings.uses_postgres:
        _postgres(settings).close()
        return None
    from mlpulse.adapters.store.sqlite_database import SQLiteDatabase
    from mlpulse.adapters.store.sqlite_migrations import migrate as migrate_database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = SQLiteDatabase(settings.metadata_path)
    try:
        return migrate_database(database, legacy_dir=settings.data_dir)
    finally:
        database.close()
