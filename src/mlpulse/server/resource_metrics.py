"""Resource gauges on ``/metrics``: the latest CPU/GPU/memory sample of each process.

A process is a (host, pid, model, version); an absent one of those is the empty
label value, which Prometheus treats as no label. The latest sample is the one with
the latest timestamp (the time it was received when it has none), so a late batch
never overwrites a newer value. Processes come and go (every restart has a new pid),
so a series is dropped once it has had no sample for ``stale_after`` seconds, and at
most ``max_series`` processes are kept (the least recently sampled go first): a gauge
of a process that is gone would claim it still uses what it used last.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlpulse.domain.events import Resource, epoch_seconds
from mlpulse.domain.storage import AcceptedBatch

BYTES_PER_MB: Final = 1024 * 1024  # the SDK's MB are 2**20 bytes, as psutil users count
_LABELS: Final = ["host", "pid", "model", "version"]

_Key = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class _Latest:
    sample_time: float
    seen_at: float  # monotonic time when it arrived, for staleness
    sample: Resource


class ResourceSeries(Collector):
    """Gauges of the latest resource sample per (host, pid, model, version)."""

    def __init__(
        self,
        *,
        stale_after: float = 600.0,
        max_series: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stale_after = stale_after
        self._monotonic = monotonic
        self._max_series = max_series
        # Insertion order = update order: the first entry is the least recently sampled.
        self._latest: dict[_Key, _Latest] = {}
        self._lock = threading.Lock()

    def observe_batch(self, batch: AcceptedBatch) -> None:
        if not batch.resources:
            return
        now = self._monotonic()
        with self._lock:
            for event in batch.resources:
                key = (
                    event.host or "",
                    "" if event.pid is None else str(event.pid),
                    event.model or "",
                    event.version or "",
                )
                at = (
                    batch.received_at if event.timestamp is None else epoch_seconds(event.timestamp)
                )
                known = self._latest.pop(key, None)
                if known is not None and known.sample_time > at:
                    self._latest[key] = _Latest(known.sample_time, now, known.sample)
                else:
                    self._latest[key] = _Latest(at, now, event)
            while len(self._latest) > self._max_series:
                del self._latest[next(iter(self._latest))]

    def collect(self) -> Iterator[Metric]:
        cpu = GaugeMetricFamily(
            "mlpulse_resource_cpu_percent",
            "CPU use of a process in percent of one core (above 100 on several cores), "
            "latest sample.",
            labels=_LABELS,
        )
        rss = GaugeMetricFamily(
            "mlpulse_resource_memory_rss_bytes",
            "Resident memory of a process, latest sample.",
            labels=_LABELS,
        )
        memory_percent = GaugeMetricFamily(
            "mlpulse_resource_memory_percent",
            "Resident memory of a process in percent of its host's memory, latest sample.",
            labels=_LABELS,
        )
        gpu = GaugeMetricFamily(
            "mlpulse_resource_gpu_utilization_percent",
            "Utilization of a GPU the process sees, latest sample.",
            labels=[*_LABELS, "gpu"],
        )
        gpu_memory = GaugeMetricFamily(
            "mlpulse_resource_gpu_memory_used_bytes",
            "Memory used on a GPU the process sees, latest sample.",
            labels=[*_LABELS, "gpu"],
        )
        cutoff = self._monotonic() - self._stale_after
        with self._lock:
            for key in [k for k, v in self._latest.items() if v.seen_at < cutoff]:
                del self._latest[key]
            latest = sorted(
                ((key, value.sample) for key, value in self._latest.items()),
                key=lambda item: item[0],
            )
        for key, sample in latest:
            labels = list(key)
            if sample.cpu_percent is not None:
                cpu.add_metric(labels, sample.cpu_percent)
            if sample.memory_rss_mb is not None:
                rss.add_metric(labels, sample.memory_rss_mb * BYTES_PER_MB)
            if sample.memory_percent is not None:
                memory_percent.add_metric(labels, sample.memory_percent)
            for i, value in enumerate(sample.gpu_utilization or ()):
                gpu.add_metric([*labels, str(i)], value)
            for i, value in enumerate(sample.gpu_memory_used_mb or ()):
                gpu_memory.add_metric([*labels, str(i)], value * BYTES_PER_MB)
        yield cpu
        yield rss
        yield memory_percent
        yield gpu
        yield gpu_memory
