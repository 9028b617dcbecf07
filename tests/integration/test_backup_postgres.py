"""mlpulse backup and restore against a real PostgreSQL (pg_dump, pg_restore)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import psycopg
import pytest

from mlpulse.adapters.store import backup_postgres
from mlpulse.adapters.store.backup_archive import restore as restore_embedded
from mlpulse.errors import ConfigurationError, InvalidInputError

POSTGRES_URL: Final = os.environ.get(
    "MLPULSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
UNREACHABLE: Final = (
    "PostgreSQL is not reachable at 127.0.0.1:5432: start it with "
    "`pg_ctlcluster --skip-systemctl-redirect 15 main start`"
)


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        if os.environ.get("MLPULSE_REQUIRE_SERVICES") == "1":
            pytest.fail(UNREACHABLE)
        pytest.skip(UNREACHABLE)


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """Two new databases (a source and a restore target), dropped afterwards."""
    names = [f"mlpulse_bk_{secrets.token_hex(5)}" for _ in range(2)]
    with _admin() as admin:
        for name in names:
            admin.execute(f"CREATE DATABASE {name}")
    try:
        source, target = (urlsplit(POSTGRES_URL)._replace(path=f"/{n}").geturl() for n in names)
        yield source, target
    finally:
        with _admin() as admin:
            for name in names:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _fill(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE SCHEMA mlpulse")
        con.execute("CREATE TABLE mlpulse.batches (batch_id text PRIMARY KEY, accepted int)")
        con.execute("CREATE TABLE mlpulse.keys (key_id text PRIMARY KEY, scopes text[])")
        con.execute(
            "INSERT INTO mlpulse.batches SELECT 'b' || i, 100 FROM generate_series(1, 500) i"
        )
        con.execute("INSERT INTO mlpulse.keys VALUES ('k1', '{admin}')")


def _insert_until(url: str, stop: threading.Event) -> None:
    with psycopg.connect(url, autocommit=True) as con:
        i = 0
        while not stop.is_set():
            con.execute("INSERT INTO mlpulse.batches VALUES (%s, 100)", [f"live-{i}"])
            i += 1


def test_postgres_backup_under_writes_restores_the_rows_of_its_snapshot(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    source, target = databases
    _fill(source)
    stop = threading.Event()
    writer = threading.Thread(target=_insert_until, args=(source, stop))
    writer.start()
    try:
        with (tmp_path / "pg.tar.gz").open("wb") as out:
            manifest = backup_postgres.backup(source, out)
    finally:
        stop.set()
        writer.join()

    rows = manifest.files[0].tables
    assert manifest.source == "postgresql" and rows["mlpulse.keys"] == 1
    assert rows["mlpulse.batches"] >= 500
    restored = backup_postgres.restore(tmp_path / "pg.tar.gz", target)
    assert restored == manifest
    with psycopg.connect(target) as con:
        count = con.execute("SELECT count(*) FROM mlpulse.batches").fetchone()
        assert count is not None and count[0] == rows["mlpulse.batches"]
        with pytest.raises(psycopg.errors.UniqueViolation):
            con.execute("INSERT INTO mlpulse.keys VALUES ('k1', '{read}')")


def test_postgres_restore_refuses_a_database_with_tables_unless_forced(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    source, target = databases
    _fill(source)
    with (tmp_path / "pg.tar").open("wb") as out:
        backup_postgres.backup(source, out, gzip=False)
    with psycopg.connect(target, autocommit=True) as con:
        con.execute("CREATE SCHEMA mlpulse")
        con.execute("CREATE TABLE mlpulse.keys (key_id text PRIMARY KEY, scopes text[])")
        con.execute("INSERT INTO mlpulse.keys VALUES ('old', '{read}')")

    with pytest.raises(ConfigurationError, match="holds 1 tables"):
        backup_postgres.restore(tmp_path / "pg.tar", target)
    backup_postgres.restore(tmp_path / "pg.tar", target, force=True)

    with psycopg.connect(target) as con:
        assert con.execute("SELECT key_id FROM mlpulse.keys").fetchall() == [("k1",)]


def test_restore_names_the_other_command_for_the_other_kind_of_backup(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    source, _ = databases
    _fill(source)
    with (tmp_path / "pg.tar").open("wb") as out:
        backup_postgres.backup(source, out, gzip=False)

    with pytest.raises(InvalidInputError, match="backup of PostgreSQL: restore it with --store"):
        restore_embedded(tmp_path / "pg.tar", tmp_path / "dir")


def test_cli_backs_up_and_restores_postgres_named_by_mlpulse_store(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    source, target = databases
    _fill(source)
    archive = str(tmp_path / "pg.tar.gz")

    def mlpulse(*args: str, store: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "MLPULSE_STORE": store}
        return subprocess.run([sys.executable, "-m", "mlpulse", *args], capture_output=True,
                              text=True, env=env)  # fmt: skip

    backed_up = mlpulse("backup", "-o", archive, store=source)
    restored = mlpulse("restore", archive, store=target)

    assert backed_up.returncode == 0, backed_up.stderr
    assert "postgres.dump" in backed_up.stderr and "postgresql" in backed_up.stderr
    assert restored.returncode == 0, restored.stderr
    with psycopg.connect(target) as con:
        assert con.execute("SELECT count(*) FROM mlpulse.batches").fetchone() == (500,)
