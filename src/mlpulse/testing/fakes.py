"""In-memory fakes of the ports, for testing services without DuckDB or SQLite.

They keep the ports' promises (idempotent batch ids, exact percentiles as DuckDB's
``quantile_cont``), and the contract tests run the same checks over fake and real.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from concurrent.futures import Future

import msgspec
import numpy as np

from mlpulse.domain.auth import TOKEN_PREFIX, ApiKey, Scope, hash_token
from mlpulse.domain.events import epoch_seconds
from mlpulse.domain.ingest import IngestResult
from mlpulse.domain.models import LatencyPercentiles, ModelInfo, VersionInfo, VersionSummary
from mlpulse.domain.schema import ColumnKind, effective_schema
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.errors import StoreClosedError


class InMemoryEventStore:
    """:class:`mlpulse.ports.EventStore` in a list."""

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

    def count(self, kind: str) -> int:
        if kind == "prediction":
            return sum(len(block) for b in self.batches for block in b.predictions)
        return sum(len(b.labels if kind == "label" else b.outcomes) for b in self.batches)

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

    def set_schema_overrides(self, model: str, overrides: dict[str, ColumnKind]) -> None:
        self._overrides[model] = dict(overrides)

    def close(self) -> None:
        pass
