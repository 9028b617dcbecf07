"""Rollout end to end: a real collector, the real SDK router, outcomes logged per version.

A better challenger is promoted; a worse one is rolled back before it reaches 100%.
"""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np

from mlpulse import Client
from tests.conftest import RunningCollector

MODEL = "shop"


def _rollout(collector: RunningCollector, rates: dict[str, float]) -> dict[str, Any]:
    """Register v1 and v2, start a rollout of v2 and serve until it ends (or 40 batches)."""
    admin = httpx.Client(base_url=collector.url, headers=collector.headers(collector.admin_key))
    collector.register(MODEL, ["v1", "v2"])
    started = admin.post(
        "/v1/rollouts",
        json={
            "model": MODEL,
            "challenger": "v2",
            "primary": {"name": "purchase", "kind": "proportion", "direction": "increase"},
            "plan": {"steps": [10, 25, 50, 100], "min_units_per_step": 300,
                     "max_units_per_step": 3000},
        },
    )  # fmt: skip
    assert started.status_code == 201, started.text
    rollout: dict[str, Any] = started.json()
    assert rollout["status"] == "running" and rollout["champion"] == "v1"
    rng = np.random.default_rng(11)
    with Client(collector.url, collector.ingest_key, flush_interval=0.05) as client:
        router = client.router(MODEL)
        unit_no = 0
        for _ in range(40):
            for _ in range(600):
                unit_no += 1
                unit = f"user-{unit_no}"
                version = router.choose(unit).version
                client.log_outcome("exposure", model=MODEL, version=version, unit_id=unit)
                if rng.random() < rates[version]:
                    client.log_outcome("purchase", 1.0, model=MODEL, version=version, unit_id=unit)
            assert client.flush(timeout=10.0)
            ticked = admin.post(f"/v1/rollouts/{rollout['id']}/tick")
            assert ticked.status_code == 200, ticked.text
            rollout = ticked.json()
            if rollout["status"] != "running":
                break
    assert admin.get(f"/v1/rollouts/{rollout['id']}").json() == rollout
    admin.close()
    return rollout


def _table(collector: RunningCollector) -> dict[str, tuple[str, int]]:
    headers = collector.headers(collector.admin_key)
    table = httpx.get(f"{collector.url}/v1/routing/{MODEL}", headers=headers).json()
    return {e["version"]: (e["stage"], e["weight"]) for e in table["entries"]}


def test_rollout_promotes_a_better_challenger(collector: RunningCollector) -> None:
    rollout = _rollout(collector, {"v1": 0.10, "v2": 0.25})

    assert rollout["status"] == "promoted", rollout["timeline"]
    actions = [e["action"] for e in rollout["timeline"]]
    assert actions[0] == "start" and actions[-1] == "promote"
    assert [e["share"] for e in rollout["timeline"] if e["action"] == "advance"] == [10, 25]
    assert _table(collector) == {"v2": ("champion", 100), "v1": ("challenger", 0)}


def test_rollout_rolls_back_a_worse_challenger_before_100_percent(
    collector: RunningCollector,
) -> None:
    rollout = _rollout(collector, {"v1": 0.25, "v2": 0.05})

    assert rollout["status"] == "rolled_back", rollout["timeline"]
    last = rollout["timeline"][-1]
    assert last["action"] == "rollback" and last["share"] < 100
    assert "primary purchase harmed" in last["reason"]
    assert _table(collector) == {"v1": ("champion", 100)}  # v2 archived: not in the table
    # The rollback ran as an audited action: an incident with the reason, then the action.
    admin = httpx.Client(base_url=collector.url, headers=collector.headers(collector.admin_key))
    listed = admin.get("/v1/incidents", params={"model": MODEL})
    assert listed.status_code == 200, listed.text
    (view,) = listed.json()["incidents"]
    incident = view["incident"]
    source = f"rollout:{rollout['id']}"
    assert incident["status"] == "mitigated" and incident["severity"] == "warning"
    entries = [(e["kind"], e["text"]) for e in incident["timeline"]]
    assert entries[0] == ("status", f"incident opened by {source}")
    assert entries[1] == ("status", f"{source}: {last['reason']}")
    assert ("action", f"{source}: rollback ok") in entries
    assert any(kind == "deployment" and "champion v1" in text for kind, text in entries)
    draft = admin.get(f"/v1/incidents/{incident['id']}/postmortem")
    assert draft.status_code == 200, draft.text
    assert f"`{source}`: rollback — ok: {MODEL}: champion v1 back to 100%" in draft.text
    admin.close()
