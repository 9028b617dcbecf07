"""The evaluator's series on ``/metrics``: own HELP per series, and promtool's lint passes."""

from __future__ import annotations

import subprocess

import numpy as np
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mlpulse.domain.events import Label
from mlpulse.domain.monitoring import Config, ModelConfig, MonitorConfig
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.server.check_metrics import CheckPoints
from mlpulse.server.metrics import CollectorMetrics
from mlpulse.services.monitor_checks import SERIES_HELP
from tests.prometheus_tools import prometheus_tool
from tests.unit.services.test_evaluator import HOUR, T0, World


def _populated() -> str:
    """/metrics text after one tick of every kind of check, on real profiles."""
    drift = {"model": "m", "check": "drift", "compare_to": "previous_window"}
    world = World(
        Config(
            version=1,
            models={"m": ModelConfig(task="regression")},
            monitors={
                "ks": MonitorConfig(**drift),  # type: ignore[arg-type]
                "w": MonitorConfig(**drift, method="wasserstein"),  # type: ignore[arg-type]
                "pred": MonitorConfig(
                    model="m", check="prediction_drift", compare_to="previous_window"
                ),
                "quality": MonitorConfig(model="m", check="quality"),
                "p99": MonitorConfig(model="m", check="latency", warning=50.0),
                "p50": MonitorConfig(model="m", check="latency", metric="p50"),
                "tput": MonitorConfig(model="m", check="throughput"),
                "errors": MonitorConfig(model="m", check="errors"),
                "perf": MonitorConfig(model="m", check="performance"),
            },
        )
    )
    rng = np.random.default_rng(0)
    for hour in range(2):
        n = 300
        x = rng.normal(hour * 0.5, 1, n)
        ids = world.send(
            T0 + hour * HOUR, x=x.tolist(), prediction=(x * 2).tolist(), score=x.tolist(),
            latency_ms=rng.gamma(2, 10, n).tolist(),
        )  # fmt: skip
        labels = [
            Label(model="m", request_id=r, label=float(2 * v + 0.1))
            for r, v in zip(ids, x, strict=True)
        ]
        world.events.append(AcceptedBatch(f"l{hour}", T0 + hour * HOUR, labels=labels)).result()
    world.clock.t = T0 + 2 * HOUR
    report = world.evaluator.tick()
    assert report.failures == [] and report.points > 20
    metrics = CollectorMetrics()
    metrics.registry.register(CheckPoints(world.series))
    return generate_latest(metrics.registry).decode()


def test_check_points_give_each_series_its_own_help() -> None:
    families = {f.name: f for f in text_string_to_metric_families(_populated())}
    published = {name for name in SERIES_HELP if name in families}
    # Every series but those this tick could not make (p-values of a distance monitor, ...)
    assert {"mlpulse_drift_score", "mlpulse_drift_statistic", "mlpulse_drift_p_value",
            "mlpulse_prediction_drift", "mlpulse_latency_seconds", "mlpulse_performance",
            "mlpulse_label_coverage", "mlpulse_missing_rate"} <= published  # fmt: skip
    for name in published:
        assert families[name].documentation == SERIES_HELP[name]
    assert len({SERIES_HELP[name] for name in published}) == len(published)
    latency = families["mlpulse_latency_seconds"]
    assert {s.labels["percentile"] for s in latency.samples} == {"p50", "p99"}
    assert all(0.001 < s.value < 1.0 for s in latency.samples)  # seconds, not ms
    assert not any("quantile" in s.labels for f in families.values() for s in f.samples
                   if f.type == "gauge")  # fmt: skip


def test_populated_metrics_pass_promtool_check() -> None:
    path = prometheus_tool("promtool")
    text = _populated()
    checked = subprocess.run(
        [path, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    # promtool exits 1 on a parse error and 3 on a lint problem (a unit not in base units, ...).
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    assert "mlpulse_drift_score" in text and "mlpulse_check_status" in text


def test_detection_series_have_their_own_help_and_unknown_ones_a_named_one() -> None:
    from mlpulse.domain.series import MetricPoint
    from mlpulse.server.check_metrics import DETECTION_HELP
    from mlpulse.testing.fakes import InMemorySeriesStore

    series = InMemorySeriesStore()
    labels = {"model": "m", "version": "v1"}
    series.append_points(
        [
            MetricPoint(T0, "mlpulse_stream_change", {**labels, "stream": "score"}, 3.0),
            MetricPoint(T0, "mlpulse_other_thing", labels, 1.0),
        ]
    )
    metrics = CollectorMetrics()
    metrics.registry.register(CheckPoints(series))
    families = {
        f.name: f
        for f in text_string_to_metric_families(generate_latest(metrics.registry).decode())
    }
    assert (
        families["mlpulse_stream_change"].documentation == (DETECTION_HELP["mlpulse_stream_change"])
    )
    assert families["mlpulse_other_thing"].documentation == "mlpulse series mlpulse_other_thing."


def test_every_catalogued_series_has_a_help_of_its_own() -> None:
    # SLO and probe series take their HELP from the series catalogue's summary.
    from mlpulse.domain.series_catalogue import SERIES
    from mlpulse.server.check_metrics import _help

    texts = {name: _help(name) for name in SERIES}
    assert not any(text.startswith("mlpulse series") for text in texts.values())
    assert len(set(texts.values())) == len(texts)
    assert _help("mlpulse_probe_success").endswith(".")
