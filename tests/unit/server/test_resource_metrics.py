"""Resource gauges: the latest sample per process, in Prometheus units, and no ghosts."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mlpulse.domain.events import Resource
from mlpulse.domain.ingest import IngestResult
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.server.metrics import CollectorMetrics
from mlpulse.server.resource_metrics import BYTES_PER_MB, ResourceSeries

NOW = 1_767_225_600.0
Labels = tuple[tuple[str, str], ...]


def _samples(registry: CollectorRegistry) -> dict[tuple[str, Labels], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("mlpulse_resource")
    }


def _labels(
    host: str = "", pid: str = "", model: str = "", version: str = "", **more: str
) -> Labels:
    # An absent part is the empty value (which Prometheus treats as no label).
    given = {"host": host, "pid": pid, "model": model, "version": version, **more}
    return tuple(sorted(given.items()))


def _batch(*resources: Resource, received_at: float = NOW) -> AcceptedBatch:
    return AcceptedBatch("b", received_at, resources=list(resources))


class Clock:
    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value


def _series(
    *, stale_after: float = 600.0, max_series: int = 10_000
) -> tuple[ResourceSeries, CollectorRegistry, Clock]:
    clock = Clock()
    series = ResourceSeries(stale_after=stale_after, max_series=max_series, monotonic=clock)
    registry = CollectorRegistry()
    registry.register(series)
    return series, registry, clock


def test_resource_series_exposes_each_field_in_prometheus_units() -> None:
    series, registry, _ = _series()
    series.observe_batch(
        _batch(
            Resource(
                model="fraud",
                version="v3",
                host="web-1",
                pid=42,
                cpu_percent=150.0,
                memory_rss_mb=512.0,
                memory_percent=6.25,
                gpu_utilization=[87.0, 12.0],
                gpu_memory_used_mb=[1024.0, 0.5],
            )
        )
    )
    key = {"host": "web-1", "pid": "42", "model": "fraud", "version": "v3"}
    assert _samples(registry) == {
        ("mlpulse_resource_cpu_percent", _labels(**key)): 150.0,
        ("mlpulse_resource_memory_rss_bytes", _labels(**key)): 512.0 * BYTES_PER_MB,
        ("mlpulse_resource_memory_percent", _labels(**key)): 6.25,
        ("mlpulse_resource_gpu_utilization_percent", _labels(**key, gpu="0")): 87.0,
        ("mlpulse_resource_gpu_utilization_percent", _labels(**key, gpu="1")): 12.0,
        ("mlpulse_resource_gpu_memory_used_bytes", _labels(**key, gpu="0")): 1024.0 * 2**20,
        ("mlpulse_resource_gpu_memory_used_bytes", _labels(**key, gpu="1")): 0.5 * 2**20,
    }


def test_resource_series_keeps_the_latest_sample_per_process_even_when_batches_arrive_late() -> (
    None
):
    series, registry, _ = _series()
    series.observe_batch(
        _batch(
            Resource(host="h", pid=1, cpu_percent=10.0, timestamp=NOW),
            Resource(host="h", pid=1, cpu_percent=20.0, timestamp=NOW + 15),
            Resource(host="h", pid=2, cpu_percent=30.0),  # no timestamp: received at NOW
        )
    )
    series.observe_batch(_batch(Resource(host="h", pid=1, cpu_percent=99.0, timestamp=NOW + 5)))
    series.observe_batch(_batch(Resource(host="h", pid=2, cpu_percent=40.0), received_at=NOW + 1))
    cpu = {
        labels: value
        for (name, labels), value in _samples(registry).items()
        if name == "mlpulse_resource_cpu_percent"
    }
    assert cpu == {_labels(host="h", pid="1"): 20.0, _labels(host="h", pid="2"): 40.0}


def test_resource_series_leaves_out_fields_a_sample_does_not_have() -> None:
    series, registry, _ = _series()
    series.observe_batch(_batch(Resource(host="h", memory_rss_mb=1.0)))
    assert _samples(registry) == {
        ("mlpulse_resource_memory_rss_bytes", _labels(host="h")): float(BYTES_PER_MB)
    }


def test_resource_series_forgets_a_process_with_no_sample_for_stale_after_seconds() -> None:
    series, registry, clock = _series(stale_after=60.0)
    series.observe_batch(_batch(Resource(pid=1, cpu_percent=1.0), Resource(pid=2, cpu_percent=2.0)))
    clock.value = 50.0
    series.observe_batch(_batch(Resource(pid=2, cpu_percent=3.0)))
    clock.value = 70.0
    assert set(_samples(registry)) == {("mlpulse_resource_cpu_percent", _labels(pid="2"))}
    clock.value = 200.0
    assert _samples(registry) == {}


def test_resource_series_keeps_at_most_max_series_dropping_the_least_recently_sampled() -> None:
    series, registry, _ = _series(max_series=2)
    for pid in (1, 2, 1, 3):
        series.observe_batch(_batch(Resource(pid=pid, cpu_percent=float(pid))))
    assert {labels for _, labels in _samples(registry)} == {_labels(pid="1"), _labels(pid="3")}


def test_collector_metrics_count_resource_events_and_show_their_gauges() -> None:
    metrics = CollectorMetrics()
    batch = _batch(Resource(host="h", pid=7, cpu_percent=5.0), Resource(host="h", pid=8))
    metrics.observe(batch, IngestResult(batch_id="b", accepted=batch.accepted), 0.01)
    text = generate_latest(metrics.registry).decode()
    assert 'mlpulse_ingest_events_total{kind="resource"} 2.0' in text
    assert 'mlpulse_resource_cpu_percent{host="h",model="",pid="7",version=""} 5.0' in text
