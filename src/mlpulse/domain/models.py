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
