"""What the collector reports about models and their versions."""

from __future__ import annotations

import msgspec

from mlpulse.domain.schema import ColumnKind


class VersionInfo(msgspec.Struct, frozen=True):
    version: str
    first_seen: float


class ModelInfo(msgspec.Struct, frozen=True):
    """A model the collector has seen, its versions and its effective schema."""

    model: str
    versions: list[VersionInfo]
    schema: dict[str, ColumnKind]
    overrides: dict[str, ColumnKind] = msgspec.field(default_factory=dict)


class LatencyPercentiles(msgspec.Struct, frozen=True):
    p50: float | None
    p95: float | None
    p99: float | None


class VersionSummary(msgspec.Struct, frozen=True):
    """Traffic of one version over a window. Latency in milliseconds."""

    version: str
    count: int
    errors: int
    throughput_per_s: float
    error_rate: float
    latency_ms: LatencyPercentiles


class ModelSummary(msgspec.Struct, frozen=True):
    model: str
    window_s: float
    start: float
    end: float
    versions: list[VersionSummary]


class ResourcePeak(msgspec.Struct, frozen=True):
    """The highest resource readings of one serving process over a window.

    ``samples`` counts the process's resource samples in the window. CPU is percent of
    one core (above 100 on several); memory is percent of the host's; GPU utilization is
    the busiest device's. None where no sample had the reading.
    """

    host: str
    pid: int | None
    version: str
    samples: int
    cpu_percent: float | None
    memory_percent: float | None
    gpu_utilization: float | None
