from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mlpulse.core.drift import methods
from mlpulse.domain import monitoring
from mlpulse.domain.config_decode import decode_config
from mlpulse.domain.config_validation import validate
from mlpulse.domain.monitoring import Config, ModelConfig, MonitorConfig, ReferenceConfig


def _problems(raw: dict[str, Any], *, strict: bool = True) -> list[str]:
    _, problems = decode_config(raw, strict=strict)
    return [str(problem) for problem in problems]


def _monitor(**fields: Any) -> list[str]:
    models = {
        "fraud": {
            "task": "binary_classification",
            "schema": {"amount": "numeric", "country": "categorical"},
            "segments": ["country"],
            "reference": {"file": "train.csv"},
        },
        "house": {"task": "regression"},
        "recs": {"task": "ranking"},
    }
    return _problems({"version": 1, "models": models, "monitors": {"m": fields}})


def test_drift_methods_match_the_core_table() -> None:
    assert set(methods.NUMERIC) == monitoring.NUMERIC_METHODS
    assert set(methods.CATEGORICAL) == monitoring.CATEGORICAL_METHODS
    every = {**methods.NUMERIC, **methods.CATEGORICAL}
    assert {name for name, m in every.items() if m.p_value} == monitoring.P_VALUE_METHODS
    for group in (methods.NUMERIC, methods.CATEGORICAL):
        for name, method in group.items():
            default = (method.thresholds.warning, method.thresholds.critical)
            assert monitoring.DRIFT_THRESHOLDS[name] == default, name


def test_decode_config_reads_a_full_document() -> None:
    raw = {
        "version": 1,
        "models": {"fraud": {"task": "binary_classification", "schema": {"amount": "numeric"}}},
        "monitors": {
            "fraud-acc": {"model": "fraud", "check": "performance", "metric": "accuracy",
                          "warning": 0.9, "critical": 0.8},
            "fraud-drift": {"model": "fraud", "check": "drift", "compare_to": "previous_window",
                            "columns_config": {"amount": {"method": "psi", "warning": 0.1}}},
        },
    }  # fmt: skip
    config, problems = decode_config(raw)
    assert problems == []
    assert config.models["fraud"].positive_class == "1"
    assert config.monitors["fraud-acc"].direction == "below"
    assert config.monitors["fraud-drift"].columns_config["amount"].method == "psi"


def test_decode_config_reports_every_problem_not_only_the_first() -> None:
    problems = _problems(
        {
            "version": 2,
            "modles": {},
            "monitors": {
                "a": {"model": "fraud", "check": "drfit", "windw": "1h"},
                "b": {"model": "fraud", "check": "latency", "warning": "high"},
            },
        }
    )
    assert problems == [
        "version: must be 1; got 2",
        "modles: unknown field; did you mean 'models'?",
        "monitors.a.check: must be one of drift, quality, performance, estimated_performance, "
        "latency, throughput, errors, prediction_drift; got 'drfit'; did you mean 'drift'?",
        "monitors.a.windw: unknown field; did you mean 'window'?",
        "monitors.b.warning: must be a finite number; got 'high'",
    ]


def test_decode_config_keeps_the_entries_that_decoded() -> None:
    config, problems = decode_config(
        {"version": 1, "monitors": {"bad": {"model": "m"}, "ok": {"model": "m", "check": "errors"}}}
    )
    assert [str(p) for p in problems] == ["monitors.bad.check: required field is missing"]
    assert list(config.monitors) == ["ok"]


def test_decode_config_converts_text_only_when_not_strict() -> None:
    raw = {"version": "1", "monitors": {"e": {"model": "m", "check": "errors", "warning": "0.05"}}}
    assert _problems(raw, strict=False) == []
    assert _problems(raw) == [
        "version: must be 1; got '1'",
        "monitors.e.warning: must be a finite number; got '0.05'",
    ]


def test_decode_config_rejects_a_document_that_is_not_a_mapping() -> None:
    assert _problems([1]) == [  # type: ignore[arg-type]  # a wrong document on purpose
        "(document): must be a mapping; got [1]"
    ]


def test_decode_config_names_a_bad_model_name() -> None:
    assert _problems({"version": 1, "models": {"x" * 201: {}}})[0].endswith(
        "the name must be text of 1 to 200 characters; got '" + "x" * 201 + "'"
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"check": "performance", "metric": "p99"},
         "monitors.m.metric: 'p99' is not a metric of check performance; use one of accuracy, "
         "precision, recall, f1, roc_auc, pr_auc, log_loss, brier, calibration_error"),
        ({"check": "performance"},
         "monitors.m.metric: a performance monitor needs a metric: one of accuracy, precision, "
         "recall, f1, roc_auc, pr_auc, log_loss, brier, calibration_error"),
        ({"check": "performance", "metric": "mae", "model": "house", "warning": 2.0,
          "critical": 1.0},
         "monitors.m.critical: must be above warning (2.0) when direction is above; got 1.0"),
        ({"check": "performance", "metric": "accuracy", "warning": 0.8, "critical": 0.9},
         "monitors.m.critical: must be below warning (0.8) when direction is below; got 0.9"),
        ({"check": "performance", "metric": "accuracy", "warning": 90.0},
         "monitors.m.warning: must be in [0.0, 1.0]; got 90.0"),
        ({"check": "performance", "metric": "mae", "model": "house"}, None),
        ({"check": "performance", "metric": "accuracy", "model": "house"},
         "monitors.m.metric: 'accuracy' does not apply to model 'house' (task regression); use "
         "one of mae, rmse, mape, r2"),
        ({"check": "performance", "metric": "accuracy", "k": 10},
         "monitors.m.k: applies only to the ranking metrics precision_at_k, recall_at_k, "
         "ndcg_at_k, mrr, hit_rate; metric is accuracy"),
        ({"check": "performance", "metric": "ndcg_at_k", "model": "recs"},
         "monitors.m.k: metric ndcg_at_k needs k, the number of top items that count"),
        ({"check": "performance", "metric": "ndcg_at_k", "model": "recs", "k": 10}, None),
        ({"check": "latency", "compare_to": "reference"},
         "monitors.m.compare_to: does not apply to a latency monitor; it applies to drift, "
         "prediction_drift, quality"),
        ({"check": "latency", "warning": 250.0, "critical": 500.0}, None),
        ({"check": "latency", "direction": "below", "warning": 250.0, "critical": 500.0},
         "monitors.m.critical: must be below warning (250.0) when direction is below; got 500.0"),
        ({"check": "errors", "metric": "p99"},
         "monitors.m.metric: 'p99' is not a metric of check errors; use one of rate"),
        ({"check": "estimated_performance", "model": "house", "metric": "accuracy"},
         "monitors.m.check: estimated_performance needs a binary_classification model; model "
         "'house' has task regression"),
        ({"check": "quality", "warning": 0.1},
         "monitors.m.warning: does not apply to a quality monitor; it applies to drift, "
         "prediction_drift, performance, estimated_performance, latency, throughput, errors"),
        ({"check": "errors", "window": "soon"},
         "monitors.m.window: must be a duration like 30s, 5m, 1h or 7d; got 'soon'"),
        ({"check": "errors", "window": "90s"},
         "monitors.m.window: must be a whole number of minutes (windows are built from "
         "one-minute buckets); got '90s'"),
        ({"check": "errors", "window": "5m", "every": "1h"},
         "monitors.m.every: must not be longer than window (5m): traffic between runs would "
         "never be checked; got '1h'"),
        ({"check": "errors", "segment_by": ["region"]},
         "monitors.m.segment_by: 'region' is not a segment of model 'fraud' "
         "(models.fraud.segments: country)"),
        ({"check": "quality", "model": "house", "compare_to": "reference"},
         "monitors.m.compare_to: model 'house' declares no reference; add "
         "models.house.reference or compare to previous_window"),
        ({"check": "drift", "columns": []},
         "monitors.m.columns: must name a column; leave it out for all"),
        ({"check": "drift", "columns": ["amount", "amount"]},
         "monitors.m.columns: lists 'amount' 2 times"),
        ({"check": "drift", "method": "ks"},
         "monitors.m.method: ks applies only to numeric columns; list them in columns, set it "
         "per column in columns_config, or use one of hellinger, jensen_shannon, psi"),
        ({"check": "drift", "method": "ks", "columns": ["amount", "country"]},
         "monitors.m.method: ks does not apply to 'country', a categorical column"),
        ({"check": "drift", "method": "psi", "warning": 0.1, "critical": 0.25}, None),
        ({"check": "drift", "warning": 0.1},
         "monitors.m.warning: needs a method: without one the method, and so whether smaller "
         "or larger values are worse, depends on the sample size"),
        ({"check": "drift", "columns": ["amount"],
          "columns_config": {"country": {"method": "psi"}}},
         "monitors.m.columns_config.country: column 'country' is not in columns"),
        ({"check": "drift", "columns_config": {"amount": {"method": "ks", "warning": 0.01,
                                                          "critical": 0.05}}},
         "monitors.m.columns_config.amount.critical: must be below warning (0.01) when "
         "direction is below; got 0.05"),
        ({"check": "drift", "columns_config": {"country": {"method": "wasserstein"}}},
         "monitors.m.columns_config.country.method: wasserstein does not apply to 'country', "
         "a categorical column"),
        ({"check": "prediction_drift", "columns": ["amount"]},
         "monitors.m.columns: does not apply to a prediction_drift monitor; it applies to "
         "drift, quality"),
    ],
)  # fmt: skip
def test_validate_rejects_a_monitor_that_makes_no_sense(
    fields: dict[str, Any], expected: str | None
) -> None:
    problems = _monitor(**{"model": "fraud", **fields})
    assert problems == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # One threshold is honoured, the other is the method's default (psi: 0.1 / 0.25).
        ({"method": "psi", "warning": 0.2}, None),
        ({"method": "psi", "critical": 0.15}, None),
        ({"method": "psi", "warning": 0.3},
         "monitors.m.warning: must be below critical (0.25, the default of psi, as critical "
         "is not set); set critical too; got 0.3"),
        ({"method": "psi", "critical": 0.05},
         "monitors.m.critical: must be above warning (0.1, the default of psi, as warning is "
         "not set); set warning too; got 0.05"),
        # A p-value is worse when smaller (ks: 0.05 / 0.01).
        ({"method": "ks", "columns": ["amount"], "critical": 0.001}, None),
        ({"method": "ks", "columns": ["amount"], "warning": 0.005},
         "monitors.m.warning: must be above critical (0.01, the default of ks, as critical is "
         "not set); set critical too; got 0.005"),
        # A column's one threshold pairs with the monitor's other, else the method's default.
        ({"method": "psi", "warning": 0.2,
          "columns_config": {"amount": {"critical": 0.15}}},
         "monitors.m.columns_config.amount.critical: must be above warning (0.2, the "
         "monitor's, as warning is not set); set warning too; got 0.15"),
        ({"columns_config": {"amount": {"method": "wasserstein", "critical": 0.05}}},
         "monitors.m.columns_config.amount.critical: must be above warning (0.1, the default "
         "of wasserstein, as warning is not set); set warning too; got 0.05"),
        ({"columns_config": {"amount": {"method": "wasserstein", "warning": 0.15}}}, None),
    ],
)  # fmt: skip
def test_validate_honours_one_drift_threshold_only_in_order_with_the_other(
    fields: dict[str, Any], expected: str | None
) -> None:
    problems = _monitor(model="fraud", check="drift", **fields)
    assert problems == ([expected] if expected else [])


def test_unknown_drift_method_message_lists_every_method() -> None:
    (problem,) = _monitor(model="fraud", check="drift", method="magic")
    assert all(name in problem for name in monitoring.DRIFT_METHODS)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (ModelConfig(task="regression", positive_class="yes"),
         "models.x.positive_class: applies only to task binary_classification; the model's task "
         "is regression"),
        (ModelConfig(reference=ReferenceConfig()),
         "models.x.reference: set exactly one of file (training data) and window (a pinned "
         "window); neither is set"),
        (ModelConfig(reference=ReferenceConfig(file="t.csv", window=monitoring.PinnedWindow(
            start=datetime(2026, 11, 1, tzinfo=UTC),
            end=datetime(2026, 11, 8, tzinfo=UTC)))),
         "models.x.reference: set exactly one of file (training data) and window (a pinned "
         "window); both are set"),
        (ModelConfig(reference=ReferenceConfig(file="train.json")),
         "models.x.reference.file: must be a .csv or .parquet file; got 'train.json'"),
        (ModelConfig(segments=["a", "a"]), "models.x.segments: lists 'a' 2 times"),
    ],
)  # fmt: skip
def test_validate_rejects_a_model_that_makes_no_sense(model: ModelConfig, expected: str) -> None:
    assert [str(p) for p in validate(Config(version=1, models={"x": model}))] == [expected]


def test_validate_rejects_a_pinned_window_that_ends_before_it_starts() -> None:
    raw = {"version": 1, "models": {"x": {"reference": {
        "window": {"start": "2026-11-08T00:00:00Z", "end": "2026-11-01T00:00:00Z"},
        "label_column": "y"}}}}  # fmt: skip
    assert _problems(raw, strict=False) == [
        "models.x.reference.label_column: applies only to a file reference",
        "models.x.reference.window.end: must be after start (2026-11-08T00:00:00+00:00); "
        "got 2026-11-01T00:00:00+00:00",
    ]


def test_validate_rejects_a_pinned_window_without_a_time_zone() -> None:
    raw = {"version": 1, "models": {"x": {"reference": {
        "window": {"start": "2026-11-01T00:00:00", "end": "2026-11-08T00:00:00Z"}}}}}  # fmt: skip
    assert _problems(raw, strict=False) == [
        "models.x.reference.window.start: must be a date and time with a time zone, like "
        "2026-11-01T00:00:00Z; got '2026-11-01T00:00:00'"
    ]


def test_validate_accepts_a_monitor_of_a_model_the_file_does_not_declare() -> None:
    config = Config(version=1, monitors={"m": MonitorConfig(model="elsewhere", check="drift")})
    assert validate(config) == []
