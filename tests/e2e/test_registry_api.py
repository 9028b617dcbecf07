"""The registry over real HTTP and the real CLI: ETag, long-poll, rollback."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.conftest import RunningCollector


def _register(collector: RunningCollector, model: str, *versions: str) -> None:
    for version in versions:
        response = httpx.post(
            f"{collector.url}/v1/registry/{model}/versions",
            json={"version": version, "artifact_uri": f"s3://m/{version}", "metadata": {"n": "1"}},
            headers=collector.headers(collector.admin_key),
        )
        assert response.status_code == 201, response.text


def _mlpulse(collector: RunningCollector, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLPULSE_URL": collector.url, "MLPULSE_API_KEY": collector.admin_key}
    return subprocess.run(
        [sys.executable, "-m", "mlpulse", *args], capture_output=True, text=True, env=env
    )


def test_routing_table_answers_304_when_if_none_match_is_the_current_etag(
    shared_collector: RunningCollector,
) -> None:
    collector = shared_collector
    _register(collector, "registry-etag", "v1", "v2")
    url = f"{collector.url}/v1/routing/registry-etag"
    ingest = collector.headers(collector.ingest_key)  # serving processes hold ingest keys

    first = httpx.get(url, headers=ingest)

    assert first.status_code == 200, first.text
    assert first.headers["ETag"] == '"2"'
    table = first.json()
    assert table["revision"] == 2 and table["fallback"] == "v1"
    assert [e["version"] for e in table["entries"]] == ["v1", "v2"]
    same = httpx.get(url, headers={**ingest, "If-None-Match": '"2"'})
    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["ETag"] == '"2"'
    older = httpx.get(url, headers={**ingest, "If-None-Match": '"1"'})
    assert older.status_code == 200
    assert older.json()["revision"] == 2
    missing = httpx.get(f"{collector.url}/v1/routing/nope", headers=ingest)
    assert missing.status_code == 404
    too_long = httpx.get(url, params={"wait": 31}, headers=ingest)
    assert too_long.status_code == 422


def test_long_poll_returns_within_a_second_of_a_routing_change(
    collector: RunningCollector,
) -> None:
    _register(collector, "recs", "v1", "v2")
    url = f"{collector.url}/v1/routing/recs"
    read = {**collector.headers(collector.read_key), "If-None-Match": '"2"'}
    changed_at: list[float] = []
    answers: list[httpx.Response] = []

    def change() -> None:
        time.sleep(0.5)
        changed_at.append(time.monotonic())
        answers.append(
            httpx.put(
                f"{collector.url}/v1/registry/recs/routing",
                json={"versions": [{"version": "v1", "stage": "champion", "weight": 80},
                                   {"version": "v2", "stage": "challenger", "weight": 20}],
                      "reason": "canary"},
                headers=collector.headers(collector.admin_key),
            )
        )  # fmt: skip

    writer = threading.Thread(target=change)
    writer.start()
    polled = httpx.get(url, params={"wait": 20}, headers=read, timeout=30.0)
    returned_at = time.monotonic()
    writer.join()

    assert answers[0].status_code == 200, answers[0].text
    assert polled.status_code == 200
    assert polled.headers["ETag"] == '"3"'
    assert {e["version"]: e["weight"] for e in polled.json()["entries"]} == {"v1": 80, "v2": 20}
    assert returned_at - changed_at[0] < 1.0

    started = time.monotonic()
    quiet = httpx.get(
        url, params={"wait": 0.5}, headers={**read, "If-None-Match": '"3"'}, timeout=30.0
    )
    assert quiet.status_code == 304
    assert 0.5 <= time.monotonic() - started < 3.0


def test_routing_change_with_a_bad_weight_names_the_field(
    shared_collector: RunningCollector,
) -> None:
    collector = shared_collector
    _register(collector, "registry-bad-weight", "v1", "v2")

    response = httpx.put(
        f"{collector.url}/v1/registry/registry-bad-weight/routing",
        json={"versions": [{"version": "v1", "stage": "champion", "weight": 90},
                           {"version": "v2", "stage": "shadow", "weight": 10}]},
        headers=collector.headers(collector.admin_key),
    )  # fmt: skip

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "versions[1].weight"


def test_cli_promotes_and_rolls_back_and_the_history_shows_both(
    collector: RunningCollector,
) -> None:
    for version in ("v1", "v2"):
        registered = _mlpulse(
            collector, "registry", "register", "fraud", version,
            "--artifact-uri", f"s3://m/{version}", "--meta", "git=abc",
        )  # fmt: skip
        assert registered.returncode == 0, registered.stderr
    routed = _mlpulse(collector, "registry", "route", "fraud", "v1=champion:90", "v2=challenger:10")
    assert routed.returncode == 0, routed.stderr
    assert "v2 challenger 10%" in routed.stderr
    bad = _mlpulse(collector, "registry", "route", "fraud", "v2=challenger")
    assert bad.returncode == 2
    assert "VERSION=STAGE:WEIGHT" in bad.stderr
    promoted = _mlpulse(collector, "registry", "promote", "fraud", "v2")
    assert promoted.returncode == 0, promoted.stderr
    assert "fallback v2" in promoted.stderr

    rolled = _mlpulse(collector, "rollback", "fraud", "--reason", "error rate up")

    assert rolled.returncode == 0, rolled.stderr
    assert "rolled back fraud to v1" in rolled.stderr
    found: dict[str, Any] = httpx.get(
        f"{collector.url}/v1/registry/fraud", headers=collector.headers(collector.read_key)
    ).json()
    assert {v["version"]: v["stage"] for v in found["versions"]} == {
        "v1": "champion",
        "v2": "archived",
    }
    deployments = httpx.get(
        f"{collector.url}/v1/deployments",
        params={"model": "fraud"},
        headers=collector.headers(collector.read_key),
    ).json()["deployments"]
    assert [d["kind"] for d in deployments] == [
        "register", "register", "stage", "promote", "rollback",
    ]  # fmt: skip
    assert deployments[-1]["detail"]["reason"] == "error rate up"
    assert deployments[-1]["actor"] == "admin"
    again = _mlpulse(collector, "rollback", "fraud")
    assert again.returncode == 1
    assert "no version of 'fraud' to roll back to" in again.stderr
    shown = _mlpulse(collector, "registry", "show", "fraud")
    assert shown.returncode == 0, shown.stderr
    assert "s3://m/v2" in shown.stdout and "git=abc" in shown.stdout
    history = _mlpulse(collector, "registry", "history", "fraud")
    assert "rollback" in history.stdout and "error rate up" in history.stdout
    impact = _mlpulse(collector, "registry", "impact", "fraud", "--span", "5m")
    assert impact.returncode == 0, impact.stderr
    assert "fraud: before → after" in impact.stdout and "rollback" in impact.stdout
    bad_span = _mlpulse(collector, "registry", "impact", "fraud", "--span", "soon")
    assert bad_span.returncode == 1 and "span must be a duration" in bad_span.stderr
    newest = httpx.get(
        f"{collector.url}/v1/deployments/impact", params={"model": "fraud", "limit": 2},
        headers=collector.headers(collector.read_key),
    )  # fmt: skip
    assert [i["deployment"]["kind"] for i in newest.json()["impacts"]] == ["promote", "rollback"]
    too_many = httpx.get(
        f"{collector.url}/v1/deployments/impact", params={"model": "fraud", "limit": 0},
        headers=collector.headers(collector.read_key),
    )  # fmt: skip
    assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "query.limit"


def test_registry_takes_a_model_name_with_a_slash_as_ingest_does(
    shared_collector: RunningCollector,
) -> None:
    collector, model = shared_collector, "team-a/fraud"
    for version in ("v1", "v2"):
        registered = _mlpulse(collector, "registry", "register", model, version,
                              "--artifact-uri", f"s3://m/{version}")  # fmt: skip
        assert registered.returncode == 0, registered.stderr
    promoted = _mlpulse(collector, "registry", "promote", model, "v2")
    assert promoted.returncode == 0, promoted.stderr
    rolled = _mlpulse(collector, "rollback", model, "--reason", "test")
    assert rolled.returncode == 0, rolled.stderr
    read = collector.headers(collector.read_key)
    found = httpx.get(f"{collector.url}/v1/registry/{model}", headers=read)
    assert found.status_code == 200, found.text
    assert {v["version"]: v["stage"] for v in found.json()["versions"]} == {
        "v1": "champion", "v2": "archived",
    }  # fmt: skip
    # The SDK's router asks with the name quoted whole (team-a%2Ffraud).
    ingest = collector.headers(collector.ingest_key)
    table = httpx.get(f"{collector.url}/v1/routing/team-a%2Ffraud", headers=ingest)
    assert table.status_code == 200, table.text
    assert table.json()["fallback"] == "v1"
    slashed = httpx.post(
        f"{collector.url}/v1/registry/{model}/versions",
        json={"version": "v3/beta", "artifact_uri": "s3://m/v3"},
        headers=collector.headers(collector.admin_key),
    )
    assert slashed.status_code == 422 and "version" in slashed.text
