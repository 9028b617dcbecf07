"""Before and after a deployment: which windows are measured, and what they hold."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from mlpulse.domain.models import LatencyPercentiles, VersionSummary
from mlpulse.domain.registry import Deployment, DeploymentKind
from mlpulse.services.deployment_impact import combined, impacts, traffic_moves


def _deployment(at: float, kind: DeploymentKind, version: str, routing: str) -> Deployment:
    return Deployment("recs", version, at, kind, {"routing": routing, "champion": ""}, "test")


# v1 serves alone; v2 is registered as a shadow (no traffic moves), promoted at 1000 (it
# fails), rolled back at 1010; v3 registered at 5000, again without moving traffic.
HISTORY = [
    _deployment(0.0, "register", "v1", "v1=champion:100"),
    _deployment(500.0, "register", "v2", "v1=champion:100,v2=shadow:0"),
    _deployment(1000.0, "promote", "v2", "v1=challenger:0,v2=champion:100"),
    _deployment(1010.0, "rollback", "v1", "v1=champion:100"),
    _deployment(5000.0, "register", "v3", "v1=champion:100,v3=shadow:0"),
]


@dataclass
class Traffic:
    """v2 fails half its calls at 40 ms; v1 fails none at 10 ms; 2 calls a second."""

    asked: list[tuple[float, float]] = field(default_factory=list)

    def version_summaries(self, model: str, *, start: float, end: float) -> list[VersionSummary]:
        self.asked.append((start, end))
        found = []
        for version, since, until, errors, p99 in (
            ("v1", 0.0, 1000.0, 0.0, 10.0), ("v2", 1000.0, 1010.0, 0.5, 40.0),
            ("v1", 1010.0, 1e9, 0.0, 10.0),
        ):  # fmt: skip
            overlap = max(0.0, min(end, until) - max(start, since))
            if overlap:
                count = int(2 * overlap)
                found.append(
                    VersionSummary(version, count, int(count * errors), count / (end - start),
                                   errors, LatencyPercentiles(p99 / 2, p99, p99))
                )  # fmt: skip
        return found


def test_only_deployments_that_change_serving_versions_or_weights_move_traffic() -> None:
    assert [d.at for d in traffic_moves(HISTORY)] == [0.0, 1000.0, 1010.0]


def test_windows_stop_at_the_neighbouring_traffic_moves_and_at_now() -> None:
    traffic = Traffic()
    promote, rollback, register_v3 = HISTORY[2], HISTORY[3], HISTORY[4]
    found = impacts(traffic, "recs", HISTORY, [promote, rollback, register_v3], now=5100.0,
                    span=1800.0)  # fmt: skip
    # The promotion: from the first deployment (v1 alone) to the rollback 10 s later.
    assert (found[0].before.start, found[0].before.end) == (0.0, 1000.0)
    assert (found[0].after.start, found[0].after.end) == (1000.0, 1010.0)  # type: ignore[union-attr]
    # The rollback: its "before" holds only the failing 10 s, its "after" 30 minutes.
    before, after = found[1].before, found[1].after
    assert before is not None and after is not None
    assert (before.start, before.end, after.start, after.end) == (1000.0, 1010.0, 1010.0, 2810.0)
    assert before.error_rate == 0.5 and after.error_rate == 0.0
    assert (before.worst_p99_ms, after.worst_p99_ms) == (40.0, 10.0)
    assert before.predictions == 20 and after.throughput_per_s == pytest.approx(2.0)
    # Registering a shadow moves nothing: its windows run the full span, cut only by now.
    before, after = found[2].before, found[2].after
    assert before is not None and after is not None
    assert (before.start, after.end) == (3200.0, 5100.0)


def test_after_is_not_measured_until_a_second_has_passed() -> None:
    rollback = HISTORY[3]
    (found,) = impacts(Traffic(), "recs", HISTORY, [rollback], now=rollback.at + 0.5)
    assert found.before is not None and found.after is None


def test_the_first_deployment_has_an_empty_before_window_of_the_full_span() -> None:
    (found,) = impacts(Traffic(), "recs", HISTORY, HISTORY[:1], now=100.0, span=600.0)
    assert found.before is not None and found.after is not None
    assert (found.before.start, found.before.predictions, found.before.error_rate) == (
        -600.0,
        0,
        None,
    )
    assert (found.after.end, found.after.predictions) == (100.0, 200)


def test_a_window_without_traffic_has_no_error_rate_nor_latency() -> None:
    window = combined([], 0.0, 60.0)
    assert (window.predictions, window.throughput_per_s) == (0, 0.0)
    assert window.error_rate is None and window.worst_p99_ms is None
