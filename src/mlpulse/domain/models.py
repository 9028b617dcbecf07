"""What the collector reports about models and their versions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from mlpulse.domain.schema import ColumnKind, effective_schema


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


def schema_from_rows(columns: Iterable[tuple[Any, Any, Any]]) -> dict[str, ColumnKind]:
    """One model's effective schema from its stored (name, source, kind) rows, where
    source is ``inferred`` or ``override`` (what every metadata store keeps)."""
    inferred: dict[str, ColumnKind] = {}
    overrides: dict[str, ColumnKind] = {}
    for name, source, kind in columns:
        (inferred if source == "inferred" else overrides)[str(name)] = ColumnKind(kind)
    return effective_schema(inferred, overrides)


def models_from_rows(
    versions: Iterable[tuple[Any, Any, Any]], columns: Iterable[tuple[Any, Any, Any, Any]]
) -> list[ModelInfo]:
    """Every model from stored (model, version, first_seen) rows, oldest version first,
    and (model, name, source, kind) column rows; sorted by name."""
    seen: dict[str, list[VersionInfo]] = {}
    for model, version, first_seen in versions:
        seen.setdefault(str(model), []).append(VersionInfo(str(version), float(first_seen)))
    inferred: dict[str, dict[str, ColumnKind]] = {}
    overrides: dict[str, dict[str, ColumnKind]] = {}
    for model, name, source, kind in columns:
        target = inferred if source == "inferred" else overrides
        target.setdefault(str(model), {})[str(name)] = ColumnKind(kind)
    return [
        ModelInfo(
            model=name,
            versions=seen.get(name, []),
            schema=effective_schema(inferred.get(name, {}), overrides.get(name, {})),
            overrides=overrides.get(name, {}),
        )
        for name in sorted(set(seen) | set(overrides))
    ]
