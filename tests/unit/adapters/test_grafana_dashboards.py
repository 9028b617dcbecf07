"""Grafana dashboards from mlpulse.yaml: an overview and one per model, over $datasource."""

from __future__ import annotations

import json
import re

from mlpulse.adapters.export.grafana_dashboards import (
    grafana_dashboards,
    queries_as_rules,
    resolved_query,
)
from mlpulse.domain.monitoring import Config, ModelConfig, MonitorConfig
from mlpulse.domain.series_catalogue import SERIES

CONFIG = Config(
    version=1,
    models={"fraud": ModelConfig(task="binary_classification")},
    monitors={
        "recs-p99": MonitorConfig(model="recs", check="latency", metric="p99", warning=100.0),
        "a-very-long-model-name.with dots-and-spaces-v2": MonitorConfig(
            model="a-very-long-model-name.with dots-and-spaces-v2", check="errors"
        ),
    },
)


def test_grafana_dashboards_make_an_overview_and_one_per_declared_or_monitored_model() -> None:
    boards = grafana_dashboards(CONFIG).dashboards
    titles = [b.title for b in boards]
    assert titles == [
        "mlpulse: overview",
        "mlpulse: a-very-long-model-name.with dots-and-spaces-v2",
        "mlpulse: fraud",
        "mlpulse: recs",
    ]
    uids = [b.uid for b in boards]
    assert len(set(uids)) == len(uids)
    assert all(len(uid) <= 40 for uid in uids)
    assert uids[2] == "mlpulse-fraud"
    assert boards[0].file_name == "mlpulse-overview.json"


def test_grafana_dashboards_read_the_datasource_variable_and_filter_a_model_by_version() -> None:
    fraud = grafana_dashboards(CONFIG).dashboards[2]
    model = json.loads(fraud.json())
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["version"]["includeAll"] is True
    for panel in model["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert 'model="fraud",version=~"$version"' in target["expr"]
    widths = [p["gridPos"]["x"] + p["gridPos"]["w"] for p in model["panels"]]
    assert max(widths) <= 24


def test_grafana_dashboards_show_traffic_latency_errors_drift_and_performance() -> None:
    fraud = grafana_dashboards(CONFIG).dashboards[2]
    exprs = " ".join(expr for _, expr in fraud.queries)
    for series in ("mlpulse_predictions_total", "mlpulse_prediction_errors_total",
                   "mlpulse_prediction_latency_seconds_bucket", "mlpulse_latency_seconds",
                   "mlpulse_drift_score", "mlpulse_performance",
                   "mlpulse_estimated_performance", "mlpulse_check_status"):  # fmt: skip
        assert series in exprs
    kinds = {p["type"] for p in fraud.model["panels"]}
    assert kinds == {"timeseries", "status-history"}


def test_grafana_dashboards_name_only_series_the_collector_writes() -> None:
    own = {"mlpulse_predictions_total", "mlpulse_prediction_errors_total",
           "mlpulse_prediction_latency_seconds_bucket", "mlpulse_check_status",
           "mlpulse_outbox_pending", "mlpulse_outbox_oldest_pending_age_seconds"}  # fmt: skip
    for board in grafana_dashboards(CONFIG).dashboards:
        for _, expr in board.queries:
            for name in re.findall(r"\bmlpulse_[a-z_]+", expr):
                assert name in SERIES or name in own, (board.title, name)


def test_queries_as_rules_resolve_grafana_variables() -> None:
    text = queries_as_rules(grafana_dashboards(CONFIG))
    assert "$" not in text
    assert resolved_query('x{version=~"$version"}[$__rate_interval]') == 'x{version=~".*"}[5m]'
