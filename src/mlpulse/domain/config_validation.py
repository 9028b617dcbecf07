"""What only makes sense in combination, checked over a whole monitors-as-code document.

Types are checked when decoding (:mod:`mlpulse.domain.config_decode`); here a metric that
belongs to another check, thresholds in the wrong order for their direction, a field that
the check ignores, or a reference that is both a file and a window. :func:`validate`
reports every problem, each with its dotted path, in document order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Final

from mlpulse.domain.monitoring import (
    APPLIES_TO,
    AT_K_METRICS,
    CATEGORICAL_METHODS,
    DEFAULT_METRIC,
    DRIFT_METHODS,
    DRIFT_THRESHOLDS,
    METRICS,
    METRICS_BY_TASK,
    NUMERIC_METHODS,
    P_VALUE_METHODS,
    RANKING_METRICS,
    ColumnConfig,
    Config,
    Direction,
    ModelConfig,
    MonitorConfig,
    default_direction,
    drift_direction,
)
from mlpulse.domain.paging_rules import paging_problems
from mlpulse.domain.probes import probe_problems
from mlpulse.domain.rules_validation import alerting_problems
from mlpulse.domain.slos import slo_problems
from mlpulse.domain.window import parse_duration
from mlpulse.errors import ConfigProblem, InvalidInputError

__all__ = ["validate"]

_INF: Final = math.inf
# Where a metric's values can lie, so a threshold outside can never be crossed.
_BOUNDS: Final[dict[str, tuple[float, float]]] = {
    **dict.fromkeys(
        ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "brier",
         "calibration_error", "rate", *RANKING_METRICS),
        (0.0, 1.0),
    ),
    "r2": (-_INF, 1.0),
}  # fmt: skip
_REFERENCE_SUFFIXES: Final = (".csv", ".parquet")
_OPTIONAL: Final = ("compare_to", "columns", "method", "columns_config", "metric", "warning",
                    "critical", "direction", "k")  # fmt: skip
_OPPOSITE: Final[dict[str, str]] = {"below": "above", "above": "below"}
_BOTH_KINDS: Final = ", ".join(sorted(NUMERIC_METHODS & CATEGORICAL_METHODS))


def validate(config: Config) -> list[ConfigProblem]:
    """Every combination in ``config`` that cannot work, in document order.

    >>> config = Config(version=1, monitors={
    ...     "lat": MonitorConfig(model="fraud", check="latency", warning=900.0, critical=300.0)})
    >>> [str(p) for p in validate(config)]
    ['monitors.lat.critical: must be above warning (900.0) when direction is above; got 300.0']
    """
    problems: list[ConfigProblem] = []
    for name, model in config.models.items():
        problems += _model(f"models.{name}", model)
    for name, monitor in config.monitors.items():
        problems += _monitor(f"monitors.{name}", monitor, config.models.get(monitor.model))
    problems += alerting_problems(config)
    problems += slo_problems(config.slos, performance_metrics=METRICS["performance"])
    problems += probe_problems(config.probes)
    return problems


def _p(path: str, message: str) -> ConfigProblem:
    return ConfigProblem(path, message)


def _names(values: Iterable[str]) -> str:
    return ", ".join(values)


def _duplicates(path: str, values: Sequence[str]) -> Iterator[ConfigProblem]:
    for value, count in Counter(values).items():
        if count > 1:
            yield _p(path, f"lists {value!r} {count} times")


def _model(path: str, model: ModelConfig) -> Iterator[ConfigProblem]:
    if model.positive_class is not None and model.task != "binary_classification":
        task = model.task or "not set"
        yield _p(
            f"{path}.positive_class",
            f"applies only to task binary_classification; the model's task is {task}",
        )
    yield from _duplicates(f"{path}.segments", model.segments)
    ref = model.reference
    if ref is None:
        return
    if (ref.file is None) == (ref.window is None):
        state = "both are set" if ref.file is not None else "neither is set"
        yield _p(
            f"{path}.reference",
            f"set exactly one of file (training data) and window (a pinned window); {state}",
        )
    if ref.window is not None:
        for name in ("label_column", "prediction_column", "score_column"):
            if getattr(ref, name) is not None:
                yield _p(f"{path}.reference.{name}", "applies only to a file reference")
        if ref.window.end <= ref.window.start:
            yield _p(
                f"{path}.reference.window.end",
                f"must be after start ({ref.window.start.isoformat()}); "
                f"got {ref.window.end.isoformat()}",
            )
    if ref.file is not None and not ref.file.lower().endswith(_REFERENCE_SUFFIXES):
        yield _p(f"{path}.reference.file", f"must be a .csv or .parquet file; got {ref.file!r}")


def _duration(path: str, text: str) -> float | ConfigProblem:
    name = path.rsplit(".", 1)[-1]
    try:
        seconds = parse_duration(text, field=name)
    except InvalidInputError as exc:
        return _p(path, exc.message.removeprefix(f"{name} "))
    if seconds % 60:
        return _p(
            path,
            f"must be a whole number of minutes (windows are built from one-minute buckets); "
            f"got {text!r}",
        )
    return seconds


def _monitor(path: str, monitor: MonitorConfig, model: ModelConfig | None) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    check = monitor.check
    for name in _OPTIONAL:
        if getattr(monitor, name) not in (None, {}) and name not in APPLIES_TO[check]:
            where = _names(c for c, fields in APPLIES_TO.items() if name in fields)
            problems.append(
                _p(f"{path}.{name}", f"does not apply to a {check} monitor; it applies to {where}")
            )
    window = _duration(f"{path}.window", monitor.window)
    every = _duration(f"{path}.every", monitor.every)
    problems += [found for found in (window, every) if isinstance(found, ConfigProblem)]
    if isinstance(window, float) and isinstance(every, float) and every > window:
        problems.append(
            _p(
                f"{path}.every",
                f"must not be longer than window ({monitor.window}): traffic between runs "
                f"would never be checked; got {monitor.every!r}",
            )
        )
    if monitor.columns is not None:
        if not monitor.columns:
            problems.append(_p(f"{path}.columns", "must name a column; leave it out for all"))
        problems += _duplicates(f"{path}.columns", monitor.columns)
    problems += _duplicates(f"{path}.segment_by", monitor.segment_by)
    problems += [_p(f"{path}.page", message) for message in paging_problems(monitor)]
    if model is not None:
        problems += _against_model(path, monitor, model)
    if METRICS[check]:
        problems += _metric(path, monitor, model)
    elif check in ("drift", "prediction_drift"):
        problems += _drift(path, monitor, model)
    return problems


def _against_model(
    path: str, monitor: MonitorConfig, model: ModelConfig
) -> Iterator[ConfigProblem]:
    if monitor.compare_to == "reference" and model.reference is None:
        yield _p(
            f"{path}.compare_to",
            f"model {monitor.model!r} declares no reference; add "
            f"models.{monitor.model}.reference or compare to previous_window",
        )
    for segment in monitor.segment_by:
        if segment not in model.segments:
            declared = _names(model.segments) or "none"
            yield _p(
                f"{path}.segment_by",
                f"{segment!r} is not a segment of model {monitor.model!r} "
                f"(models.{monitor.model}.segments: {declared})",
            )
    if monitor.check == "estimated_performance" and model.task not in (
        None,
        "binary_classification",
    ):
        yield _p(
            f"{path}.check",
            f"estimated_performance needs a binary_classification model; "
            f"model {monitor.model!r} has task {model.task}",
        )


def _metric(
    path: str, monitor: MonitorConfig, model: ModelConfig | None
) -> Iterator[ConfigProblem]:
    check, metric = monitor.check, monitor.metric or DEFAULT_METRIC.get(monitor.check)
    task = model.task if model is not None else None
    allowed = METRICS[check]
    if check == "performance" and task is not None:
        allowed = METRICS_BY_TASK[task]
    if metric is None:
        yield _p(f"{path}.metric", f"a {check} monitor needs a metric: one of {_names(allowed)}")
        return
    if metric not in METRICS[check]:
        yield _p(
            f"{path}.metric",
            f"{metric!r} is not a metric of check {check}; use one of {_names(allowed)}",
        )
        return
    if metric not in allowed:
        yield _p(
            f"{path}.metric",
            f"{metric!r} does not apply to model {monitor.model!r} (task {task}); "
            f"use one of {_names(allowed)}",
        )
    if monitor.k is not None and metric not in RANKING_METRICS:
        yield _p(
            f"{path}.k",
            f"applies only to the ranking metrics {_names(RANKING_METRICS)}; metric is {metric}",
        )
    if metric in AT_K_METRICS and monitor.k is None:
        yield _p(f"{path}.k", f"metric {metric} needs k, the number of top items that count")
    low, high = _BOUNDS.get(metric, (0.0, _INF))
    direction = monitor.direction or default_direction(metric)
    yield from _thresholds(path, monitor.warning, monitor.critical, direction, low, high)


def _drift(path: str, monitor: MonitorConfig, model: ModelConfig | None) -> Iterator[ConfigProblem]:
    kinds: Mapping[str, str] = model.schema if model is not None else {}
    method = monitor.method
    if method is not None and method not in DRIFT_METHODS:
        yield _p(f"{path}.method", f"unknown drift method {method!r}; one of "
                 f"{_names(sorted(DRIFT_METHODS))}")  # fmt: skip
        return
    yield from _method_thresholds(path, method, monitor.warning, monitor.critical)
    one_kind = method is not None and method not in (NUMERIC_METHODS & CATEGORICAL_METHODS)
    if monitor.check == "drift" and method is not None and one_kind:
        group = "numeric" if method in NUMERIC_METHODS else "categorical"
        if monitor.columns is None:
            yield _p(
                f"{path}.method",
                f"{method} applies only to {group} columns; list them in columns, set it "
                f"per column in columns_config, or use one of {_BOTH_KINDS}",
            )
        else:
            yield from _kinds(f"{path}.method", method, monitor.columns, kinds)
    for column, settings in monitor.columns_config.items():
        here = f"{path}.columns_config.{column}"
        if monitor.columns is not None and column not in monitor.columns:
            yield _p(here, f"column {column!r} is not in columns")
        yield from _column(here, column, settings, monitor, kinds)


def _column(
    path: str,
    column: str,
    settings: ColumnConfig,
    monitor: MonitorConfig,
    kinds: Mapping[str, str],
) -> Iterator[ConfigProblem]:
    own = settings.method
    if own is not None and own not in DRIFT_METHODS:
        yield _p(f"{path}.method", f"unknown drift method {own!r}")
        return
    if own is not None:
        yield from _kinds(f"{path}.method", own, [column], kinds)
    yield from _method_thresholds(
        path,
        own or monitor.method,
        settings.warning,
        settings.critical,
        inherited=(monitor.warning, monitor.critical),
    )


def _kinds(
    path: str, method: str, columns: Iterable[str], kinds: Mapping[str, str]
) -> Iterator[ConfigProblem]:
    for column in columns:
        kind = kinds.get(column)
        numeric = kind == "numeric"
        if kind is not None and method not in (NUMERIC_METHODS if numeric else CATEGORICAL_METHODS):
            yield _p(path, f"{method} does not apply to {column!r}, a {kind} column")


def _method_thresholds(
    path: str,
    method: str | None,
    warning: float | None,
    critical: float | None,
    *,
    inherited: tuple[float | None, float | None] = (None, None),
) -> Iterator[ConfigProblem]:
    """Drift thresholds: they need a method, and must be in order for its direction.

    When only one of ``warning`` and ``critical`` is set, the one set is honoured and the
    other is the monitor's (``inherited``, for a column's settings), else the method's
    default: the drift check grades with that pair. A pair out of order that way
    (``warning: 0.3`` with psi's default critical 0.25) is refused, naming the value that
    filled in, rather than grading every value between the two as critical.
    """
    if method is None:
        for name, value in (("warning", warning), ("critical", critical)):
            if value is not None:
                yield _p(
                    f"{path}.{name}",
                    "needs a method: without one the method, and so whether smaller or "
                    "larger values are worse, depends on the sample size",
                )
        return
    high = 1.0 if method in P_VALUE_METHODS else _INF
    direction = drift_direction(method)
    yield from _thresholds(path, warning, critical, direction, 0.0, high)
    if (warning is None) == (critical is None):
        return
    unset = "critical" if critical is None else "warning"
    index = 1 if critical is None else 0  # in (warning, critical)
    fill, source = inherited[index], "the monitor's"
    if fill is None:
        fill, source = DRIFT_THRESHOLDS[method][index], f"the default of {method}"
    w = warning if warning is not None else fill  # the pair the check grades with
    c = critical if critical is not None else fill
    if (c >= w) if direction == "below" else (c <= w):
        given, value = ("warning", w) if critical is None else ("critical", c)
        side = direction if given == "critical" else _OPPOSITE[direction]
        yield _p(
            f"{path}.{given}",
            f"must be {side} {unset} ({fill}, {source}, as {unset} is not set); "
            f"set {unset} too; got {value}",
        )


def _thresholds(
    path: str,
    warning: float | None,
    critical: float | None,
    direction: Direction,
    low: float,
    high: float,
) -> Iterator[ConfigProblem]:
    for name, value in (("warning", warning), ("critical", critical)):
        if value is not None and not low <= value <= high:
            yield _p(f"{path}.{name}", f"must be in [{low}, {high}]; got {value}")
    if warning is None or critical is None:
        return
    wrong = critical >= warning if direction == "below" else critical <= warning
    if wrong:
        yield _p(
            f"{path}.critical",
            f"must be {direction} warning ({warning}) when direction is {direction}; "
            f"got {critical}",
        )
