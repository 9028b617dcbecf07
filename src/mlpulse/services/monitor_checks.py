"""What one monitor measures on one window: the checks behind the evaluator.

Each function takes the merged window profile (and what else its check needs) and
returns metric points. Series names (Prometheus style, base units), each with its HELP
on ``/metrics`` (:data:`SERIES_HELP` reads this list):

``mlpulse_drift_score``
    Drift severity per column, higher = more drift: 0 none, 1 at warning, 2 at critical threshold.
``mlpulse_drift_statistic``
    Raw value of the column's drift method: the distance, or a p-value test's statistic.
``mlpulse_drift_p_value``
    P-value of the column's drift test (p-value methods only; lower = more drift).
``mlpulse_drift_share``
    Share of columns drifted (warning at 25%, critical at 50%).
``mlpulse_prediction_drift``
    Drift severity of the score / prediction outputs, on the scale of mlpulse_drift_score.
``mlpulse_prediction_drift_statistic``
    Raw value of the output's drift method: the distance, or the test statistic.
``mlpulse_prediction_drift_p_value``
    P-value of the output's drift test (p-value methods only).
``mlpulse_missing_rate``
    Share of missing values per column.
``mlpulse_type_error_rate``
    Share of values of the wrong type per numeric column.
``mlpulse_out_of_range_share``
    Share of values outside the reference range per numeric column.
``mlpulse_unseen_share``
    Share of categories the reference never had per categorical column.
``mlpulse_latency_seconds``
    Prediction latency percentile over the window (label percentile: p50, p95, p99).
``mlpulse_throughput_per_second``
    Predictions per second over the window.
``mlpulse_error_rate``
    Share of failed predictions over the window.
``mlpulse_performance``
    Realised performance from labels per tumbling window (label metric).
``mlpulse_label_coverage``
    Share of the window's predictions that have a label.
``mlpulse_estimated_performance``
    Performance estimated from scores before labels arrive (CBPE, label metric).
``mlpulse_estimated_performance_lower``
    Lower end of the 95% interval of the realised metric around the CBPE estimate.
``mlpulse_estimated_performance_upper``
    Upper end of the 95% interval of the realised metric around the CBPE estimate.

A point's ``status`` is the check's verdict when the monitor has thresholds, else None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import numpy as np

from mlpulse.core.drift.check import DEFAULT_SHARE, ColumnCheck, Status, drift_status
from mlpulse.core.drift.methods import CATEGORICAL, NUMERIC, Thresholds
from mlpulse.core.drift.profiled import column_drift_from_profiles
from mlpulse.core.drift.severity import severity
from mlpulse.core.performance import (
    CBPE,
    classification_performance,
    ranking_performance,
    regression_performance,
)
from mlpulse.core.profiles.categorical import CategoricalProfile
from mlpulse.core.profiles.numeric import NumericProfile
from mlpulse.core.profiles.profile import Profile
from mlpulse.core.profiles.window import WindowProfile
from mlpulse.domain.monitoring import MonitorConfig, default_direction
from mlpulse.domain.series import LabelledRows, MetricPoint

# Names in mlpulse.yaml → keys of the performance core's results.
_METRIC_KEYS: Final = {
    "brier": "brier_score",
    "calibration_error": "ece",
    "hit_rate": "hit_rate_at_k",
}
_METRIC_NAMES: Final = {key: name for name, key in _METRIC_KEYS.items()}
_PSEUDO_ROWS: Final = 1000
# ROC AUC's standard error: label draws over the pseudo-sample (about 1 ms each).
_AUC_DRAWS: Final = 50
_Z95: Final = 1.959963984540054
MISSING_RISE: Final = Thresholds(warning=0.05, critical=0.2)
SHARE_OF_BAD_VALUES: Final = Thresholds(warning=0.01, critical=0.05)
DRIFT_SCORE: Final = "mlpulse_drift_score"
PREDICTION_DRIFT: Final = "mlpulse_prediction_drift"
LATENCY: Final = "mlpulse_latency_seconds"
_DOC_LINES: Final = (__doc__ or "").splitlines()
SERIES_HELP: Final[dict[str, str]] = {
    line.strip("`"): _DOC_LINES[i + 1].strip()
    for i, line in enumerate(_DOC_LINES)
    if line.startswith("``mlpulse_")
}
"""Series name → its one-line description (the module docstring's table)."""
# Severity series → its raw companions (statistic, p-value).
RAW_SERIES: Final = {
    DRIFT_SCORE: ("mlpulse_drift_statistic", "mlpulse_drift_p_value"),
    PREDICTION_DRIFT: ("mlpulse_prediction_drift_statistic", "mlpulse_prediction_drift_p_value"),
}


def graded(value: float, monitor: MonitorConfig, metric: str) -> str | None:
    """The status of ``value`` against the monitor's thresholds (None without any)."""
    if monitor.warning is None and monitor.critical is None:
        return None
    if math.isnan(value):
        return Status.INSUFFICIENT_DATA.value
    below = (monitor.direction or default_direction(metric)) == "below"

    def bad(threshold: float | None) -> bool:
        return threshold is not None and (value < threshold if below else value > threshold)

    if bad(monitor.critical):
        return Status.CRITICAL.value
    if bad(monitor.warning):
        return Status.WARNING.value
    return Status.OK.value


def _point(
    now: float, name: str, labels: Mapping[str, str], value: float, status: str | None, **extra: str
) -> MetricPoint:
    return MetricPoint(ts=now, name=name, labels={**labels, **extra}, value=value, status=status)


def _column_check(monitor: MonitorConfig, column: str) -> ColumnCheck | None:
    """The column's method and thresholds: its own, else the monitor's.

    With only one of warning and critical set, the other is the method's default, so
    the one set is honoured (validation refused a pair out of order that way).
    """
    own = monitor.columns_config.get(column)
    method = (own.method if own else None) or monitor.method
    warning = own.warning if own and own.warning is not None else monitor.warning
    critical = own.critical if own and own.critical is not None else monitor.critical
    if method is None and warning is None:
        return None
    thresholds = None
    default = NUMERIC.get(method or "") or CATEGORICAL.get(method or "")
    if warning is not None and critical is not None:
        thresholds = Thresholds(warning=warning, critical=critical)
    elif default is not None and (warning is not None or critical is not None):
        thresholds = Thresholds(
            warning=default.thresholds.warning if warning is None else warning,
            critical=default.thresholds.critical if critical is None else critical,
        )
    return ColumnCheck(method=method, thresholds=thresholds)


def drift_points(
    now: float,
    labels: Mapping[str, str],
    monitor: MonitorConfig,
    reference: Profile,
    current: Profile,
    *,
    name: str = DRIFT_SCORE,
) -> list[MetricPoint]:
    """Per column drift between two profiles, and the share of drifted columns.

    ``name`` (the severity, graded) comes with ``<stem>_statistic`` and, for p-value
    methods, ``<stem>_p_value`` (see :data:`RAW_SERIES`), ungraded.
    """
    columns = [c for c in (monitor.columns or list(current)) if c in current and c in reference]
    statistic_name, p_value_name = RAW_SERIES[name]
    points: list[MetricPoint] = []
    drifted = judged = 0
    for column in columns:
        ref, cur = reference[column], current[column]
        if type(ref) is not type(cur):
            continue  # kind redeclared between the two windows: not comparable
        result = column_drift_from_profiles(
            ref, cur, column=column, check=_column_check(monitor, column)
        )
        extra = {"column": column, "method": result.method}
        level = severity(
            result.value,
            warning=result.thresholds.warning,
            critical=result.thresholds.critical,
            p_value=result.p_value,
        )
        points.append(_point(now, name, labels, level, result.status.value, **extra))
        if result.p_value:
            raw = float(result.details.get("statistic", math.nan))
            points.append(_point(now, statistic_name, labels, raw, None, **extra))
            points.append(_point(now, p_value_name, labels, result.value, None, **extra))
        else:
            points.append(_point(now, statistic_name, labels, result.value, None, **extra))
        if result.status != Status.INSUFFICIENT_DATA:
            judged += 1
            drifted += result.drifted
    if name == DRIFT_SCORE:
        share = drifted / judged if judged else math.nan
        status = drift_status(share, DEFAULT_SHARE, p_value=False)
        points.append(_point(now, "mlpulse_drift_share", labels, share, status.value))
    return points


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def _rise_status(value: float, thresholds: Thresholds) -> str:
    return drift_status(value, thresholds, p_value=False).value


def quality_points(
    now: float,
    labels: Mapping[str, str],
    monitor: MonitorConfig,
    reference: Profile | None,
    current: Profile,
) -> list[MetricPoint]:
    """Missing and mistyped values, and values the reference never had."""
    points: list[MetricPoint] = []
    for column in monitor.columns or list(current):
        if column not in current:
            continue
        cur = current[column]
        ref = reference.get(column) if reference is not None else None
        missing = _share(cur.missing, cur.count)
        ref_missing = _share(ref.missing, ref.count) if ref is not None else 0.0
        rise = missing - (0.0 if math.isnan(ref_missing) else ref_missing)
        points.append(
            _point(
                now,
                "mlpulse_missing_rate",
                labels,
                missing,
                _rise_status(rise, MISSING_RISE),
                column=column,
            )
        )
        if isinstance(cur, NumericProfile):
            bad = _share(cur.type_errors, cur.count)
            points.append(
                _point(
                    now,
                    "mlpulse_type_error_rate",
                    labels,
                    bad,
                    _rise_status(bad, SHARE_OF_BAD_VALUES),
                    column=column,
                )
            )
            if isinstance(ref, NumericProfile) and ref.finite_count and cur.finite_count:
                below = float(cur.cdf([ref.min])[0]) if cur.min < ref.min else 0.0
                above = 1.0 - float(cur.cdf([ref.max])[0]) if cur.max > ref.max else 0.0
                outside = max(below, 0.0) + max(above, 0.0)
                points.append(
                    _point(
                        now,
                        "mlpulse_out_of_range_share",
                        labels,
                        outside,
                        _rise_status(outside, SHARE_OF_BAD_VALUES),
                        column=column,
                    )
                )
        elif isinstance(cur, CategoricalProfile) and isinstance(ref, CategoricalProfile):
            known = ref.counts()
            counts = cur.counts()
            seen = sum(counts.values())
            unseen = sum(n for value, n in counts.items() if value not in known)
            share = _share(unseen, seen)
            points.append(
                _point(
                    now,
                    "mlpulse_unseen_share",
                    labels,
                    share,
                    _rise_status(share, SHARE_OF_BAD_VALUES),
                    column=column,
                )
            )
    return points


def traffic_points(
    now: float,
    labels: Mapping[str, str],
    monitor: MonitorConfig,
    current: WindowProfile,
    window_s: float,
) -> list[MetricPoint]:
    """Latency quantile, throughput or error rate of a window."""
    if monitor.check == "latency":
        metric = monitor.metric or "p99"
        q = float(metric[1:]) / 100
        value = (
            float(current.latency.quantiles([q])[0]) if current.latency.finite_count else math.nan
        )
        # Thresholds in mlpulse.yaml stay in milliseconds (what serving code reports);
        # the series is in seconds, the base unit Prometheus expects.
        status = graded(value, monitor, metric)
        return [_point(now, LATENCY, labels, value / 1000.0, status, percentile=metric)]
    if monitor.check == "throughput":
        value = current.requests / window_s
        return [
            _point(
                now,
                "mlpulse_throughput_per_second",
                labels,
                value,
                graded(value, monitor, "per_second"),
            )
        ]
    value = _share(current.errors, current.requests)
    return [_point(now, "mlpulse_error_rate", labels, value, graded(value, monitor, "rate"))]


def _metric_value(metrics: Mapping[str, float | None], metric: str) -> float:
    value = metrics.get(_METRIC_KEYS.get(metric, metric))
    return math.nan if value is None else float(value)


def performance_points(
    ts: float,
    labels: Mapping[str, str],
    monitor: MonitorConfig,
    rows: LabelledRows,
    *,
    task: str,
    positive_class: str,
) -> list[MetricPoint]:
    """Realised performance of the labelled predictions, and the label coverage."""
    if rows.total == 0:
        return []  # no predictions in the window: nothing to report
    coverage = _share(len(rows), rows.total)
    points = [_point(ts, "mlpulse_label_coverage", labels, coverage, None)]
    metrics = _realised(rows, task=task, positive_class=positive_class, k=monitor.k or 10)
    wanted = (
        [monitor.metric] if monitor.metric else sorted(_METRIC_NAMES.get(m, m) for m in metrics)
    )
    for metric in wanted:
        value = _metric_value(metrics, metric)
        points.append(
            _point(
                ts,
                "mlpulse_performance",
                labels,
                value,
                graded(value, monitor, metric),
                metric=metric,
            )
        )
    return points


def _realised(
    rows: LabelledRows, *, task: str, positive_class: str, k: int
) -> Mapping[str, float | None]:
    if len(rows) == 0:
        return {}
    if task == "regression":
        return regression_performance(
            np.asarray(rows.label, dtype=np.float64), np.asarray(rows.prediction, dtype=np.float64)
        ).metrics
    if task == "ranking":
        relevant = [set(v) if isinstance(v, list) else {v} for v in rows.label]
        return ranking_performance(rows.prediction, relevant, k=k).metrics
    if task == "multiclass_classification":
        truth, predicted = labels_as_text(rows.label), labels_as_text(rows.prediction)
        return classification_performance(
            truth, predicted, classes=sorted({*truth, *predicted})
        ).metrics
    scores = None
    if all(s is not None for s in rows.score):
        scores = np.asarray(rows.score, dtype=np.float64)
    return classification_performance(
        labels_as_text(rows.label),
        labels_as_text(rows.prediction),
        scores,
        positive_label=positive_class,
    ).metrics


def labels_as_text(values: list[Any]) -> list[str]:
    """Class labels as text, so 1, 1.0, True and "1" name the same class."""
    out = []
    for value in values:
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        out.append(str(value))
    return out


def estimated_points(
    now: float,
    labels: Mapping[str, str],
    monitor: MonitorConfig,
    current: WindowProfile,
    estimator: CBPE,
) -> list[MetricPoint]:
    """Performance estimated from the window's scores (CBPE), before labels arrive.

    The scores are read from the window's KLL sketch at 1,000 evenly spaced ranks: every
    CBPE metric is a mean of a function of the score, so that pseudo-sample gives it to
    within the sketch's rank error, at any traffic.
    """
    if "score" not in current.outputs:
        return []
    sketch = current.outputs["score"]
    if not isinstance(sketch, NumericProfile) or sketch.finite_count < 10:
        return []
    scores = sketch.quantiles((np.arange(_PSEUDO_ROWS) + 0.5) / _PSEUDO_ROWS)
    result = estimator.estimate(np.asarray(scores, dtype=np.float64), draws=_AUC_DRAWS)
    metrics = result.metrics
    # The standard errors are those of the pseudo-sample's 1,000 rows; the window's own
    # sampling noise scales as 1 / sqrt(rows) (every metric is a mean, or a ratio of
    # means, of per-row terms).
    scale = math.sqrt(_PSEUDO_ROWS / sketch.finite_count)
    wanted = (
        [monitor.metric] if monitor.metric else sorted(_METRIC_NAMES.get(m, m) for m in metrics)
    )
    points = []
    for metric in wanted:
        value = _metric_value(metrics, metric)
        points.append(
            _point(
                now,
                "mlpulse_estimated_performance",
                labels,
                value,
                graded(value, monitor, metric),
                metric=metric,
            )
        )
        error = result.standard_errors.get(_METRIC_KEYS.get(metric, metric))
        if error is None or math.isnan(value):
            continue
        low = max(0.0, value - _Z95 * error * scale)
        high = min(1.0, value + _Z95 * error * scale)
        for name, bound in (("lower", low), ("upper", high)):
            points.append(
                _point(now, f"mlpulse_estimated_performance_{name}", labels, bound, None,
                       metric=metric)
            )  # fmt: skip
    return points
