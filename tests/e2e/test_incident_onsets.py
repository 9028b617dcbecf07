"""An incident opened by a streaming detection (latency or scores, mid-life of a version)
dates the failure within 2 s of its true start and says how the onset was estimated:
the real collector on a simulated clock, the canary config's rules and runbook."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.simulated_collector import (
    CONFIG,
    MEDIAN_LATENCY_MS,
    Call,
    SimulatedCollector,
)

SCORE_RULE = {
    "kind": "detection", "series": "mlpulse_stream_change", "match": {"stream": "score"},
    "severity": "critical",
}  # fmt: skip
HEALTHY_S = 150.0  # v2 serves healthy this long before it changes
RATE = 200.0


def _calls(
    rng: np.random.Generator, start: float, end: float, *, slower: float, score_mean: float
) -> list[Call]:
    n = int(rng.poisson(RATE * (end - start)))
    times = np.sort(rng.uniform(start, end, n)).tolist()
    latency = (rng.lognormal(math.log(MEDIAN_LATENCY_MS), 1.0, n) * slower).tolist()
    scores = np.clip(rng.normal(score_mean, 0.15, n), 0.0, 1.0).tolist()
    return [Call("v2", t, x, score=s) for t, x, s in zip(times, latency, scores, strict=True)]


@pytest.mark.parametrize(
    ("signal", "slower", "score_mean", "alertname"),
    [("latency", 3.0, 0.3, "latency-up"), ("score", 1.0, 0.45, "score-shift")],
)
def test_incident_from_a_stream_detection_dates_its_onset_within_2_s_and_says_how(
    tmp_path: Path, signal: str, slower: float, score_mean: float, alertname: str
) -> None:
    rng = np.random.default_rng(51)
    config = {**CONFIG, "rules": {**CONFIG["rules"], "score-shift": SCORE_RULE}}
    with SimulatedCollector(tmp_path / "data") as sim:
        sim.admin.put("/v1/config", json=config).raise_for_status()
        sim.register("recs", ["v1", "v2"])
        sim.admin.post("/v1/registry/recs/promote", json={"version": "v2"}).raise_for_status()
        changed_at = sim.now + HEALTHY_S
        incidents: list[dict[str, object]] = []
        while sim.now < changed_at + 30.0 and not incidents:
            t = sim.now
            if t < changed_at:
                calls = _calls(rng, t, t + 1.0, slower=1.0, score_mean=0.3)
            else:
                calls = _calls(rng, t, t + 1.0, slower=slower, score_mean=score_mean)
            sim.step("recs", calls, t + 1.0)
            incidents = sim.admin.get("/v1/incidents").json()["incidents"]
        assert incidents, f"no incident within 30 s of the {signal} change"
        (item,) = incidents
        incident = item["incident"]
        error = incident["onset_at"] - changed_at
        print(f"{signal}: detected {incident['opened_at'] - changed_at:.1f} s after the change, "
              f"recorded onset - true onset {error:+.2f} s")  # fmt: skip
        assert incident["title"] == f"{alertname} (recs/v2)"
        assert abs(error) < 2.0
        assert incident["onset_method"] == "detector"
        draft = sim.admin.get(f"/v1/incidents/{incident['id']}/postmortem").text
        assert "Onset estimated from the streaming detector's change-point estimate." in draft
