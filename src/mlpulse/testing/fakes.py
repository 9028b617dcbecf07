"""In-memory fakes of the ports, for testing services without DuckDB or SQLite.

They keep the ports' promises (idempotent batch ids, exact percentiles as DuckDB's
``quantile_cont``), and the contract tests run the same checks over fake and real.
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

import msgspec
import numpy as np

from mlpulse.domain.auth import TOKEN_PREFIX, ApiKey, Scope, hash_token
from mlpulse.domain.events import PredictionBlock, epoch_seconds
from mlpulse.domain.ingest import IngestResult
from mlpulse.domain.models import (
    LatencyPercentiles,
    ModelInfo,
    ResourcePeak,
    VersionInfo,
    VersionSummary,
)
from mlpulse.domain.schema import ColumnKind, effective_schema
from mlpulse.domain.series import (
    BucketedPoint,
    LabelledRows,
    MetricPoint,
    MinuteProfile,
    OutcomeBucket,
    StoredReference,
    segment_key,
)
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.errors import StoreClosedError, parameter_error


def _micros(seconds: float) -> int:
    """Times are kept to the microsecond, as DuckDB's TIMESTAMPTZ keeps them."""
    return round(seconds * 1e6)


_BLOCK_COLUMNS = (
    "prediction", "timestamp", "score", "probabilities", "latency_ms", "segment", "trace_id",
    "error",
)  # fmt: skip


def _keep_rows(block: PredictionBlock, keep: list[bool]) -> PredictionBlock:
    def pick(column: Sequence[Any] | None) -> list[Any] | None:
        return None if column is None else [v for v, k in zip(column, keep, strict=True) if k]

    changes: dict[str, Any] = {name: pick(getattr(block, name)) for name in _BLOCK_COLUMNS}
    features = {name: pick(values) for name, values in block.features.items()}
    return msgspec.structs.replace(
        block, request_id=pick(block.request_id), features=features, **changes
    )


class InMemoryEventStore:
    """:class:`mlpulse.ports.EventStore`, :class:`mlpulse.ports.LabelStore` and
    :class:`mlpulse.ports.TrafficSource` in a list."""

    def __init__(self) -> None:
        self.batches: list[AcceptedBatch] = []
        self._results: dict[str, IngestResult] = {}
        self._lock = threading.Lock()
        self._closed = False

    def append(self, batch: AcceptedBatch) -> Future[IngestResult]:
        if self._closed:
            raise StoreClosedError("the event store is closed")
        future: Future[IngestResult] = Future()
        with self._lock:
            first = self._results.get(batch.batch_id)
            if first is not None:
                future.set_result(msgspec.structs.replace(first, duplicate=True))
                return future
            result = IngestResult(batch.batch_id, batch.accepted, batch.rejected)
            self._results[batch.batch_id] = result
            self.batches.append(batch)
        future.set_result(result)
        return future

    def version_summaries(self, model: str, *, start: float, end: float) -> list[VersionSummary]:
        rows: dict[str, tuple[list[float], int, int]] = {}
        for batch in self.batches:
            for block in batch.predictions:
                if block.model != model:
                    continue
                times = block.timestamp or [None] * len(block)
                latencies = block.latency_ms or [None] * len(block)
                errors = block.error or [None] * len(block)
                for ts, latency, error in zip(times, latencies, errors, strict=True):
                    t = batch.received_at if ts is None else epoch_seconds(ts)
                    if not start <= t < end:
                        continue
                    lat, count, failed = rows.get(block.version, ([], 0, 0))
                    if latency is not None:
                        lat.append(latency)
                    rows[block.version] = (lat, count + 1, failed + (error is not None))
        window = end - start
        summaries = []
        for version, (observed, count, failed) in sorted(rows.items()):
            p50, p95, p99 = (
                (float(q) for q in np.percentile(observed, [50, 95, 99]))
                if observed
                else (None, None, None)
            )
            summaries.append(
                VersionSummary(
                    version=version,
                    count=count,
                    errors=failed,
                    throughput_per_s=count / window,
                    error_rate=failed / count,
                    latency_ms=LatencyPercentiles(p50=p50, p95=p95, p99=p99),
                )
            )
        return summaries

    def resource_peaks(self, model: str, *, start: float, end: float) -> list[ResourcePeak]:
        found: dict[tuple[str, int | None, str], list[Any]] = {}
        for batch in self.batches:
            for r in batch.resources:
                t = batch.received_at if r.timestamp is None else epoch_seconds(r.timestamp)
                if r.model != model or not start <= t < end:
                    continue
                key = (r.host or "", r.pid, r.version or "")
                gpu = max(r.gpu_utilization) if r.gpu_utilization else None
                found.setdefault(key, []).append((r.cpu_percent, r.memory_percent, gpu))
        return [
            ResourcePeak(*key, len(samples), *(_peak([s[i] for s in samples]) for i in range(3)))
            for key, samples in sorted(found.items(), key=lambda kv: str(kv[0]))
        ]

    def count(self, kind: str) -> int:
        if kind == "prediction":
            return sum(len(block) for b in self.batches for block in b.predictions)
        rows = {"label": "labels", "outcome": "outcomes", "resource": "resources"}[kind]
        return sum(len(getattr(b, rows)) for b in self.batches)

    # -- LabelStore ------------------------------------------------------------------------

    def _predictions(self, model: str) -> Iterator[tuple[int, str, str, tuple[Any, ...]]]:
        """(ts in µs, version, request_id, (prediction, score, probabilities, segment))."""
        for batch in self.batches:
            for block in batch.predictions:
                if block.model != model:
                    continue
                none = [None] * len(block)
                for row in zip(
                    block.timestamp or none, block.request_id, block.prediction or none,
                    block.score or none, block.probabilities or none, block.segment or none,
                    strict=True,
                ):  # fmt: skip
                    ts = batch.received_at if row[0] is None else epoch_seconds(row[0])
                    yield _micros(ts), block.version, row[1], row[2:]

    def _latest_labels(self, model: str, *, since: float | None = None) -> dict[str, Any]:
        """request_id → the label received last (stored last among equals); null ignored."""
        labels: dict[str, Any] = {}
        for batch in self.batches:
            if since is not None and _micros(batch.received_at) < _micros(since):
                continue
            for label in batch.labels:
                if label.model == model and label.label is not None:
                    labels[label.request_id] = label.label  # batches are in received order
        return labels

    def labelled_predictions(
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> LabelledRows:
        labels = self._latest_labels(model)
        total, rows = 0, []
        for us, v, request_id, values in self._predictions(model):
            if not _micros(start) <= us < _micros(end) or version not in (None, v):
                continue
            total += 1
            if request_id in labels:
                rows.append((us, request_id, v, *values, labels[request_id]))
        rows.sort(key=lambda row: row[:3])
        columns: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)] or [
            [] for _ in range(8)
        ]
        return LabelledRows(
            ts=[us / 1e6 for us in columns[0]],
            version=columns[2],
            request_id=columns[1],
            prediction=columns[3],
            score=columns[4],
            probabilities=columns[5],
            segment=[segment_key(s) for s in columns[6]],
            label=columns[7],
            total=total,
        )

    def labelled_since(
        self, model: str, *, since: float, window: float | None = None
    ) -> list[tuple[str, float]]:
        late = self._latest_labels(model, since=since)
        found = {(us, v) for us, v, request_id, _ in self._predictions(model) if request_id in late}
        if window is not None:
            step = round(window * 1e6)
            found = {(us // step * step, v) for us, v in found}
        return [(v, us / 1e6) for us, v in sorted(found)]

    def delete_events_before(self, cutoff: float) -> int:
        limit, deleted = _micros(cutoff), 0

        def keep(ts: Any, received_at: float) -> bool:
            return _micros(received_at if ts is None else epoch_seconds(ts)) >= limit

        with self._lock:
            for i, batch in enumerate(self.batches):
                blocks = []
                for block in batch.predictions:
                    times = block.timestamp or [None] * len(block)
                    kept = [keep(ts, batch.received_at) for ts in times]
                    deleted += kept.count(False)
                    if any(kept):
                        blocks.append(_keep_rows(block, kept))
                labels = [e for e in batch.labels if keep(e.timestamp, batch.received_at)]
                outcomes = [e for e in batch.outcomes if keep(e.timestamp, batch.received_at)]
                resources = [e for e in batch.resources if keep(e.timestamp, batch.received_at)]
                deleted += len(batch.labels) - len(labels) + len(batch.outcomes) - len(outcomes)
                deleted += len(batch.resources) - len(resources)
                self.batches[i] = dataclasses.replace(
                    batch,
                    predictions=blocks,
                    labels=labels,
                    outcomes=outcomes,
                    resources=resources,
                )
        return deleted

    # -- TrafficSource (version_summaries above) ------------------------------------------

    def outcome_models(self) -> list[str]:
        return sorted({o.model for b in self.batches for o in b.outcomes if o.model is not None})

    def outcome_buckets(
        self, model: str, *, start: float, end: float, bucket_s: float
    ) -> list[OutcomeBucket]:
        step = max(1, _micros(bucket_s))
        found: dict[tuple[int, str], tuple[int, float, int]] = {}
        for batch in self.batches:
            for o in batch.outcomes:
                t = batch.received_at if o.timestamp is None else epoch_seconds(o.timestamp)
                if o.model != model or not _micros(start) <= _micros(t) <= _micros(end):
                    continue
                key = (_micros(t) // step * step, o.name)
                events, total, valued = found.get(key, (0, 0.0, 0))
                has_value = o.value is not None
                found[key] = (
                    events + 1,
                    total + (o.value if has_value else 0.0),
                    valued + has_value,
                )
        return [
            OutcomeBucket(us / 1e6, name, events, total, valued)
            for (us, name), (events, total, valued) in sorted(found.items())
        ]

    def is_healthy(self) -> bool:
        return not self._closed

    def close(self) -> None:
        self._closed = True


class InMemoryMetadataStore:
    """:class:`mlpulse.ports.MetadataStore` in dicts."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[ApiKey, str]] = {}
        self._versions: dict[tuple[str, str], float] = {}
        self._inferred: dict[str, dict[str, ColumnKind]] = {}
        self._overrides: dict[str, dict[str, ColumnKind]] = {}
        self._config: tuple[str, float] | None = None
        self._ended_sessions: dict[str, float] = {}

    def end_session(self, session_id: str, *, expires_at: float, now: float) -> None:
        self._ended_sessions = {s: t for s, t in self._ended_sessions.items() if t >= now}
        self._ended_sessions.setdefault(session_id, expires_at)

    def session_ended(self, session_id: str) -> bool:
        return session_id in self._ended_sessions

    def create_key(self, scopes: Sequence[Scope], *, name: str, now: float) -> tuple[ApiKey, str]:
        key_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(key_id, name, frozenset(scopes), now)
        self._keys[key_id] = (key, hash_token(token))
        return key, token

    def find_key(self, token_hash: str) -> ApiKey | None:
        return next((k for k, h in self._keys.values() if h == token_hash), None)

    def list_keys(self) -> list[ApiKey]:
        return [k for k, _ in self._keys.values()]

    def revoke_key(self, key_id: str, *, now: float) -> bool:
        if key_id not in self._keys:
            return False
        key, token_hash = self._keys[key_id]
        if key.revoked_at is None:
            key = ApiKey(key.key_id, key.name, key.scopes, key.created_at, revoked_at=now)
        self._keys[key_id] = (key, token_hash)
        return True

    def upsert_models(
        self, columns: dict[tuple[str, str], dict[str, ColumnKind]], *, now: float
    ) -> None:
        for (model, version), kinds in columns.items():
            self._versions.setdefault((model, version), now)
            known = self._inferred.setdefault(model, {})
            for name, kind in kinds.items():
                known.setdefault(name, kind)

    def model_schema(self, model: str) -> dict[str, ColumnKind]:
        return effective_schema(self._inferred.get(model, {}), self._overrides.get(model, {}))

    def list_models(self) -> list[ModelInfo]:
        names = sorted({m for m, _ in self._versions} | set(self._overrides))
        return [
            ModelInfo(
                model=name,
                versions=sorted(
                    (VersionInfo(v, t) for (m, v), t in self._versions.items() if m == name),
                    key=lambda info: info.first_seen,
                ),
                schema=effective_schema(
                    self._inferred.get(name, {}), self._overrides.get(name, {})
                ),
                overrides=dict(self._overrides.get(name, {})),
            )
            for name in names
        ]

    def known_versions(self) -> set[tuple[str, str]]:
        return set(self._versions)

    def known_columns(self) -> dict[str, set[str]]:
        return {model: set(kinds) for model, kinds in self._inferred.items() if kinds}

    def set_schema_overrides(self, model: str, overrides: dict[str, ColumnKind]) -> None:
        self._overrides[model] = dict(overrides)

    def applied_config(self) -> tuple[str, float] | None:
        return self._config

    def apply_config(self, document: str, *, now: float) -> None:
        self._config = (document, now)

    def close(self) -> None:
        pass


def _labels_text(labels: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"), ensure_ascii=False)


class InMemorySeriesStore:
    """:class:`mlpulse.ports.SeriesStore` in a list and dicts."""

    def __init__(self) -> None:
        self._profiles: list[MinuteProfile] = []
        self._points: dict[tuple[str, str, int], MetricPoint] = {}
        self._references: dict[tuple[str, str], StoredReference] = {}
        self._lock = threading.Lock()

    def append_profiles(self, rows: Sequence[MinuteProfile]) -> None:
        with self._lock:
            self._profiles.extend(
                msgspec.structs.replace(r, minute=_micros(r.minute) / 1e6) for r in rows
            )

    def read_profiles(
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> list[MinuteProfile]:
        found = [
            r
            for r in self._profiles
            if r.model == model
            and _micros(start) <= _micros(r.minute) < _micros(end)
            and version in (None, r.version)
        ]
        return sorted(found, key=lambda r: (r.minute, r.version, r.segment, r.writer))

    def profile_index(
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> list[tuple[float, int, int]]:
        index: dict[float, tuple[int, int]] = {}
        for row in self.read_profiles(model, start=start, end=end, version=version):
            rows, size = index.get(row.minute, (0, 0))
            index[row.minute] = (rows + 1, size + len(row.profile))
        return [(minute, rows, size) for minute, (rows, size) in sorted(index.items())]

    def append_points(self, points: Sequence[MetricPoint]) -> None:
        with self._lock:
            for p in points:
                labels = dict(sorted(p.labels.items()))
                us = _micros(p.ts)
                stored = MetricPoint(us / 1e6, p.name, labels, p.value, p.status)
                self._points[p.name, _labels_text(labels), us] = stored

    def query_points(
        self, name: str, *, matchers: Mapping[str, str], start: float, end: float
    ) -> list[MetricPoint]:
        found = [
            (us, text, point)
            for (n, text, us), point in self._points.items()
            if n == name
            and _micros(start) <= us <= _micros(end)
            and all(point.labels.get(k) == v for k, v in matchers.items())
        ]
        return [point for *_, point in sorted(found, key=lambda row: row[:2])]

    def bucketed_points(
        self,
        name: str,
        *,
        matchers: Mapping[str, str],
        start: float,
        end: float,
        bucket_s: float,
        aggregate: str = "avg",
    ) -> list[BucketedPoint]:
        combine = _AGGREGATES.get(aggregate)
        if combine is None:
            raise parameter_error(
                "aggregate", "bucketed_points", f"one of {sorted(_AGGREGATES)}", aggregate
            )
        step = max(1, _micros(bucket_s))
        buckets: dict[tuple[int, str], list[float]] = {}
        for point in self.query_points(name, matchers=matchers, start=start, end=end):
            if math.isnan(point.value):
                continue
            key = (_micros(point.ts) // step * step, _labels_text(point.labels))
            buckets.setdefault(key, []).append(point.value)
        return [
            BucketedPoint(us / 1e6, json.loads(text), combine(values), len(values))
            for (us, text), values in sorted(buckets.items())
        ]

    def latest_points(self) -> list[MetricPoint]:
        latest: dict[tuple[str, str], tuple[int, MetricPoint]] = {}
        for (name, text, us), point in self._points.items():
            if (name, text) not in latest or latest[name, text][0] < us:
                latest[name, text] = (us, point)
        return [point for _, (_, point) in sorted(latest.items(), key=lambda item: item[0])]

    def put_reference(self, reference: StoredReference) -> None:
        created = _micros(reference.created_at) / 1e6
        self._references[reference.model, reference.version] = msgspec.structs.replace(
            reference, created_at=created
        )

    def get_reference(self, model: str, version: str) -> StoredReference | None:
        return self._references.get((model, version)) or self._references.get((model, ""))


_AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "avg": lambda values: math.fsum(values) / len(values),
    "max": max,
    "min": min,
    "sum": math.fsum,
}


def _peak(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None
