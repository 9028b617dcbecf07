"""What the contract suites share: a schema per test in the session's PostgreSQL
database (``postgres_url``, in tests/conftest.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from mlpulse.adapters.store.postgres.database import Database


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
