"""The embedded metadata database's schema: numbered forward migrations.

``schema_version`` holds one row per migration applied (its number, description and
time). :func:`migrate` applies the missing ones in order, each in its own transaction
with its row, so a crash leaves the database at the last whole migration; it runs when
the collector starts and by ``mlpulse migrate``. A database newer than this code is
refused rather than guessed at. Migrations are never edited once released: a change to
a table is a new migration.

1. the tables of the metadata, alert (incidents and the audit log included), registry,
   experiment, rollout and bandit stores, as each store made them in its own file;
2. the rows of those separate files of earlier versions (``alerts.sqlite``,
   ``registry.sqlite``, ``experiments.sqlite``, ``rollouts.sqlite``,
   ``bandits.sqlite``) copied in, when a data directory is given; the files are then
   renamed ``*.migrated``. ``metadata.sqlite`` was one of them and is the database now,
   so its rows stay where they are. Minute profiles keep their own file
   (``profiles.sqlite``, see :mod:`mlpulse.adapters.store.embedded`). The renames
   follow the commit: a crash between them leaves an old file under its old name,
   already copied and never copied again (the schema version says so);
3. runbook approvals, kept across restarts;
4. an index for the outbox's lane per receiver (its due entries by receiver, and the
   first pending entry of a dedup key by insertion order, SQLite's rowid).

Adding a table or a column: append a ``Migration`` with the next number (its
statements through :func:`_create`); never edit a released one.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlpulse.errors import StoreError

if TYPE_CHECKING:
    from mlpulse.adapters.store.sqlite_database import SQLiteDatabase

_TABLES_V1 = (
    # the metadata store: keys, models, schemas, the applied configuration
    """CREATE TABLE IF NOT EXISTS api_keys (
        key_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        scopes TEXT NOT NULL,
        created_at REAL NOT NULL,
        revoked_at REAL
    )""",
    """CREATE TABLE IF NOT EXISTS model_versions (
        model TEXT NOT NULL,
        version TEXT NOT NULL,
        first_seen REAL NOT NULL,
        PRIMARY KEY (model, version)
    )""",
    """CREATE TABLE IF NOT EXISTS applied_config (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        document TEXT NOT NULL,
        applied_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS model_columns (
        model TEXT NOT NULL,
        name TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('inferred', 'override')),
        kind TEXT NOT NULL,
        PRIMARY KEY (model, name, source)
    )""",
    # the alert store: alerts, silences, groups, the outbox, incidents, actions
    """CREATE TABLE IF NOT EXISTS alerts (
        fingerprint TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL,
        body BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS silences (
        id TEXT PRIMARY KEY, ends_at REAL NOT NULL, body BLOB NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS alert_groups (key TEXT PRIMARY KEY, body BLOB NOT NULL)",
    """CREATE TABLE IF NOT EXISTS outbox (
        id TEXT PRIMARY KEY, receiver TEXT NOT NULL, dedup_key TEXT NOT NULL,
        status TEXT NOT NULL, next_attempt_at REAL NOT NULL, created_at REAL NOT NULL,
        body BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at)",
    "CREATE INDEX IF NOT EXISTS outbox_key ON outbox (receiver, dedup_key, status)",
    """CREATE TABLE IF NOT EXISTS deliveries (
        id INTEGER PRIMARY KEY, outbox_id TEXT NOT NULL, at REAL NOT NULL,
        delivered INTEGER NOT NULL, status_code INTEGER, detail TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS deliveries_by_entry ON deliveries (outbox_id)",
    """CREATE TABLE IF NOT EXISTS incidents (
        id TEXT PRIMARY KEY, model TEXT NOT NULL, status TEXT NOT NULL,
        opened_at REAL NOT NULL, body BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS incidents_by_model ON incidents (model, opened_at)",
    """CREATE TABLE IF NOT EXISTS actions (
        id INTEGER PRIMARY KEY, runbook TEXT NOT NULL, at REAL NOT NULL, body BLOB NOT NULL
    )""",
    # the registry store
    """CREATE TABLE IF NOT EXISTS registry_models (
        model TEXT PRIMARY KEY,
        revision INTEGER NOT NULL,
        updated_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS registry_versions (
        model TEXT NOT NULL REFERENCES registry_models (model),
        version TEXT NOT NULL,
        artifact_uri TEXT NOT NULL,
        metadata TEXT NOT NULL,
        created_at REAL NOT NULL,
        stage TEXT NOT NULL,
        weight INTEGER NOT NULL,
        PRIMARY KEY (model, version)
    )""",
    """CREATE TABLE IF NOT EXISTS deployments (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        model TEXT NOT NULL,
        version TEXT NOT NULL,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        actor TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS deployments_model_at ON deployments (model, at)",
    # the experiment store
    """CREATE TABLE IF NOT EXISTS experiments (
        name TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        body TEXT NOT NULL
    )""",
    # the rollout and bandit stores (records kept whole as JSON: sqlite_documents.py)
    """CREATE TABLE IF NOT EXISTS rollouts (
        id TEXT PRIMARY KEY, model TEXT NOT NULL, status TEXT NOT NULL,
        created_at REAL NOT NULL, body TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS bandits (
        id TEXT PRIMARY KEY, model TEXT NOT NULL, status TEXT NOT NULL,
        created_at REAL NOT NULL, body TEXT NOT NULL
    )""",
)

# The separate files of earlier versions and the tables each held.
LEGACY_FILES: dict[str, tuple[str, ...]] = {
    "alerts.sqlite": (
        "alerts", "silences", "alert_groups", "outbox", "deliveries", "incidents", "actions",
    ),
    "registry.sqlite": ("registry_models", "registry_versions", "deployments"),
    "experiments.sqlite": ("experiments",),
    "rollouts.sqlite": ("rollouts",),
    "bandits.sqlite": ("bandits",),
}  # fmt: skip


@dataclass
class MigrationContext:
    """What a migration may use besides the connection, and what it leaves to do after
    its commit (files to rename)."""

    legacy_dir: Path | None
    database_path: Path
    imported: dict[str, int] = field(default_factory=dict)
    renames: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite3.Connection, MigrationContext], None]


@dataclass(frozen=True)
class MigrationReport:
    """Schema versions before and after, the migrations applied, rows copied per table
    from earlier versions' files, and the files renamed ``*.migrated``."""

    before: int
    after: int
    applied: tuple[int, ...]
    imported: dict[str, int]
    renamed: tuple[Path, ...]

    def describe(self) -> str:
        if not self.applied:
            return f"metadata database at schema version {self.after}: up to date"
        text = (
            f"metadata database migrated from schema version {self.before} to {self.after}"
            f" (applied {', '.join(map(str, self.applied))})"
        )
        if self.imported:
            text += f"; copied {sum(self.imported.values())} rows from earlier files"
        if self.renamed:
            text += f"; renamed {', '.join(p.name for p in self.renamed)} to *.migrated"
        return text


def _create_tables(con: sqlite3.Connection, context: MigrationContext) -> None:
    for statement in _TABLES_V1:
        con.execute(statement)


def _create(
    statements: tuple[str, ...],
) -> Callable[[sqlite3.Connection, MigrationContext], None]:
    """A migration that runs ``statements``."""

    def apply(con: sqlite3.Connection, context: MigrationContext) -> None:
        for statement in statements:
            con.execute(statement)

    return apply


_OUTBOX_LANES = (
    "CREATE INDEX IF NOT EXISTS outbox_lane ON outbox (receiver, status, next_attempt_at)",
)
# Runbook actions waiting for (or decided by) a person.
_APPROVALS = (
    """CREATE TABLE IF NOT EXISTS approvals (
        id TEXT PRIMARY KEY, status TEXT NOT NULL, requested_at REAL NOT NULL,
        body BLOB NOT NULL
    )""",
)


# Dashboard sessions logged out before their cookie expires (kept until it would).
_ENDED_SESSIONS = (
    """CREATE TABLE IF NOT EXISTS ended_sessions (
        session_id TEXT PRIMARY KEY, expires_at REAL NOT NULL
    )""",
)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _import_legacy_files(con: sqlite3.Connection, context: MigrationContext) -> None:
    directory = context.legacy_dir
    if directory is None:
        return
    for filename, tables in LEGACY_FILES.items():
        path = directory / filename
        if not path.is_file() or path.resolve() == context.database_path.resolve():
            continue
        # A connection of its own (not ATTACH, which a transaction does not allow): it
        # also replays the old file's write-ahead log, and closing it folds the log in.
        source = sqlite3.connect(str(path))
        try:
            for table in tables:
                context.imported[table] = _copy_table(con, source, table)
        finally:
            source.close()
        context.renames.append(path)


def _copy_table(con: sqlite3.Connection, source: sqlite3.Connection, table: str) -> int:
    old = [row[1] for row in source.execute(f"PRAGMA table_info({_quoted(table)})")]
    new = {row[1] for row in con.execute(f"PRAGMA table_info({_quoted(table)})")}
    columns = ", ".join(_quoted(c) for c in old if c in new)
    if not columns:
        return 0  # the old file never made this table
    rows = source.execute(f"SELECT {columns} FROM {_quoted(table)}").fetchall()
    marks = ", ".join("?" for _ in columns.split(", "))
    con.executemany(f"INSERT OR IGNORE INTO {_quoted(table)} ({columns}) VALUES ({marks})", rows)
    return len(rows)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "tables of the metadata, alert, incident, registry, experiment, rollout and bandit stores",
        _create_tables,
    ),
    Migration(
        2,
        "rows of the separate SQLite files of earlier versions copied in",
        _import_legacy_files,
    ),
    Migration(3, "runbook approvals kept across restarts", _create(_APPROVALS)),
    Migration(4, "the outbox read by receiver (a delivery lane each)", _create(_OUTBOX_LANES)),
    Migration(5, "dashboard sessions ended by logout", _create(_ENDED_SESSIONS)),
)
CURRENT_VERSION = MIGRATIONS[-1].version


def _version(con: sqlite3.Connection) -> int:
    if not con.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone():
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def migrate(database: SQLiteDatabase, *, legacy_dir: Path | None = None) -> MigrationReport:
    """Apply the migrations ``database`` lacks, in order; see the module docstring.

    An up-to-date database is only read: opening it beside a running collector (the
    CLI creating a key) takes no write lock.
    """
    con = database.connection
    context = MigrationContext(legacy_dir, database.path)
    try:
        before = _version(con)
    except sqlite3.Error as exc:
        raise StoreError(f"the {database.name} could not read its schema version: {exc}") from exc
    if before > CURRENT_VERSION:
        raise StoreError(
            f"the {database.name} at {database.path} is at schema version {before}, newer "
            f"than this mlpulse knows ({CURRENT_VERSION}): upgrade mlpulse"
        )
    applied: list[int] = []
    for migration in (m for m in MIGRATIONS if m.version > before):
        with database.transaction(f"apply migration {migration.version}"):
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "description TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            # Read again inside the write lock: another process may have migrated.
            if _version(con) >= migration.version:
                continue
            migration.apply(con, context)
            con.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, time.time()),
            )
        applied.append(migration.version)
    renamed = []
    for path in context.renames:  # after the commit: a crash before it renames nothing
        for suffix in ("", "-wal", "-shm"):
            part = path.with_name(path.name + suffix)
            if part.exists():
                part.rename(part.with_name(part.name + ".migrated"))
        renamed.append(path)
    return MigrationReport(
        before, _version(con), tuple(applied), dict(context.imported), tuple(renamed)
    )
