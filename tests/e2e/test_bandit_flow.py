"""Bandits end to end: a real collector, the real SDK router logging exposures, the real CLI.

Three versions convert at different rates; the router serves new users by the bandit's
weights and logs an ``exposure`` for each, the serving code logs clicks, and every tick
moves traffic towards the version that converts best.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import httpx
import numpy as np

from mlpulse import Client
from tests.conftest import RunningCollector

MODEL = "feed"
RATES = {"v1": 0.04, "v2": 0.08, "v3": 0.20}


def _mlpulse(collector: RunningCollector, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLPULSE_URL": collector.url, "MLPULSE_API_KEY": collector.admin_key}
    return subprocess.run(
        [sys.executable, "-m", "mlpulse", *args], capture_output=True, text=True, env=env
    )


def _wait_for_revision(router: Any, revision: int) -> None:
    deadline = time.monotonic() + 5.0
    while router.table.revision < revision:
        assert time.monotonic() < deadline, "the router did not see the new weights"
        time.sleep(0.01)


def test_bandit_moves_traffic_to_the_best_version_and_keeps_the_floor(
    collector: RunningCollector,
) -> None:
    admin = httpx.Client(base_url=collector.url, headers=collector.headers(collector.admin_key))
    collector.register(MODEL, RATES)
    started = admin.post(
        "/v1/bandits",
        json={"model": MODEL, "versions": list(RATES), "policy": "thompson",
              "reward": {"name": "click", "kind": "proportion"}, "floor": 0.05, "every": "1h",
              "seed": 4},
    )  # fmt: skip
    assert started.status_code == 201, started.text
    bandit: dict[str, Any] = started.json()
    assert sum(bandit["weights"].values()) == 100 and min(bandit["weights"].values()) >= 33

    rng = np.random.default_rng(17)
    served = 0
    with Client(collector.url, collector.ingest_key, flush_interval=0.05) as client:
        router = client.router(MODEL, exposure="exposure")
        for _ in range(10):
            for _ in range(400):
                served += 1
                unit = f"user-{served}"
                version = router.choose(unit).version
                router.choose(unit)  # seen again: no second exposure
                if rng.random() < RATES[version]:
                    client.log_outcome("click", model=MODEL, version=version, unit_id=unit)
            assert client.flush(timeout=10.0)
            ticked = admin.post(f"/v1/bandits/{bandit['id']}/tick")
            assert ticked.status_code == 200, ticked.text
            bandit = ticked.json()
            table = admin.get(f"/v1/routing/{MODEL}").json()
            _wait_for_revision(router, table["revision"])

    weights = bandit["weights"]
    assert bandit["status"] == "running" and bandit["champion"] == "v3"
    assert max(weights, key=weights.__getitem__) == "v3" and weights["v3"] >= 60
    assert all(w >= 5 for w in weights.values()) and sum(weights.values()) == 100
    # Units are the router's exposures: every unit served is counted once, clicked or not.
    arms = {a["version"]: a for a in bandit["arms"]}
    assert sum(a["units"] for a in arms.values()) == served
    assert arms["v3"]["mean"] > arms["v1"]["mean"]
    entries = {e["version"]: (e["stage"], e["weight"]) for e in table["entries"]}
    assert entries == {v: ("champion" if v == "v3" else "challenger", weights[v]) for v in RATES}
    # Each change of weights is a deployment by the bandit, with its reason.
    deployments = admin.get("/v1/deployments", params={"model": MODEL}).json()["deployments"]
    by_bandit = [d for d in deployments if d["actor"] == f"bandit:{bandit['id']}"]
    assert len(by_bandit) >= 3
    assert len({d["detail"]["routing"] for d in by_bandit}) == len(by_bandit)
    assert by_bandit[-1]["detail"]["reason"].startswith(
        f"bandit {bandit['id']} (thompson on click)"
    )
    assert admin.get(f"/v1/bandits/{bandit['id']}").json() == bandit

    # The CLI lists, shows and stops it; the weights stay where the bandit left them.
    listed = _mlpulse(collector, "bandits", "list")
    assert listed.returncode == 0, listed.stderr
    assert bandit["id"] in listed.stdout and "running" in listed.stdout
    shown = _mlpulse(collector, "bandits", "show", bandit["id"])
    assert shown.returncode == 0, shown.stderr
    assert f"{weights['v3']}%" in shown.stdout and "champion" in shown.stdout
    stopped = _mlpulse(collector, "bandits", "stop", bandit["id"], "--reason", "v3 wins")
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stderr
    after = admin.get(f"/v1/bandits/{bandit['id']}").json()
    assert after["status"] == "stopped" and after["stop_reason"] == "v3 wins"
    assert admin.get(f"/v1/routing/{MODEL}").json()["entries"] == table["entries"]
    admin.close()


def test_bandit_start_names_the_bad_field_over_http_and_in_the_cli(
    collector: RunningCollector,
) -> None:
    headers = collector.headers(collector.admin_key)
    for version in ("a", "b", "c"):
        body = {"version": version, "artifact_uri": "s3://m"}
        httpx.post(f"{collector.url}/v1/registry/m/versions", json=body, headers=headers)
    body = {"model": "m", "versions": ["a", "b", "c"], "reward": {"name": "click"}, "floor": 0.4}

    response = httpx.post(f"{collector.url}/v1/bandits", json=body, headers=headers)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "floor"
    assert "floor: must be in [0, 1/len(versions)]" in error["message"]
    started = _mlpulse(collector, "bandits", "start", "m", "a", "b", "--reward", "click",
                       "--policy", "linucb")  # fmt: skip
    assert started.returncode == 1
    assert "LinUCB is contextual" in started.stderr
