"""The monitors a model gets before anyone configures it.

A model that sends traffic is watched at once; a monitor of the same name in
``mlpulse.yaml`` replaces the default. The defaults, and why:

``<model>-drift``
    Every feature a drift method applies to (numeric, categorical, boolean), compared with
    the reference when the model has one and with the previous window otherwise
    (``compare_to`` unset). The method and thresholds are chosen per column by sample
    size (:func:`mlpulse.core.drift.methods.choose_method`): a p-value on small windows,
    an effect-size distance on large ones, where every p-value would be tiny. A one-day
    window, run hourly: drift is a slow change, and a day averages out the daily cycle
    that an hour-long window would report as drift every evening.
``<model>-quality``
    Missing values, type errors, out-of-range and unseen values on every column, with
    each check's own thresholds. One hour, every five minutes: a broken pipeline shows
    here first, so it is the fast path.
``<model>-prediction-drift``
    Drift of the model's outputs, which moves before labels arrive (one day, hourly, as
    drift).
``<model>-latency``
    p99 over five minutes, every minute; warning above 500 ms, critical above 1 s, the
    usual budget of an online service. Tune it per model: a batch scorer or an LLM has
    another budget.
``<model>-errors``
    Share of failed predictions over five minutes (long enough not to page on one
    failure in ten requests), every minute; warning above 5 %, critical above 10 %.
``<model>-throughput``
    Predictions per second over fifteen minutes, recorded without thresholds: normal
    traffic differs by orders of magnitude between models, and a batch model is silent
    most of the day. That traffic stopped is an absent-data rule over this series.
``<model>-performance`` (when the task is known)
    Computed once labels arrive, over a day, hourly. Binary classification: ROC AUC,
    critical below 0.5, which is worse than chance for any model (inverted scores or
    labels). Multiclass: accuracy; regression: RMSE; ranking: NDCG at 10. These have no
    threshold right for every model, so they are recorded for rules relative to a
    baseline ("below 95 % of last week") to alert on.
``<model>-estimated-performance`` (binary classification)
    ROC AUC estimated from the scores alone (confidence-based), for the days before
    labels arrive; recorded without thresholds, as it trusts calibrated scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from mlpulse.domain.monitoring import Direction, MonitorConfig

__all__ = ["default_monitor", "default_monitors"]

# Column kinds a drift method applies to (booleans are compared as two categories).
_DRIFTABLE: Final = frozenset({"numeric", "categorical", "boolean"})
_PERFORMANCE: Final[dict[str, tuple[str, Direction, float | None]]] = {
    # task: (metric, direction, critical)
    "binary_classification": ("roc_auc", "below", 0.5),
    "multiclass_classification": ("accuracy", "below", None),
    "regression": ("rmse", "above", None),
    "ranking": ("ndcg_at_k", "below", None),
}


def default_monitors(
    model: str, *, task: str | None, columns: Mapping[str, str]
) -> dict[str, MonitorConfig]:
    """The monitors of an unconfigured model, by name (see the module docstring for why).

    ``columns`` is the model's schema, column name → kind; ``task`` may be unknown.

    >>> sorted(default_monitors("fraud", task=None, columns={"amount": "numeric"}))
    ['fraud-drift', 'fraud-errors', 'fraud-latency', 'fraud-prediction-drift', \
'fraud-quality', 'fraud-throughput']
    >>> monitors = default_monitors("fraud", task="binary_classification", columns={})
    >>> monitors["fraud-performance"].metric, monitors["fraud-performance"].critical
    ('roc_auc', 0.5)
    """
    monitors: dict[str, MonitorConfig] = {}
    driftable = sorted(name for name, kind in columns.items() if kind in _DRIFTABLE)
    if driftable:
        # Name the columns only when some are left out; unset means all, new ones too.
        listed = driftable if len(driftable) < len(columns) else None
        monitors[f"{model}-drift"] = MonitorConfig(
            model=model, check="drift", window="1d", every="1h", columns=listed
        )
    if columns:
        monitors[f"{model}-quality"] = MonitorConfig(
            model=model, check="quality", window="1h", every="5m"
        )
    monitors[f"{model}-prediction-drift"] = MonitorConfig(
        model=model, check="prediction_drift", window="1d", every="1h"
    )
    monitors[f"{model}-latency"] = MonitorConfig(
        model=model,
        check="latency",
        metric="p99",
        direction="above",
        window="5m",
        every="1m",
        warning=500.0,
        critical=1000.0,
    )
    monitors[f"{model}-errors"] = MonitorConfig(
        model=model,
        check="errors",
        metric="rate",
        direction="above",
        window="5m",
        every="1m",
        warning=0.05,
        critical=0.10,
    )
    monitors[f"{model}-throughput"] = MonitorConfig(
        model=model,
        check="throughput",
        metric="per_second",
        direction="below",
        window="15m",
        every="1m",
    )
    if task in _PERFORMANCE:
        metric, direction, critical = _PERFORMANCE[task]
        monitors[f"{model}-performance"] = MonitorConfig(
            model=model,
            check="performance",
            metric=metric,
            direction=direction,
            critical=critical,
            k=10 if metric == "ndcg_at_k" else None,
            window="1d",
            every="1h",
        )
    if task == "binary_classification":
        monitors[f"{model}-estimated-performance"] = MonitorConfig(
            model=model,
            check="estimated_performance",
            metric="roc_auc",
            direction="below",
            window="1d",
            every="1h",
        )
    return monitors


def default_monitor(model: str, name: str) -> MonitorConfig | None:
    """The default monitor called ``name`` that ``model`` may have, else None.

    For what does not depend on the model's task and columns: the check, ``window`` and
    ``every`` (which defaults a model gets does depend on them, so every one it could
    get is looked at; the performance monitor's metric is binary classification's).

    >>> monitor = default_monitor("fraud", "fraud-drift")
    >>> monitor.check, monitor.window, monitor.every
    ('drift', '1d', '1h')
    >>> default_monitor("fraud", "recs-drift") is None
    True
    """
    every_default = default_monitors(model, task="binary_classification", columns={"_": "numeric"})
    return every_default.get(name)
