"""The connection pool every PostgreSQL store shares, its schema, and its errors.

One :class:`Database` per process: a ``psycopg_pool`` pool of autocommit connections
(a read is one statement, a write an explicit transaction) and, for the event writer,
dedicated connections (:meth:`Database.connect`). Opening it applies the numbered
migrations of :mod:`.migrations` that the ``schema_version`` table does not list yet,
in one transaction under an advisory lock: replicas starting at once apply each
migration once, and the others wait, then find nothing left to do.

Every psycopg error becomes one of ours here (:func:`translated`), naming the store
and what it was doing; the store modules never catch psycopg's errors themselves.

Times: the event and series tables mirror the DuckDB ones and hold ``timestamptz``
(microseconds, like DuckDB's TIMESTAMPTZ, so both round a time the same way); the
records mirrored from SQLite (keys, alerts, registry, documents) keep their times as
``double precision`` epoch seconds, as SQLite's REAL does, so they round-trip exactly.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict

from mlpulse.adapters.store.postgres.migrations import MIGRATIONS
from mlpulse.errors import (
    MlpulseError,
    StoreBusyError,
    StoreClosedError,
    StoreError,
    parameter_error,
)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# The first key of the advisory lock that serialises migrations ("mlp"); the second
# is the schema's hash, so databases with a schema per tenant (or test) do not wait
# for each other.
_MIGRATION_LOCK: Final = 0x6D6C70
_SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")

Row = tuple[Any, ...]


def schema_in(url: str) -> str:
    """The schema a URL names through libpq's ``options`` (``?options=-csearch_path%3Dx``),
    else ``public``.

    >>> schema_in("postgresql://db/mlpulse?options=-csearch_path%3Dteam_a"), schema_in("")
    ('team_a', 'public')
    """
    options = str(conninfo_to_dict(url).get("options") or "")
    found = re.search(r"search_path\s*=\s*([a-z_][a-z0-9_]*)", options)
    return found.group(1) if found else "public"


def at(seconds: float) -> datetime:
    """The ``timestamptz`` parameter for epoch seconds, rounded to the microsecond as
    the DuckDB store rounds them (``round(seconds * 1e6)``)."""
    return _EPOCH + timedelta(microseconds=round(seconds * 1e6))


def micros(column: str) -> str:
    """SQL for a ``timestamptz`` column as integer microseconds since the epoch (exact:
    ``extract`` gives a numeric)."""
    return f"(extract(epoch FROM {column}) * 1000000)::bigint"


@contextmanager
def translated(
    name: str, action: str, *, unique: Callable[[], MlpulseError] | None = None
) -> Iterator[None]:
    """The one place where psycopg's errors become ours.

    ``unique``: the error to raise for a unique-key violation (e.g. a name taken),
    instead of a :class:`StoreError`.
    """
    try:
        yield
    except pg_errors.UniqueViolation as exc:
        if unique is None:
            raise StoreError(f"the {name} could not {action}: {exc}") from exc
        raise unique() from exc
    except psycopg_pool.PoolClosed as exc:
        raise StoreClosedError(f"the {name} is closed (could not {action})") from exc
    except psycopg_pool.PoolTimeout as exc:
        raise StoreBusyError(
            f"the {name} could not {action}: no database connection was free in time"
        ) from exc
    except psycopg.OperationalError as exc:
        raise StoreError(
            f"the {name} could not {action}: PostgreSQL is unreachable: {exc}"
        ) from exc
    except psycopg.Error as exc:
        raise StoreError(f"the {name} could not {action}: {exc}") from exc


class Database:
    """A pool of connections to ``url`` working in ``schema``, migrated on open."""

    def __init__(
        self,
        url: str,
        *,
        schema: str = "public",
        min_size: int = 1,
        max_size: int = 8,
        timeout_s: float = 10.0,
    ) -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise parameter_error(
                "schema", "Database", "a lower-case SQL identifier ([a-z_][a-z0-9_]*)", schema
            )
        self.url = url
        self.schema = schema
        # The URL's own options stay; ours come after them, so they win.
        options = str(conninfo_to_dict(url).get("options") or "")
        self._kwargs: dict[str, Any] = {
            "autocommit": True,
            "options": f"{options} -c search_path={schema} -c timezone=UTC".strip(),
        }
        self._timeout = timeout_s
        self._local = threading.local()  # the transaction a thread has open, if any
        with translated("PostgreSQL store", f"open {_safe(url)}"):
            # One connection first, so a refused password or a missing database is said
            # at once (the pool would retry in the background until its timeout).
            psycopg.connect(url, connect_timeout=max(1, round(timeout_s)), **self._kwargs).close()
            self._pool = psycopg_pool.ConnectionPool(
                url,
                kwargs=self._kwargs,
                min_size=min_size,
                max_size=max_size,
                timeout=timeout_s,
                # A connection is checked (an empty query) as it leaves the pool: after a
                # failover or a restart of PostgreSQL, a stale one is replaced instead of
                # failing the caller's statement.
                check=psycopg_pool.ConnectionPool.check_connection,
                open=False,
                name=f"mlpulse-{schema}",
            )
            try:
                self._pool.open(wait=True, timeout=timeout_s)
                self.version = self._migrate()
            except psycopg_pool.PoolTimeout as exc:
                self._pool.close()
                raise StoreError(
                    f"cannot open the PostgreSQL store: no connection to {_safe(url)} "
                    f"within {timeout_s:g} s (is PostgreSQL running there?)"
                ) from exc
            except BaseException:
                self._pool.close()
                raise

    def _migrate(self) -> int:
        """Apply the migrations not applied yet; returns the schema's version."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_MIGRATION_LOCK, self.schema)
            )
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            current = int(row[0]) if row else 0
            if current > MIGRATIONS[-1].version:
                raise StoreError(
                    f"the PostgreSQL store's schema {self.schema!r} is at version {current}, "
                    f"newer than this mlpulse knows ({MIGRATIONS[-1].version}): upgrade mlpulse"
                )
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, description) VALUES (%s, %s)",
                    (migration.version, migration.description),
                )
                current = migration.version
        return current

    # -- running SQL -------------------------------------------------------------------------

    def rows(self, name: str, action: str, sql: str, params: Any = ()) -> list[Row]:
        """Run one statement and return its rows: in the transaction this thread has
        open (:meth:`transaction`), else as a transaction of its own."""
        current = self._current()
        with translated(name, action):
            if current is not None:
                cursor = current.execute(sql, params)
                return cursor.fetchall() if cursor.description is not None else []
            with self._pool.connection() as conn:
                cursor = conn.execute(sql, params)
                return cursor.fetchall() if cursor.description is not None else []

    @contextmanager
    def transaction(
        self, name: str, action: str, *, unique: Callable[[], MlpulseError] | None = None
    ) -> Iterator[psycopg.Connection[Row]]:
        """A connection inside one transaction, committed on leaving the block.

        Inside another one of this thread, it is a savepoint of that one: an error rolls
        back this block only, and nothing commits before the outermost block ends. So
        stores that write in one block (the registry, the alerts, a rollout) commit
        together or not at all.
        """
        current = self._current()
        with translated(name, action, unique=unique):
            if current is not None:
                with current.transaction():  # psycopg makes it a savepoint
                    yield current
                return
            with self._pool.connection() as conn, conn.transaction():
                self._local.connection = conn
                try:
                    yield conn
                finally:
                    self._local.connection = None

    def _current(self) -> psycopg.Connection[Row] | None:
        connection: psycopg.Connection[Row] | None = getattr(self._local, "connection", None)
        return connection

    def connect(self) -> psycopg.Connection[Row]:
        """A connection of its own (not from the pool), e.g. for the event writer."""
        with translated("PostgreSQL store", f"connect to {_safe(self.url)}"):
            return psycopg.connect(self.url, connect_timeout=int(self._timeout), **self._kwargs)

    def close(self) -> None:
        self._pool.close()


def _safe(url: str) -> str:
    """``url`` without its password, for messages."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)
