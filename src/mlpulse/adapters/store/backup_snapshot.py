"""Consistent copies of the embedded store's files, the first half of ``mlpulse backup``.

DuckDB: ``COPY FROM DATABASE`` into a new file attached beside the live one. It is one
read transaction, so the copy is a snapshot under DuckDB's MVCC: a batch committed (and
so acknowledged) before it started is in it whole, a later batch is wholly absent, and
the writer thread keeps committing meanwhile. Measured on the 2-core machine (42 MB file,
2M rows, a thread committing 1,000-row transactions beside it), see docs/production.md:

- ``COPY FROM DATABASE``: 1.7 s, ingest going on; the copy is compact and needs no
  import step at restore.
- ``EXPORT DATABASE`` (Parquet): 1.1 s, but a restore must ``IMPORT`` it again (1.1 s),
  and its files are a second layout to verify.
- ``CHECKPOINT`` then a file copy: 0.3 s, but consistent only while nothing writes the
  file. The writer thread is not the only writer: the series store writes metric points
  through its own cursor, and DuckDB writes large inserts into the file before they
  commit. So every writer would have to stop for the whole copy: ingest would stall for
  as long as copying the file takes, which grows with the store.

SQLite: the online backup API, one read transaction per file (WAL lets it run beside the
collector's writers). Every ``*.sqlite`` file of the data directory is copied, whatever
their number. DuckDB first, then SQLite: metadata and profiles may then be newer than the
events, never older, so every model the events name is known after a restore.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb

from mlpulse.errors import StoreError

# Plain files of the data directory that belong in a backup (the dashboard's signing key,
# so sessions survive a restore). Logs, WAL side files and store.json do not.
PLAIN_FILES: Final = ("dashboard.secret",)


@dataclass(frozen=True, slots=True)
class FileCopy:
    """One consistent copy: its name in the data directory, what it is, where it is."""

    name: str
    kind: str  # "duckdb", "sqlite" or "file"
    path: Path
    tables: dict[str, int]  # rows per table ({} for a plain file)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def duckdb_tables(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, int]:
    """Exact rows per table of ``database`` (``schema.table`` outside ``main``)."""
    names = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
        "ORDER BY schema_name, table_name",
        [database],
    ).fetchall()
    counts: dict[str, int] = {}
    for schema, table in names:
        key = table if schema == "main" else f"{schema}.{table}"
        row = con.execute(
            f"SELECT count(*) FROM {_quote(database)}.{_quote(schema)}.{_quote(table)}"
        ).fetchone()
        counts[key] = int(row[0]) if row else 0
    return counts


def copy_duckdb(con: duckdb.DuckDBPyConnection, target: Path) -> dict[str, int]:
    """Copy the database ``con`` works on into a new file ``target``; rows per table.

    ``con`` may be a cursor of the collector's live connection (the copy is a snapshot;
    writers go on) or a read-only connection to a file no collector holds.
    """
    alias = f"mlpulse_backup_{uuid.uuid4().hex[:12]}"
    try:
        row = con.execute("SELECT current_database()").fetchone()
        assert row is not None
        con.execute(f"ATTACH {_sql_string(str(target))} AS {alias} (READ_WRITE)")
        try:
            con.execute(f"COPY FROM DATABASE {_quote(row[0])} TO {alias}")
            return duckdb_tables(con, alias)
        finally:
            con.execute(f"DETACH {alias}")
    except duckdb.Error as exc:
        raise StoreError(f"could not copy the DuckDB database to {target}: {exc}") from exc


def sqlite_tables(db: sqlite3.Connection) -> dict[str, int]:
    """Exact rows per table of an SQLite database (its internal tables left out)."""
    names = [
        row[0]
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {
        name: int(db.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0])
        for name in names
    }


def copy_sqlite(source: Path, target: Path) -> dict[str, int]:
    """Copy one SQLite file with the online backup API; rows per table of the copy."""
    try:
        with (
            closing(sqlite3.connect(str(source), timeout=30.0)) as src,
            closing(sqlite3.connect(str(target))) as dst,
        ):
            src.backup(dst)  # all pages in one step: one read transaction, one snapshot
            return sqlite_tables(dst)
    except sqlite3.Error as exc:
        raise StoreError(f"could not copy {source} with SQLite's backup API: {exc}") from exc


def copy_plain(source: Path, target: Path) -> None:
    shutil.copy2(source, target)  # keeps the mode (the secret is 0600)


def snapshot(
    data_dir: Path,
    staging: Path,
    *,
    live: tuple[str, duckdb.DuckDBPyConnection] | None = None,
) -> list[FileCopy]:
    """Consistent copies of every store file of ``data_dir``, written into ``staging``.

    ``live``: the name and a cursor of the DuckDB file a running collector holds (this
    process's); without it every ``*.duckdb`` file is opened read-only, which fails
    with a clear error while a collector holds it.
    """
    copies: list[FileCopy] = []
    if live is not None:
        name, con = live
        copies.append(FileCopy(name, "duckdb", staging / name, copy_duckdb(con, staging / name)))
    else:
        for path in sorted(data_dir.glob("*.duckdb")):
            with _read_only(path) as con:
                tables = copy_duckdb(con, staging / path.name)
            copies.append(FileCopy(path.name, "duckdb", staging / path.name, tables))
    for path in sorted(data_dir.glob("*.sqlite")):
        tables = copy_sqlite(path, staging / path.name)
        copies.append(FileCopy(path.name, "sqlite", staging / path.name, tables))
    for name in PLAIN_FILES:
        if (data_dir / name).is_file():
            copy_plain(data_dir / name, staging / name)
            copies.append(FileCopy(name, "file", staging / name, {}))
    return copies


@contextmanager
def _read_only(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        raise StoreError(
            f"cannot open {path}: {exc}. A running collector holds it: back up through "
            "the collector instead (mlpulse backup --url ... --api-key <admin key>)"
        ) from exc
    except duckdb.Error as exc:
        raise StoreError(f"cannot open {path}: {exc}") from exc
    try:
        yield con
    finally:
        con.close()
