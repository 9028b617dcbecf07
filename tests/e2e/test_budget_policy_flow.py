"""The budget policy through a real collector: a spent SLO refuses a promotion with 409."""

from __future__ import annotations

import time

import httpx

from mlpulse import Client
from tests.conftest import RunningCollector


def test_budget_policy_answers_409_naming_the_slo_and_still_rolls_back_when_spent(
    collector: RunningCollector,
) -> None:
    admin = collector.headers(collector.admin_key)
    read = collector.headers(collector.read_key)
    config = {"version": 1, "slos": {"shop-availability": {
        "model": "shop", "objective": 0.99, "sli": {"kind": "availability"},
        "policy": {"freeze_rollouts": True}}}}  # fmt: skip
    applied = httpx.put(f"{collector.url}/v1/config", json=config, headers=admin)
    assert applied.status_code == 200, applied.text
    for version in ("v1", "v2", "v3"):
        registered = httpx.post(
            f"{collector.url}/v1/registry/shop/versions",
            json={"version": version, "artifact_uri": f"s3://m/{version}"},
            headers=admin,
        )
        assert registered.status_code == 201, registered.text
    # Not yet evaluated: nothing is spent, the promotion goes through.
    promoted = httpx.post(
        f"{collector.url}/v1/registry/shop/promote", json={"version": "v2"}, headers=admin
    )
    assert promoted.status_code == 200, promoted.text

    n = 200
    now = time.time()
    with Client(collector.url, collector.ingest_key, batch_size=100) as client:
        for i in range(n):  # v2 fails one prediction in ten: 10x the 1% budget
            client.log_prediction(
                "shop", "v2", {"x": float(i)}, 1.0,
                error="boom" if i % 10 == 0 else None, timestamp=now - 2400 + i * 9.0,
            )  # fmt: skip
        assert client.flush(timeout=30)
    deadline = time.time() + 90
    while True:
        tick = httpx.post(f"{collector.url}/v1/evaluator/tick", headers=admin)
        assert tick.status_code == 200, tick.text
        (slo,) = httpx.get(f"{collector.url}/v1/slos", headers=read).json()["slos"]
        if slo["total"] == n or time.time() > deadline:
            break
        time.sleep(0.5)
    assert slo["total"] == n
    assert slo["error_budget_remaining"] < 0

    refused = httpx.post(
        f"{collector.url}/v1/registry/shop/promote", json={"version": "v3"}, headers=admin
    )
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["type"] == "conflict"
    assert "'shop-availability'" in error["message"]
    assert "rollbacks are still allowed" in error["message"]
    canary = httpx.put(
        f"{collector.url}/v1/registry/shop/routing",
        json={"versions": [{"version": "v2", "stage": "champion", "weight": 90},
                           {"version": "v3", "stage": "challenger", "weight": 10}]},
        headers=admin,
    )  # fmt: skip
    assert canary.status_code == 409, canary.text

    rolled = httpx.post(f"{collector.url}/v1/registry/shop/rollback", json={}, headers=admin)
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["fallback"] == "v1"
