"""Every metric series the collector writes, with its labels: what a rule can watch.

The single list of series names and label keys that checks of ``mlpulse.yaml`` read (a
rule over ``mlpulse_drift_shar`` or a ``match`` on ``percentile: "0.99"`` can never fire).
The evaluator's checks (:mod:`mlpulse.services.monitor_checks`) and the streaming
detectors (:mod:`mlpulse.services.stream_detection`) and the SLO service
(:mod:`mlpulse.services.slos`) and the probe service (:mod:`mlpulse.services.probes`)
write them; a test compares this
list with the names those modules emit, so the two cannot drift apart silently.

Each evaluator series carries ``model``, ``version`` and ``monitor``; a monitor with
``segment_by`` adds one label per segment, and traffic tagged ``mode`` or
``environment`` (shadow, canary) is also checked apart, with that label. ``values``
lists a label's values where the collector fixes them (``percentile: p99``); the others
(``model``, ``column``) are names the collector has seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from mlpulse.domain.monitoring import DRIFT_METHODS, METRICS

__all__ = [
    "EVALUATOR_LABELS",
    "NOT_SEGMENTS",
    "SERIES",
    "SIDE_BY_SIDE_LABELS",
    "SeriesLabels",
    "series_of_check",
]

EVALUATOR_LABELS: Final = ("model", "version", "monitor")
# Tags whose values the evaluator checks side by side (one series per value).
SIDE_BY_SIDE_LABELS: Final = ("mode", "environment")


@dataclass(frozen=True, slots=True)
class SeriesLabels:
    """One series: what it measures, its label keys, and the fixed values of some."""

    summary: str
    labels: tuple[str, ...]
    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Written by the evaluator for a monitor (so it has the monitor's segment labels).
    per_monitor: bool = True


def _evaluator(summary: str, *extra: str, **values: tuple[str, ...]) -> SeriesLabels:
    return SeriesLabels(summary, (*EVALUATOR_LABELS, *extra), MappingProxyType(values))


_METHODS: Final = tuple(sorted(DRIFT_METHODS))

SERIES: Final[Mapping[str, SeriesLabels]] = MappingProxyType({
    "mlpulse_drift_score": _evaluator(
        "per column: drift severity (0 none, 1 warning threshold, 2 critical)",
        "column", "method", method=_METHODS),
    "mlpulse_drift_statistic": _evaluator(
        "per column: the drift method's raw value (distance or test statistic)",
        "column", "method", method=_METHODS),
    "mlpulse_drift_p_value": _evaluator(
        "per column: the drift test's p-value (p-value methods only)",
        "column", "method", method=_METHODS),
    "mlpulse_drift_share": _evaluator("share of columns drifted"),
    "mlpulse_prediction_drift": _evaluator(
        "drift severity of the score / prediction outputs", "column", "method",
        column=("score", "prediction"), method=_METHODS),
    "mlpulse_prediction_drift_statistic": _evaluator(
        "the raw drift value of the score / prediction outputs", "column", "method",
        column=("score", "prediction"), method=_METHODS),
    "mlpulse_prediction_drift_p_value": _evaluator(
        "the drift test's p-value of the score / prediction outputs", "column", "method",
        column=("score", "prediction"), method=_METHODS),
    "mlpulse_missing_rate": _evaluator("per column: share of missing values", "column"),
    "mlpulse_type_error_rate": _evaluator(
        "per column: share of values of the wrong type", "column"),
    "mlpulse_out_of_range_share": _evaluator(
        "per numeric column: share outside the reference range", "column"),
    "mlpulse_unseen_share": _evaluator(
        "per categorical column: share of unseen categories", "column"),
    "mlpulse_latency_seconds": _evaluator(
        "latency percentile, seconds", "percentile", percentile=METRICS["latency"]),
    "mlpulse_throughput_per_second": _evaluator("predictions per second over the window"),
    "mlpulse_error_rate": _evaluator("share of failed predictions"),
    "mlpulse_performance": _evaluator(
        "realised performance from labels", "metric", "window", metric=METRICS["performance"]
    ),
    "mlpulse_label_coverage": _evaluator(
        "share of the window's predictions with a label", "window"
    ),
    "mlpulse_estimated_performance": _evaluator(
        "performance estimated from scores (CBPE)", "metric",
        metric=METRICS["estimated_performance"]),
    "mlpulse_estimated_performance_lower": _evaluator(
        "lower end of the 95% interval around the CBPE estimate", "metric",
        metric=METRICS["estimated_performance"]),
    "mlpulse_estimated_performance_upper": _evaluator(
        "upper end of the 95% interval around the CBPE estimate", "metric",
        metric=METRICS["estimated_performance"]),
    "mlpulse_stream_change": SeriesLabels(
        "a streaming detector fired (seconds since the onset)",
        ("model", "version", "stream", "detector"),
        MappingProxyType({"stream": ("error_rate", "latency_ms", "score"),
                          "detector": ("adwin", "exceedance_cusum")}),
        per_monitor=False),
    "mlpulse_canary_change": SeriesLabels(
        "a version differs from the baseline version (seconds since the onset)",
        ("model", "version", "signal", "baseline"),
        MappingProxyType({"signal": ("errors", "latency", "score")}),
        per_monitor=False),
    # Written by the SLO service (mlpulse.services.slos) for each SLO of mlpulse.yaml.
    # Without ``version``: the SLO's; with it, one version's (an SLO of every version).
    "mlpulse_slo_sli": SeriesLabels(
        "an SLO's share of good events over its period so far", ("model", "slo", "version"),
        per_monitor=False),
    "mlpulse_slo_error_budget_remaining": SeriesLabels(
        "share of an SLO's error budget left in its period (below 0 when overspent)",
        ("model", "slo", "version"), per_monitor=False),
    "mlpulse_slo_burn_rate": SeriesLabels(
        "an SLO's burn rate over the last window (1 spends the budget in one period)",
        ("model", "slo", "version", "window"), per_monitor=False),
    "mlpulse_slo_alert_burn_rate": SeriesLabels(
        "the smaller burn rate of a burn-rate alert's two windows (what its rule compares)",
        ("model", "slo", "long", "short"), per_monitor=False),
    # Written by the probe service (mlpulse.services.probes) for each probe of mlpulse.yaml;
    # ``model`` only when the probe names one.
    "mlpulse_probe_success": SeriesLabels(
        "a synthetic probe's run: 1 when its answer was as expected, else 0",
        ("probe", "model"), per_monitor=False),
    "mlpulse_probe_latency_seconds": SeriesLabels(
        "a synthetic probe's seconds to the answer (its timeout when none came)",
        ("probe", "model"), per_monitor=False),
    "mlpulse_probe_status_code": SeriesLabels(
        "a synthetic probe's HTTP status (0 when no answer came)",
        ("probe", "model"), per_monitor=False),
})  # fmt: skip

# The series a monitor's thresholds grade, by check (quality writes four, graded by
# thresholds of its own, so it has none here).
_GRADED: Final[Mapping[str, str]] = MappingProxyType({
    "drift": "mlpulse_drift_score",
    "prediction_drift": "mlpulse_prediction_drift",
    "latency": "mlpulse_latency_seconds",
    "throughput": "mlpulse_throughput_per_second",
    "errors": "mlpulse_error_rate",
    "performance": "mlpulse_performance",
    "estimated_performance": "mlpulse_estimated_performance",
})  # fmt: skip


def series_of_check(check: str) -> str | None:
    """The series whose points a ``check`` monitor's warning and critical grade.

    >>> series_of_check("latency"), series_of_check("quality")
    ('mlpulse_latency_seconds', None)
    """
    return _GRADED.get(check)


NOT_SEGMENTS: Final = frozenset(
    label for spec in SERIES.values() for label in spec.labels if label not in SIDE_BY_SIDE_LABELS
)
"""The labels the collector itself puts on its series (``model``, ``column``,
``percentile``, ``baseline``, ...): every other label of a point is a segment tag."""
