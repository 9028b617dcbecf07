"""A deploy slow from its very first request, through a real collector: the canary
comparison (``mlpulse_canary_change``, signal latency) catches it against the champion,
the rollback runbook (default confirmation) takes it out, and the serving router stops
sending it traffic within 10 s of its first request; the incident dates the failure
within 2 s of that request.

Two deploys, both three times slower than the champion (lognormal latency, σ = 1):
a 10 % canary beside the champion (taken out of traffic, the champion untouched), and a
full replacement by ``promote`` (rolled back to the old champion, which stays the
baseline it is compared with)."""

from __future__ import annotations

import math
import time

import httpx
import numpy as np
import pytest

from mlpulse import Client
from mlpulse.sdk.router import Router
from tests.conftest import RunningCollector
from tests.e2e.simulated_collector import CONFIG, MEDIAN_LATENCY_MS

WARM_S = 20.0  # the champion serves alone first (the comparison's reference fills up)
LIMIT_S = 30.0  # give up: the deploy was never taken out


def _deploy(admin: httpx.Client, deploy: str) -> None:
    if deploy == "canary":
        routed = admin.put("/v1/registry/recs/routing", json={"versions": [
            {"version": "v1", "stage": "champion", "weight": 90},
            {"version": "v2", "stage": "challenger", "weight": 10}]})  # fmt: skip
    else:
        routed = admin.post("/v1/registry/recs/promote", json={"version": "v2"})
    assert routed.status_code == 200, routed.text


@pytest.mark.parametrize("deploy", ["canary", "promote"])
def test_slow_deploy_is_taken_out_within_10_s_and_its_onset_recorded_within_2_s(
    collector: RunningCollector, deploy: str
) -> None:
    admin = httpx.Client(base_url=collector.url, headers=collector.headers(collector.admin_key))
    collector.register("recs", ["v1", "v2"])  # v1 champion at 100, v2 a shadow at 0
    assert admin.put("/v1/config", json=CONFIG).is_success
    rng = np.random.default_rng(41 if deploy == "canary" else 42)

    first_slow: float | None = None  # wall time of v2's first request
    first_slow_perf = removed_perf = math.nan
    with Client(collector.url, collector.ingest_key, flush_interval=0.05) as client:
        router = client.router("recs")
        started = time.perf_counter()
        deployed = False
        i = 0
        while (now := time.perf_counter()) - started < WARM_S + LIMIT_S:
            i += 1
            if not deployed and now - started >= WARM_S:
                _deploy(admin, deploy)
                deployed = True
            version = router.choose(f"user-{i}").version
            if version == "v2" and first_slow is None:
                first_slow, first_slow_perf = time.time(), now
            if first_slow is not None and version == "v1" and _v2_out(router):
                removed_perf = now
                break
            latency = float(rng.lognormal(math.log(MEDIAN_LATENCY_MS), 1.0))
            if version == "v2":
                latency *= 3.0  # slow from its first request
            client.log_prediction("recs", version, {"x": 1.0}, 1.0, latency_ms=latency)
            time.sleep(0.004)  # about 200 requests a second
        assert first_slow is not None, "v2 never served"
        assert not math.isnan(removed_perf), f"v2 still served {LIMIT_S:.0f} s after deploying"
        assert client.flush(timeout=10.0)

    removed_after = removed_perf - first_slow_perf
    (item,) = admin.get("/v1/incidents").json()["incidents"]
    incident = item["incident"]
    onset_error = incident["onset_at"] - first_slow
    print(f"{deploy}: v2 out of the router {removed_after:.2f} s after its first request; "
          f"recorded onset - true onset {onset_error:+.2f} s; time to detect "
          f"{item['times']['time_to_detect']:.2f} s")  # fmt: skip
    assert removed_after < 10.0
    assert abs(onset_error) < 2.0
    assert incident["title"] == "canary-slower (recs/v2)" and incident["onset_method"] == "detector"
    (action,) = [e for e in incident["timeline"] if e["kind"] == "action"]
    assert action["text"] == "rollback-bad-version: rollback ok", action

    table = {e["version"]: (e["stage"], e["weight"])
             for e in admin.get("/v1/routing/recs").json()["entries"]}  # fmt: skip
    assert table == {"v1": ("champion", 100)}
    kinds = [d["kind"] for d in admin.get(
        "/v1/deployments", params={"model": "recs"}).json()["deployments"]]  # fmt: skip
    # A canary is taken out and the champion never rolled back; a promoted version is.
    assert ("rollback" in kinds) == (deploy == "promote"), kinds
    admin.close()


def _v2_out(router: Router) -> bool:
    table = router.table
    return table is not None and all(e.version != "v2" or e.weight == 0 for e in table.entries)
