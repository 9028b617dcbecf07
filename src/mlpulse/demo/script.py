"""The demo's day: when things happen, and the monitoring configuration that catches them.

Times are seconds after the simulated midnight. The configuration is what a team would
put in ``mlpulse.yaml``: a faster drift monitor than the default (the demo's day is
short), three rules and a runbook, an on-call webhook for every alert, and an
availability SLO whose error budget the 12:00 bad deploy burns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HOUR = 3600.0

# 2026-01-05 00:00 UTC, a Monday: the simulated day (fixed, so runs are repeatable).
DAY_START = 1_767_571_200.0
REFERENCE_END = 6 * HOUR  # 00:00-06:00 is pinned as the recs reference at 06:00
DRIFT_AT = 9 * HOUR  # item_price arrives in cents' worth of another currency (x1.6)
DRIFT_FIXED_AT = 10.5 * HOUR
DEPLOY_AT = 12 * HOUR  # recs v2 is promoted and fails
EXPERIMENT_AT = 14 * HOUR  # A/B test: v1 (control) against v3
FRAUD_SHIFT_AT = 20 * HOUR  # fraud: velocity_1h arrives per minute, scores jump
DAY_END = 24 * HOUR

EXPERIMENT = "recs-ranker-v3"
SLO = "recs-availability"
SLO_OBJECTIVE = 0.99
# The budget after the deploy is read ten minutes on: the SLO counts whole minutes whose
# profiles are complete.
SLO_AFTER_DEPLOY = 600.0
FINE_STEP = 0.25  # seconds of traffic per lock step around the fast failures
COARSE_STEP = 60.0


@dataclass(frozen=True)
class Scene:
    """A stretch of the day run in fine steps (and at full traffic in fast mode)."""

    start: float
    end: float


SCENES = (
    Scene(DEPLOY_AT - 5.0, DEPLOY_AT + 30.0),
    Scene(FRAUD_SHIFT_AT - 5.0, FRAUD_SHIFT_AT + 15.0),
)


def in_scene(t: float) -> bool:
    return any(scene.start <= t < scene.end for scene in SCENES)


def boundaries() -> list[float]:
    """Times a step must stop at (script events and scene edges)."""
    marks = {REFERENCE_END, DRIFT_AT, DRIFT_FIXED_AT, DEPLOY_AT, EXPERIMENT_AT, FRAUD_SHIFT_AT}
    for scene in SCENES:
        marks.update((scene.start, scene.end))
    return sorted(marks)


def experiment_spec() -> dict[str, Any]:
    return {
        "name": EXPERIMENT,
        "model": "recs",
        "variants": {"control": "v1", "treatment": "v3"},
        "allocation": {"control": 50, "treatment": 50},
        "control": "control",
        "unit": "user",
        "primary": {"name": "click", "kind": "proportion", "direction": "increase"},
        "secondary": [{"name": "purchase", "kind": "mean", "direction": "increase"}],
        "method": "sequential",
        "exposure": "exposure",
        "description": "Does the v3 ranker get more users to click? Sequential, so it "
        "may be read every few minutes and stopped as soon as it is decided.",
    }


def monitoring_config(webhook_url: str) -> dict[str, Any]:
    """The demo's mlpulse.yaml, as a mapping."""
    return {
        "version": 1,
        # Clicks are the recs model's labels (logged for a sample, ten minutes late).
        "models": {"recs": {"task": "binary_classification"}},
        "monitors": {
            # The default drift monitor looks at a day, hourly; a short day needs faster.
            # PSI is an effect size: its noise does not grow with the traffic, so a
            # thinned day (fast mode) and a full one flag the same columns.
            "recs-drift": {"model": "recs", "check": "drift", "window": "30m", "every": "5m",
                           "method": "psi", "warning": 0.1, "critical": 0.25},
            "fraud-drift": {"model": "fraud", "check": "drift", "window": "30m", "every": "5m",
                            "method": "psi", "warning": 0.1, "critical": 0.25},
            "recs-performance": {"model": "recs", "check": "performance", "metric": "roc_auc",
                                 "window": "1h", "every": "15m"},
            "recs-estimated-performance": {"model": "recs", "check": "estimated_performance",
                                           "metric": "roc_auc", "window": "1h", "every": "15m"},
        },
        "rules": {
            "feature-drift": {
                "kind": "threshold", "series": "mlpulse_drift_share", "match": {"model": "recs"},
                "op": ">", "value": 0.1, "severity": "warning", "keep_firing_for": "10m",
                "annotations": {"summary": "{{ $labels.model }}: a share {{ $value }} of the "
                                           "features drifted from the reference"},
            },
            "errors-up": {
                "kind": "detection", "series": "mlpulse_stream_change",
                "match": {"stream": "error_rate"}, "severity": "critical",
                "annotations": {"summary": "{{ $labels.model }}/{{ $labels.version }}: the "
                                           "error rate jumped"},
            },
            "fraud-score-shift": {
                "kind": "detection", "series": "mlpulse_stream_change",
                "match": {"model": "fraud", "stream": "score"}, "severity": "critical",
                "annotations": {"summary": "fraud/{{ $labels.version }}: the score "
                                           "distribution changed"},
            },
        },
        # v1 fails 0.2% of calls: a fifth of a 99% SLO's budget. ``page: false``: the
        # errors-up detection pages for the bad deploy; the SLO shows what it cost.
        "slos": {SLO: {"model": "recs", "objective": SLO_OBJECTIVE, "period": "30d",
                       "sli": {"kind": "availability"}, "page": False}},
        "receivers": {"oncall": {"kind": "webhook", "settings": {"url": webhook_url}}},
        "route": {"receiver": "oncall", "group_by": ["alertname", "model"], "group_wait": "0s"},
        "runbooks": {
            "rollback-on-errors": {
                "match": {"alertname": "errors-up"}, "actions": [{"kind": "rollback"}],
                "cooldown": "30m",
            }
        },
    }  # fmt: skip
