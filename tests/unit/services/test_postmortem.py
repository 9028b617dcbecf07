"""Post-mortem drafts: hints rank causes, never the mitigation; regressions are named."""

from __future__ import annotations

from mlpulse.domain.incidents import Incident
from mlpulse.domain.models import LatencyPercentiles, VersionSummary
from mlpulse.domain.registry import Deployment
from mlpulse.services.postmortem import postmortem, regression_hints

T0 = 1_767_225_600.0
INCIDENT = Incident(
    id="i1", title="latency (recs/v2)", model="recs", severity="critical", status="mitigated",
    onset_at=T0, opened_at=T0 + 2, updated_at=T0 + 3, mitigated_at=T0 + 3,
    onset_method="crossing",
)  # fmt: skip


def _traffic(version: str, count: int, p95: float, error_rate: float = 0.0) -> VersionSummary:
    errors = round(count * error_rate)
    latency = LatencyPercentiles(p95 / 3, p95, p95 * 2)
    return VersionSummary(version, count, errors, 10.0, error_rate, latency)


def _hints(text: str) -> list[str]:
    section = text.split("## Root-cause hints\n\n", 1)[1].split("\n\n", 1)[0]
    return section.splitlines()


def test_postmortem_never_ranks_the_runbooks_own_rollback_as_a_cause() -> None:
    deployments = [
        Deployment("recs", "v2", T0 - 600, "promote", {}, "ci"),
        Deployment("recs", "v1", T0 + 2.9, "rollback", {}, "runbook"),
        Deployment("recs", "v1", T0 + 2.9, "stage", {}, "rollout:r1"),
    ]
    text = postmortem(INCIDENT, deployments=deployments)

    assert _hints(text) == ["1. Deployment 10.0 min before the onset: promote recs v2 by ci"]


def test_postmortem_names_a_latency_regression_and_its_impact_to_the_mitigation() -> None:
    during = [_traffic("v2", 600, 450.0), _traffic("v1", 5400, 150.0)]
    before = [_traffic("v2", 6000, 150.0)]
    text = postmortem(INCIDENT, traffic=during, before=before)

    assert _hints(text) == [
        "1. Latency regression on `v2`: p95 450 ms vs 150 ms before the onset (3.0×)"
    ]
    assert "- 6,000 predictions from the onset to the mitigation, 0 failed (0.0%)." in text
    assert "Onset estimated from where the series crossed the rule's threshold." in text


def test_regression_hints_compare_a_new_version_with_the_others_meanwhile() -> None:
    during = [_traffic("v3", 200, 100.0, error_rate=0.3), _traffic("v1", 1800, 100.0, 0.01)]

    assert regression_hints(during, before=[]) == [
        "Errors up on `v3`: 30.0% vs 1.0% on `v1` meanwhile"
    ]


def test_regression_hints_ignore_a_version_that_got_faster_or_has_too_little_traffic() -> None:
    before = [_traffic("v2", 5000, 300.0), _traffic("v3", 5000, 10.0)]
    during = [_traffic("v2", 500, 100.0), _traffic("v3", 5, 900.0)]

    assert regression_hints(during, before) == []
