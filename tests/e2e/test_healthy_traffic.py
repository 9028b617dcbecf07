"""Healthy heavy-tailed traffic never acts: ten simulated minutes of lognormal(σ=1)
latency at 200 requests/s, a champion and a 10 % canary from the same distribution,
through the real collector on a simulated clock with the canary config's rules and
rollback runbook: no detection, no alert, no runbook action."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.simulated_collector import CONFIG, SimulatedCollector

ROUTING = {"v1": ("champion", 90), "v2": ("challenger", 10)}


@pytest.mark.parametrize("seed", [31, 32])
def test_healthy_heavy_tailed_canary_causes_no_alert_and_no_action_in_10_minutes(
    tmp_path: Path, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    with SimulatedCollector(tmp_path / "data") as sim:
        sim.admin.put("/v1/config", json=CONFIG).raise_for_status()
        sim.register("recs", list(ROUTING))
        sim.route("recs", ROUTING)
        begin = sim.now
        # Healthy errors too (0.5 % on both versions), so the error tests are exercised.
        for _ in sim.serve("recs", rng, 600.0, rate=200.0, error_rate=0.005):
            pass
        state = sim.app.state
        served = state.store.version_summaries("recs", start=begin, end=sim.now + 1)
        calls = {s.version: s.count for s in served}
        elapsed = time.perf_counter() - started
        print(f"seed {seed}: {sum(calls.values())} calls {calls} over 600 simulated s in "
              f"{elapsed:.1f} s wall; detections {state.detectors.detections}")  # fmt: skip

        assert state.detectors.detections == 0
        assert state.alerts.alerts() == []  # not even pending
        assert state.alert_store.actions(since=0.0) == []
        assert state.incidents.incidents() == [] and state.incidents.approvals() == []
        assert sim.routing("recs") == ROUTING
        assert sim.now - begin == pytest.approx(600.0)
        assert sum(calls.values()) == pytest.approx(120_000, rel=0.02)
        assert calls["v2"] == pytest.approx(0.1 * sum(calls.values()), rel=0.05)
