"""``mlpulse backup`` and ``restore`` when the store is PostgreSQL: pg_dump and pg_restore.

The archive is the embedded store's (a tar with ``manifest.json`` first) holding one
member, ``postgres.dump`` (pg_dump's custom format). pg_dump runs inside the snapshot of
a transaction held open here (``pg_export_snapshot`` and ``--snapshot``), so the row
counts in the manifest are exactly those of the dump while replicas go on writing. A
restore runs pg_restore in one transaction (all or nothing), then compares every
table's rows with the manifest. Credentials go to pg_dump through ``PG*`` environment
variables, never on its command line (where ``ps`` shows them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import IO, Final

import psycopg
from psycopg import sql

from mlpulse.adapters.store.backup_archive import Manifest, read_manifest, unpack, write_archive
from mlpulse.adapters.store.backup_snapshot import FileCopy
from mlpulse.errors import ConfigurationError, InvalidInputError, StoreError

DUMP: Final = "postgres.dump"
KIND: Final = "postgres"
_ENV: Final = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD",
               "dbname": "PGDATABASE", "sslmode": "PGSSLMODE"}  # fmt: skip


def is_postgres_url(store: str) -> bool:
    return store.startswith(("postgresql://", "postgres://"))


def _environment(url: str) -> dict[str, str]:
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigurationError(f"not a valid PostgreSQL URL: {exc}") from exc
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({_ENV[k]: str(v) for k, v in params.items() if k in _ENV and v is not None})
    return env


def _run(tool: str, args: list[str], url: str) -> None:
    if shutil.which(tool) is None:
        raise ConfigurationError(
            f"{tool} not found: install the PostgreSQL client tools (the server's version)"
        )
    done = subprocess.run([tool, *args], env=_environment(url), capture_output=True, text=True)
    if done.returncode != 0:
        raise StoreError(f"{tool} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def table_rows(con: psycopg.Connection[tuple[object, ...]]) -> dict[str, int]:
    """Exact rows per table (``schema.table``) of the database, system schemas left out."""
    names = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', "
        "'information_schema') ORDER BY 1, 2"
    ).fetchall()
    counts: dict[str, int] = {}
    for schema, table in names:
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(str(schema)), sql.Identifier(str(table))
        )
        row = con.execute(query).fetchone()
        counts[f"{schema}.{table}"] = int(str(row[0])) if row else 0
    return counts


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(url, connect_timeout=10)
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc


def backup(url: str, out: IO[bytes], *, gzip: bool = True) -> Manifest:
    """Dump the database at ``url`` and write the archive to ``out``."""
    staging = Path(tempfile.mkdtemp(prefix="mlpulse-backup-"))
    try:
        with _connect(url) as con:
            con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            con.read_only = True
            row = con.execute("SELECT pg_export_snapshot()").fetchone()
            assert row is not None
            tables = table_rows(con)  # in the snapshot pg_dump is about to read
            _run("pg_dump", ["--format=custom", "--no-owner", "--no-privileges",
                             f"--snapshot={row[0]}", f"--file={staging / DUMP}"], url)  # fmt: skip
            con.rollback()
        copy = FileCopy(DUMP, KIND, staging / DUMP, tables)
        return write_archive([copy], out, source="postgresql", gzip=gzip)
    except psycopg.Error as exc:
        raise StoreError(f"PostgreSQL backup failed: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def restore(archive: Path, url: str, *, force: bool = False) -> Manifest:
    """Restore ``archive`` into the database at ``url``, which must hold no tables unless
    ``force`` (then the dump's tables replace theirs); the manifest restored."""
    staging = Path(tempfile.mkdtemp(prefix="mlpulse-restore-"))
    try:
        try:
            with tarfile.open(archive, mode="r:*") as tar:
                manifest = read_manifest(tar, archive)
                if [f.kind for f in manifest.files] != [KIND]:
                    raise InvalidInputError(
                        f"{archive} is a backup of an embedded store: restore it with --data-dir"
                    )
                unpack(tar, manifest, staging, archive)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InvalidInputError(f"cannot read the archive {archive}: {exc}") from exc
        with _connect(url) as con:
            existing = table_rows(con)
        if existing and not force:
            raise ConfigurationError(
                f"the database holds {len(existing)} tables; restore into an empty database, "
                "or pass --force to replace the dump's tables there"
            )
        args = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        if force:
            args += ["--clean", "--if-exists"]
        # pg_restore writes SQL to stdout unless --dbname names a database; the rest of
        # the connection (host, user, password) comes from the environment.
        dbname = str(psycopg.conninfo.conninfo_to_dict(url).get("dbname") or "postgres")
        _run("pg_restore", [*args, f"--dbname={dbname}", str(staging / DUMP)], url)
        with _connect(url) as con:
            restored = table_rows(con)
        expected = manifest.files[0].tables
        differ = sorted(t for t in expected if restored.get(t) != expected[t])
        if differ:
            shown = "; ".join(f"{t}: {restored.get(t)} (backup: {expected[t]})" for t in differ)
            raise StoreError(f"the restored database differs from the backup: {shown}")
        return manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)
