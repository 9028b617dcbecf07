from __future__ import annotations

import pytest

from mlpulse.domain.config_validation import validate
from mlpulse.domain.default_monitors import default_monitors
from mlpulse.domain.monitoring import TASKS, Config

COLUMNS = {"amount": "numeric", "country": "categorical", "vip": "boolean"}


@pytest.mark.parametrize("task", [*TASKS, None])
def test_default_monitors_pass_validation_for_every_task(task: str | None) -> None:
    config = Config(version=1, monitors=default_monitors("fraud", task=task, columns=COLUMNS))
    assert validate(config) == []


def test_default_monitors_watch_traffic_of_a_model_of_unknown_task() -> None:
    monitors = default_monitors("fraud", task=None, columns=COLUMNS)
    assert {m.check for m in monitors.values()} == {
        "drift", "quality", "prediction_drift", "latency", "errors", "throughput"
    }  # fmt: skip
    assert all(m.model == "fraud" for m in monitors.values())


def test_default_monitors_drift_compares_to_reference_or_previous_window() -> None:
    drift = default_monitors("fraud", task=None, columns=COLUMNS)["fraud-drift"]
    # Unset means "the reference when there is one, else the previous window".
    assert (drift.compare_to, drift.columns, drift.method) == (None, None, None)
    assert (drift.window, drift.every) == ("1d", "1h")


def test_default_monitors_drift_lists_columns_only_when_some_are_left_out() -> None:
    columns = {**COLUMNS, "note": "text", "vector": "embedding"}
    drift = default_monitors("fraud", task=None, columns=columns)["fraud-drift"]
    assert drift.columns == ["amount", "country", "vip"]


def test_default_monitors_skip_drift_and_quality_without_columns() -> None:
    monitors = default_monitors("fraud", task=None, columns={})
    assert "fraud-drift" not in monitors
    assert "fraud-quality" not in monitors


def test_default_monitors_alert_on_latency_and_errors() -> None:
    monitors = default_monitors("fraud", task=None, columns=COLUMNS)
    latency, errors = monitors["fraud-latency"], monitors["fraud-errors"]
    assert (latency.metric, latency.direction, latency.warning, latency.critical) == (
        "p99", "above", 500.0, 1000.0
    )  # fmt: skip
    assert (errors.metric, errors.direction, errors.warning, errors.critical) == (
        "rate", "above", 0.05, 0.10
    )  # fmt: skip


def test_default_monitors_record_throughput_without_thresholds() -> None:
    throughput = default_monitors("fraud", task=None, columns=COLUMNS)["fraud-throughput"]
    assert (throughput.warning, throughput.critical) == (None, None)


@pytest.mark.parametrize(
    ("task", "metric", "critical", "k"),
    [
        ("binary_classification", "roc_auc", 0.5, None),
        ("multiclass_classification", "accuracy", None, None),
        ("regression", "rmse", None, None),
        ("ranking", "ndcg_at_k", None, 10),
    ],
)
def test_default_monitors_performance_by_task(
    task: str, metric: str, critical: float | None, k: int | None
) -> None:
    performance = default_monitors("m", task=task, columns={})["m-performance"]
    assert (performance.metric, performance.critical, performance.k) == (metric, critical, k)


def test_default_monitors_estimate_performance_for_binary_classification_only() -> None:
    binary = default_monitors("m", task="binary_classification", columns={})
    assert binary["m-estimated-performance"].metric == "roc_auc"
    for task in ("multiclass_classification", "regression", "ranking", None):
        assert "m-estimated-performance" not in default_monitors("m", task=task, columns={})
