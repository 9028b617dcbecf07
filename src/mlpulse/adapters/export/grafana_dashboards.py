"""Grafana dashboards over mlpulse's ``/metrics``, built with grafana-foundation-sdk.

One dashboard per model of ``mlpulse.yaml`` (the models it declares and the models its
monitors watch): traffic, latency, errors, drift severity per column, performance and the
checks' status; and an overview of every model. Each reads a Prometheus data source
chosen with the ``datasource`` variable; a model's dashboard filters on ``version``.

The traffic panels read the collector's counters and latency histogram directly (not the
recording rules of :mod:`~mlpulse.adapters.export.prometheus_rules`, so the dashboards
work without them); the others read the evaluator's gauges (same names and labels as in
:mod:`mlpulse.domain.series_catalogue`). :func:`queries_as_rules` wraps every query in a
recording rule, so ``promtool check rules`` validates them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import yaml
from grafana_foundation_sdk.builders import common as gc
from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus, statushistory, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from mlpulse.domain.monitoring import Config

__all__ = [
    "DashboardFile",
    "GrafanaDashboardsResult",
    "grafana_dashboards",
    "queries_as_rules",
    "resolved_query",
]

DATASOURCE: Final = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
TAGS: Final = ["mlpulse"]
_RATE: Final = "$__rate_interval"
_UID_CHARS: Final = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class DashboardFile:
    """One dashboard: its file name, its JSON model and its panels' queries."""

    file_name: str
    uid: str
    title: str
    model: dict[str, Any]
    queries: tuple[tuple[str, str], ...]  # (panel title, PromQL)

    def json(self) -> str:
        return json.dumps(self.model, indent=2, sort_keys=False) + "\n"


@dataclass(frozen=True, slots=True)
class GrafanaDashboardsResult:
    dashboards: tuple[DashboardFile, ...]


def _uid(name: str) -> str:
    """A Grafana uid (at most 40 characters) from a name, unique per name."""
    slug = _UID_CHARS.sub("-", name).strip("-").lower() or "model"
    uid = f"mlpulse-{slug}"
    if len(uid) <= 40 and slug == name:
        return uid
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{uid[:31]}-{digest}"


def _query(expr: str, legend: str, ref: str) -> prometheus.Dataquery:
    return (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(ref)
        .range()
        .datasource(DATASOURCE)
    )


def _legend() -> gc.VizLegendOptions:
    return (
        gc.VizLegendOptions()
        .display_mode(cm.LegendDisplayMode.LIST)
        .placement(cm.LegendPlacement.BOTTOM)
        .show_legend(True)
    )


def _tooltip() -> gc.VizTooltipOptions:
    return gc.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING)


def _thresholds(*steps: tuple[float | None, str]) -> gd.ThresholdsConfig:
    return (
        gd.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in steps])
    )


def _timeseries(
    title: str, targets: list[tuple[str, str]], *, unit: str, width: int = 12, **limits: float
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .unit(unit)
        .height(8)
        .span(width)
        .fill_opacity(8)
        .line_width(1)
        .legend(_legend())
        .tooltip(_tooltip())
    )
    if "min" in limits:
        panel = panel.min(limits["min"])
    if "max" in limits:
        panel = panel.max(limits["max"])
    for index, (expr, legend) in enumerate(targets):
        panel = panel.with_target(_query(expr, legend, chr(ord("A") + index)))
    return panel


def _severity(title: str, expr: str, legend: str) -> statushistory.Panel:
    """Drift severity per column over time: green below 1 (the warning threshold),
    yellow to 2 (critical), red past it: a heatmap of columns by time."""
    return (
        statushistory.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .height(8)
        .span(24)
        .thresholds(_thresholds((None, "green"), (1.0, "yellow"), (2.0, "red")))
        .color_scheme(gd.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .show_value(cm.VisibilityMode.AUTO)
        .row_height(0.9)
        .legend(_legend())
        .tooltip(_tooltip())
        .with_target(_query(expr, legend, "A"))
    )


def _variables(board: gd.Dashboard, model: str | None) -> gd.Dashboard:
    board = board.with_variable(
        gd.DatasourceVariable("datasource").label("Data source").type("prometheus")
    )
    if model is None:
        return board
    return board.with_variable(
        gd.QueryVariable("version")
        .label("Version")
        .datasource(DATASOURCE)
        .query(f'label_values(mlpulse_predictions_total{{model="{model}"}}, version)')
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(True)
        .include_all(True)
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
    )


def _model_panels(model: str) -> Iterator[timeseries.Panel | statushistory.Panel]:
    sel = f'model="{model}",version=~"$version"'
    per = "sum by (version)"
    yield _timeseries("Traffic (predictions/s)", [
        (f"{per} (rate(mlpulse_predictions_total{{{sel}}}[{_RATE}]))", "{{version}}"),
    ], unit="reqps", min=0)  # fmt: skip
    yield _timeseries("Errors (share of predictions)", [(
        f"{per} (rate(mlpulse_prediction_errors_total{{{sel}}}[{_RATE}]))"
        f" / {per} (rate(mlpulse_predictions_total{{{sel}}}[{_RATE}]))", "{{version}}",
    )], unit="percentunit", min=0)  # fmt: skip
    yield _timeseries("Latency (from the collector's histogram)", [
        (f"histogram_quantile({q}, sum by (version, le) "
         f"(rate(mlpulse_prediction_latency_seconds_bucket{{{sel}}}[{_RATE}])))",
         f"{{{{version}}}} p{q[2:]}")
        for q in ("0.50", "0.95", "0.99")
    ], unit="s", min=0)  # fmt: skip
    yield _timeseries("Latency percentiles (monitors)", [
        (f"mlpulse_latency_seconds{{{sel}}}", "{{version}} {{percentile}} ({{monitor}})"),
    ], unit="s", min=0)  # fmt: skip
    yield _severity(
        "Drift severity by column (1 warning, 2 critical)",
        f"max by (column) (mlpulse_drift_score{{{sel}}})",
        "{{column}}",
    )
    yield _timeseries("Share of columns drifted", [
        (f"mlpulse_drift_share{{{sel}}}", "{{version}} ({{monitor}})"),
    ], unit="percentunit", min=0, max=1)  # fmt: skip
    yield _timeseries("Prediction drift severity", [
        (f"mlpulse_prediction_drift{{{sel}}}", "{{version}} {{column}} {{method}}"),
    ], unit="none", min=0)  # fmt: skip
    yield _timeseries("Performance (from labels)", [
        (f"mlpulse_performance{{{sel}}}", "{{version}} {{metric}} ({{window}})"),
    ], unit="none")  # fmt: skip
    yield _timeseries("Estimated performance (CBPE, no labels needed)", [
        (f"mlpulse_estimated_performance{{{sel}}}", "{{version}} {{metric}}"),
    ], unit="none")  # fmt: skip
    yield _timeseries("Label coverage", [
        (f"mlpulse_label_coverage{{{sel}}}", "{{version}} ({{window}})"),
    ], unit="percentunit", min=0, max=1)  # fmt: skip
    yield _timeseries("Checks by status (2 critical, 1 warning, 0 ok)", [
        (f"max by (check, monitor) (mlpulse_check_status{{{sel}}})", "{{monitor}}: {{check}}"),
    ], unit="none", min=-1, max=2)  # fmt: skip


def _overview_panels() -> Iterator[timeseries.Panel | statushistory.Panel]:
    yield _timeseries("Traffic by model (predictions/s)", [
        (f"sum by (model) (rate(mlpulse_predictions_total[{_RATE}]))", "{{model}}"),
    ], unit="reqps", min=0)  # fmt: skip
    yield _timeseries("Errors by model (share of predictions)", [(
        f"sum by (model) (rate(mlpulse_prediction_errors_total[{_RATE}]))"
        f" / sum by (model) (rate(mlpulse_predictions_total[{_RATE}]))", "{{model}}",
    )], unit="percentunit", min=0)  # fmt: skip
    yield _timeseries("p99 latency by model", [(
        "histogram_quantile(0.99, sum by (model, le) "
        f"(rate(mlpulse_prediction_latency_seconds_bucket[{_RATE}])))", "{{model}}",
    )], unit="s", min=0)  # fmt: skip
    yield _timeseries("Critical checks by model", [
        ("count by (model) (mlpulse_check_status == 2)", "{{model}}"),
    ], unit="none", min=0)  # fmt: skip
    yield _severity(
        "Worst drift severity by model (1 warning, 2 critical)",
        "max by (model) (mlpulse_drift_score)",
        "{{model}}",
    )
    yield _timeseries("Notifications waiting in the outbox", [
        ("sum by (receiver) (mlpulse_outbox_pending)", "{{receiver}}"),
    ], unit="none", min=0)  # fmt: skip
    yield _timeseries("Oldest undelivered notification", [
        ("max by (receiver) (mlpulse_outbox_oldest_pending_age_seconds)", "{{receiver}}"),
    ], unit="s", min=0)  # fmt: skip


def _board(uid: str, title: str, model: str | None) -> DashboardFile:
    board = (
        gd.Dashboard(title)
        .uid(uid)
        .tags([*TAGS, *([model] if model else [])])
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .link(
            gd.DashboardLink("mlpulse dashboards")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(TAGS)
            .as_dropdown(True)
            .include_vars(False)
            .keep_time(True)
        )
    )
    board = _variables(board, model)
    panels = list(_model_panels(model) if model is not None else _overview_panels())
    for panel in panels:
        board = board.with_panel(panel)
    model_json: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    queries = tuple(
        (panel["title"], target["expr"])
        for panel in model_json["panels"]
        for target in panel.get("targets", [])
    )
    name = f"{uid}.json"
    return DashboardFile(name, uid, title, model_json, queries)


def models_of(config: Config) -> list[str]:
    """The models the file names: declared, or watched by a monitor."""
    return sorted({*config.models, *(m.model for m in config.monitors.values())})


def grafana_dashboards(config: Config) -> GrafanaDashboardsResult:
    """The overview, then one dashboard per model."""
    boards = [_board("mlpulse-overview", "mlpulse: overview", None)]
    boards += [_board(_uid(model), f"mlpulse: {model}", model) for model in models_of(config)]
    return GrafanaDashboardsResult(tuple(boards))


def resolved_query(expr: str) -> str:
    """A panel's query with Grafana's variables as Prometheus would get them.

    >>> resolved_query('rate(x{version=~"$version"}[$__rate_interval])')
    'rate(x{version=~".*"}[5m])'
    """
    return expr.replace("$__rate_interval", "5m").replace("$version", ".*")


def queries_as_rules(result: GrafanaDashboardsResult) -> str:
    """Every panel's query as a recording rule, for ``promtool check rules``."""
    rules = [
        {"record": f"mlpulse_dashboard_query_{index}", "expr": resolved_query(expr)}
        for index, expr in enumerate(
            expr for board in result.dashboards for _, expr in board.queries
        )
    ]
    document = {"groups": [{"name": "mlpulse-dashboard-queries", "rules": rules}]}
    return yaml.safe_dump(document, sort_keys=False, width=100)
