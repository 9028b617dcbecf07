"""An SLO through a real collector: applied, counted from ingested predictions, served."""

from __future__ import annotations

import time

import httpx
import numpy as np

from mlpulse import Client
from tests.conftest import RunningCollector


def test_slo_counts_ingested_predictions_and_serves_its_budget_and_burn_rates(
    collector: RunningCollector,
) -> None:
    admin = collector.headers(collector.admin_key)
    read = collector.headers(collector.read_key)
    config = {"version": 1, "slos": {"shop-availability": {
        "model": "shop", "objective": 0.99, "sli": {"kind": "availability"}}}}  # fmt: skip
    applied = httpx.put(f"{collector.url}/v1/config", json=config, headers=admin)
    assert applied.status_code == 200, applied.text
    plan = applied.json()["plan"]
    assert "+ slo shop-availability" in plan
    assert (
        "+ rule shop-availability-burn-1h-5m (derived from slos.shop-availability.alerts)" in plan
    )

    rng = np.random.default_rng(17)
    n = 1_000
    failed = rng.random(n) < 0.03
    now = time.time()
    with Client(collector.url, collector.ingest_key, batch_size=500) as client:
        for i in range(n):  # 40 to 10 minutes ago: every minute closed and flushed
            client.log_prediction(
                "shop", "v1", {"x": float(i)}, 1.0,
                error="boom" if failed[i] else None,
                timestamp=now - 2400 + i * (1800 / n),
            )  # fmt: skip
        assert client.flush(timeout=30)
    deadline = time.time() + 90
    while True:
        tick = httpx.post(f"{collector.url}/v1/evaluator/tick", headers=admin)
        assert tick.status_code == 200, tick.text
        listed = httpx.get(f"{collector.url}/v1/slos", headers=read)
        assert listed.status_code == 200, listed.text
        (slo,) = listed.json()["slos"]
        if slo["total"] == n or time.time() > deadline:
            break
        time.sleep(0.5)
    bad = int(failed.sum())
    assert (slo["good"], slo["total"]) == (n - bad, n)
    assert slo["sli"] == (n - bad) / n
    assert abs(slo["error_budget_remaining"] - (1 - (bad / n) / 0.01)) < 1e-9
    # Every prediction is in the last hour and none in the last 5 minutes.
    assert abs(slo["burn_rates"]["1h"] - (bad / n) / 0.01) < 1e-9
    assert slo["burn_rates"]["5m"] == 0.0
    assert list(slo["versions"]) == ["v1"] and slo["versions"]["v1"]["total"] == n
    assert [(a["long"], a["short"], a["firing"]) for a in slo["alerts"]][:1] == [
        ("1h", "5m", False)
    ]
    series = httpx.get(
        f"{collector.url}/v1/metrics/query",
        params={"name": "mlpulse_slo_error_budget_remaining", "match": "slo=shop-availability"},
        headers=read,
    ).json()["series"]
    assert series and series[0]["labels"] == {"model": "shop", "slo": "shop-availability"}
