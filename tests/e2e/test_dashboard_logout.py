"""Logging out of the dashboard ends the session on the server: a copy of the cookie
taken before logout is refused afterwards, by the replica that logged out and by the
others sharing the store (it used to keep working for the cookie's 12 hours)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from mlpulse.domain.auth import Scope
from mlpulse.testing.process import CollectorProcess, create_key
from tests.integration.test_dashboard import csrf_of

pytestmark = pytest.mark.slow

DATA = "/ui/partials/models"  # a data endpoint: 401 without a session


def _log_in(url: str, key: str) -> dict[str, str]:
    with httpx.Client(base_url=url) as browser:
        token = csrf_of(browser.get("/login").text)
        made = browser.post("/login", data={"api_key": key, "csrf_token": token})
        assert made.status_code == 303, made.text[:200]
        return dict(browser.cookies)


def _log_out(url: str, cookies: dict[str, str]) -> None:
    with httpx.Client(base_url=url, cookies=cookies) as browser:
        page = browser.get("/")
        assert page.status_code == 200
        found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
        assert found
        gone = browser.post("/logout", data={"csrf_token": found.group(1)})
        assert gone.status_code == 303
        assert 'mlpulse_session=""' in gone.headers["set-cookie"]  # the browser's copy goes


def _answers(url: str, cookies: dict[str, str]) -> tuple[int, int]:
    with httpx.Client(base_url=url, cookies=cookies) as browser:
        return browser.get("/").status_code, browser.get(DATA).status_code


def test_cookie_copied_before_logout_is_refused_after_it(tmp_path: Path) -> None:
    read_key = create_key(tmp_path, [Scope.READ], name="read")
    collector = CollectorProcess(tmp_path).start()
    try:
        copied = _log_in(collector.url, read_key)
        other = _log_in(collector.url, read_key)  # another browser, same key
        assert _answers(collector.url, copied) == (200, 200)

        _log_out(collector.url, copied)

        assert _answers(collector.url, copied) == (303, 401)
        assert _answers(collector.url, other) == (200, 200)  # only that session ended
    finally:
        collector.stop()
    # The ended session is in the store: a restart does not bring it back.
    collector = CollectorProcess(tmp_path).start()
    try:
        assert _answers(collector.url, copied) == (303, 401)
        assert _answers(collector.url, other) == (200, 200)
    finally:
        collector.stop()


def test_logout_on_one_replica_ends_the_session_on_the_others(
    postgres_store: str, tmp_path: Path
) -> None:
    read_key = create_key(tmp_path, [Scope.READ], name="read", store=postgres_store)
    env = {"MLPULSE_STORE": postgres_store, "MLPULSE_DASHBOARD_SECRET": "0123456789abcdef" * 4}
    replicas = [CollectorProcess(tmp_path / f"r{i}", env=env) for i in range(2)]
    for replica in replicas:
        replica.start()
    try:
        copied = _log_in(replicas[0].url, read_key)
        assert _answers(replicas[1].url, copied) == (200, 200)

        _log_out(replicas[0].url, copied)

        assert _answers(replicas[0].url, copied) == (303, 401)
        assert _answers(replicas[1].url, copied) == (303, 401)
    finally:
        for replica in replicas:
            replica.stop()
