"""Fixtures shared by the integration and end-to-end tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from hypothesis import settings

from mlpulse.domain.auth import Scope
from mlpulse.testing.process import CollectorProcess, create_key

# CI runs the property tests on a fixed sequence of examples, so a landing never depends
# on the luck of the draw; runs on a developer's machine keep exploring new examples.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


# PostgreSQL: each test session makes its own database (``mlpulse_<random>``, through the
# ``test`` database) and drops it at the end, so sessions running at the same time never
# see each other's rows; a test that needs a clean slate takes a schema of its own in it
# (creating a database takes about a second, a schema milliseconds). Without a reachable
# server these tests skip, saying what to start; with MLPULSE_REQUIRE_SERVICES=1 (CI)
# they fail instead.
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
def postgres_store(postgres_url: str) -> str:
    """An ``MLPULSE_STORE`` URL whose tables go into a schema of this test's own."""
    schema = f"t_{secrets.token_hex(6)}"
    return f"{postgres_url}?options=-csearch_path%3D{schema}"


@dataclass(frozen=True)
class RunningCollector:
    process: CollectorProcess
    admin_key: str
    ingest_key: str
    read_key: str

    @property
    def url(self) -> str:
        return self.process.url

    def headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def register(self, model: str, versions: Iterable[str], *, champion: str = "") -> None:
        """Register ``versions`` of ``model`` (the first is champion at 100, the others
        shadows at 0), then promote ``champion`` if given."""
        admin = self.headers(self.admin_key)
        for version in versions:
            registered = httpx.post(
                f"{self.url}/v1/registry/{model}/versions",
                json={"version": version, "artifact_uri": f"s3://models/{model}/{version}"},
                headers=admin,
            )
            assert registered.status_code == 201, registered.text
        if champion:
            promoted = httpx.post(
                f"{self.url}/v1/registry/{model}/promote", json={"version": champion},
                headers=admin,
            )  # fmt: skip
            assert promoted.status_code == 200, promoted.text


def start_collector(data_dir: Path, **env: str) -> tuple[CollectorProcess, dict[str, str]]:
    store = env.get("MLPULSE_STORE", "")  # a postgresql:// URL: the keys go there
    keys = {
        "admin": create_key(data_dir, [Scope.ADMIN], name="admin", store=store),
        "ingest": create_key(data_dir, [Scope.INGEST], name="ingest", store=store),
        "read": create_key(data_dir, [Scope.READ], name="read", store=store),
    }
    return CollectorProcess(data_dir, env=env).start(), keys


@pytest.fixture(scope="session")
def shared_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCollector]:
    """One collector for the many small HTTP tests (each uses its own model names).

    A small body limit (256 KiB) makes the 413 test cheap; key look-ups are not
    cached so a revoked key is refused at once.
    """
    data_dir = tmp_path_factory.mktemp("shared-collector")
    process, keys = start_collector(
        data_dir, MLPULSE_MAX_BODY_BYTES=str(256 * 1024), MLPULSE_KEY_CACHE_SECONDS="0"
    )
    try:
        yield RunningCollector(process, keys["admin"], keys["ingest"], keys["read"])
    finally:
        process.stop()


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    """A collector of the test's own, on a fresh data directory."""
    process, keys = start_collector(tmp_path / "data")
    try:
        yield RunningCollector(process, keys["admin"], keys["ingest"], keys["read"])
    finally:
        process.stop()
