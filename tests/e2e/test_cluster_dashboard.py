"""A dashboard session made on one replica is valid on the others (no sticky sessions)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mlpulse.domain.auth import Scope
from mlpulse.testing.process import CollectorProcess, create_key
from tests.integration.test_dashboard import csrf_of

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("shared", [True, False])
def test_dashboard_session_moves_between_replicas_with_a_shared_secret(
    postgres_store: str, tmp_path: Path, shared: bool
) -> None:
    read_key = create_key(tmp_path, [Scope.READ], name="read", store=postgres_store)
    env = {"MLPULSE_STORE": postgres_store}
    if shared:
        env["MLPULSE_DASHBOARD_SECRET"] = "0123456789abcdef" * 4
    replicas = [CollectorProcess(tmp_path / f"r{i}", env=env) for i in range(2)]
    for replica in replicas:
        replica.start()
    try:
        with httpx.Client(base_url=replicas[0].url) as first:
            token = csrf_of(first.get("/login").text)
            made = first.post("/login", data={"api_key": read_key, "csrf_token": token})
            assert made.status_code == 303
            cookies = dict(first.cookies)
        with httpx.Client(base_url=replicas[1].url, cookies=cookies) as second:
            page = second.get("/")  # the overview: served by the replica itself
        # With a shared secret the other replica knows the session; without one (each
        # replica's own secret file) it sends the browser to log in again.
        assert page.status_code == (200 if shared else 303), page.text[:200]
    finally:
        for replica in replicas:
            replica.stop()
