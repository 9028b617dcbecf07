"""What the contract suites share: a PostgreSQL database per session, a schema per test.

Each test session makes its own database (``mlpulse_<random>``, through the ``test``
database) and drops it at the end, so sessions running at the same time never see
each other's rows; each test gets a fresh schema in it, so tests stay independent
without a database each (creating one takes about a second, a schema milliseconds).

Without a reachable PostgreSQL the PostgreSQL cases skip, saying what to start; with
``MLPULSE_REQUIRE_SERVICES=1`` (CI) they fail instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Final
from urllib.parse import urlsplit

import psycopg
import pytest

from mlpulse.adapters.store.postgres.database import Database

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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of this session's own database (``MLPULSE_TEST_POSTGRES_URL``, another
    server to test against, is a URL too)."""
    name = f"mlpulse_{secrets.token_hex(6)}"
    with _admin() as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urlsplit(POSTGRES_URL)._replace(path=f"/{name}").geturl()
    finally:
        with _admin() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[Database]:
    """A migrated schema of its own in the session's database."""
    database = Database(postgres_url, schema=f"t_{secrets.token_hex(6)}", max_size=4)
    yield database
    database.close()


def postgres_database(request: pytest.FixtureRequest) -> Database:
    """The ``postgres`` fixture, asked for only by the PostgreSQL cases of a suite."""
    database = request.getfixturevalue("postgres")
    assert isinstance(database, Database)
    return database
