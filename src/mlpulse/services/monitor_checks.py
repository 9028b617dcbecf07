"""What one monitor measures on one window: the checks behind the evaluator.

Each function takes the merged window profile (and what else its check needs) and
returns metric points. Series names (Prometheus style, one unit each):

=================================  ==============================================
``mlpulse_drift_score``            per column: the drift method's value
``mlpulse_drift_share``            share of columns drifted (warning 25%, critical 50%)
``mlpulse_prediction_drift``       drift of the ``score`` / ``prediction`` outputs
``mlpulse_missing_rate``           per column: share of missing values
``mlpulse_type_error_rate``        per column: share of values of the wrong type
``mlpulse_out_of_range_share``     per numeric column: share outside the reference range
``mlpulse_unseen_share``           per categorical column: share of unseen categories
``mlpulse_latency_ms``             latency quantile (label ``quantile``)
``mlpulse_throughput_per_second``  predictions per second over the window
``mlpulse_error_rate``             share of failed predictions
``mlpulse_performance``            realised performance from labels (label ``metric``)
``mlpulse_label_coverage``         share of the window's predictions with a label
``mlpulse_estimated_performance``  performance estimated from scores (CBPE)
=================================  ==============================================

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
MISSING_RISE: Final = Thresholds(warning=0.05, critical=0.2)
SHARE_OF_BAD_VALUES: Final = Thresholds(warning=0.01, critical=0.05)


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
    name: str = "mlpulse_drift_score",
) -> list[MetricPoint]:
    """Per column drift between two profiles, and the share of drifted columns."""
    columns = [c for c in (monitor.columns or list(current)) if c in current and c in reference]
    points: list[MetricPoint] = []
    drifted = judged = 0
    for column in columns:
        ref, cur = reference[column], current[column]
        if type(ref) is not type(cur):
            continue  # kind redeclared between the two windows: not comparable
        result = column_drift_from_profiles(
            ref, cur, column=column, check=_column_check(monitor, column)
        )
        points.append(
            _point(
                now,
                name,
                labels,
                result.value,
                result.status.value,
                column=column,
                method=result.method,
            )
        )
        if result.status != Status.INSUFFICIENT_DATA:
            judged += 1
            drifted += result.drifted
    if name == "mlpulse_drift_score":
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
        return [
            _point(
                now,
                "mlpulse_latency_ms",
                labels,
                value,
                graded(value, monitor, metric),
                quantile=metric,
            )
        ]
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
    scores = sketch.quantiles((np.arange(1000) + 0.5) / 1000)
    metrics = estimator.estimate(np.asarray(scores, dtype=np.float64)).metrics
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
    return points
