"""Ports: the protocols services use to reach the outside.

Adapters implement them (``mlpulse.adapters``); tests use the fakes in
``mlpulse.testing``. Services import these, never an adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Protocol

from mlpulse.domain.alerts import (
    Alert,
    DeliveryResult,
    GroupState,
    Notification,
    OutboxDepth,
    OutboxEntry,
    Silence,
)
from mlpulse.domain.auth import ApiKey, Scope
from mlpulse.domain.ingest import IngestResult
from mlpulse.domain.models import ModelInfo, ResourcePeak, VersionSummary
from mlpulse.domain.schema import ColumnKind
from mlpulse.domain.series import LabelledRows, MetricPoint, MinuteProfile, StoredReference
from mlpulse.domain.storage import AcceptedBatch


class Clock(Protocol):
    """Where services get the time: the wall clock, or a simulated one."""

    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...


class EventStore(Protocol):
    """Durable storage of raw events."""

    def append(self, batch: AcceptedBatch) -> Future[IngestResult]:
        """Store ``batch`` durably; the future resolves once it is committed.

        A batch whose ``batch_id`` was stored before is not stored again: the future
        resolves to the first delivery's result with ``duplicate=True``.
        """
        ...

    def version_summaries(self, model: str, *, start: float, end: float) -> list[VersionSummary]:
        """Per version of ``model``: counts and latency percentiles in [start, end)."""
        ...

    def resource_peaks(self, model: str, *, start: float, end: float) -> list[ResourcePeak]:
        """Per process serving ``model``: its highest resource readings in [start, end)."""
        ...

    def count(self, kind: str) -> int:
        """How many events of ``kind`` (one of ``EVENT_KINDS``) are stored."""
        ...

    def is_healthy(self) -> bool:
        """True while the store accepts writes."""
        ...

    def close(self) -> None:
        """Commit what is queued and release the store."""
        ...


class MetadataStore(Protocol):
    """Small, often-read records: API keys, models, schemas."""

    def create_key(self, scopes: Sequence[Scope], *, name: str, now: float) -> tuple[ApiKey, str]:
        """Make a new key; returns its record and the secret token (shown once)."""
        ...

    def find_key(self, token_hash: str) -> ApiKey | None:
        """The key whose token hashes to ``token_hash``, revoked ones included."""
        ...

    def list_keys(self) -> list[ApiKey]: ...

    def revoke_key(self, key_id: str, *, now: float) -> bool:
        """Revoke a key; False when no such key exists."""
        ...

    def upsert_models(
        self, columns: dict[tuple[str, str], dict[str, ColumnKind]], *, now: float
    ) -> None:
        """Record (model, version) pairs seen, with newly inferred feature kinds."""
        ...

    def list_models(self) -> list[ModelInfo]: ...

    def set_schema_overrides(self, model: str, overrides: dict[str, ColumnKind]) -> None: ...

    def applied_config(self) -> tuple[str, float] | None:
        """The applied ``mlpulse.yaml`` (as JSON text) and when it was applied, if any."""
        ...

    def apply_config(self, document: str, *, now: float) -> None:
        """Replace the applied configuration (JSON text of a validated Config)."""
        ...

    def close(self) -> None: ...


class SeriesStore(Protocol):
    """Minute profiles, metric points and references (kept longer than raw events)."""

    def append_profiles(self, rows: Sequence[MinuteProfile]) -> None:
        """Store partial minute profiles durably (returns once committed)."""
        ...

    def read_profiles(
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> list[MinuteProfile]:
        """Every stored partial profile of ``model`` whose minute starts in [start, end)."""
        ...

    def profile_index(
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> list[tuple[float, int, int]]:
        """Per minute in [start, end) with profiles: (minute, partial rows, version stamp).

        The stamp changes whenever a row is added to the minute (e.g. the newest write
        time). Cheap, no profile is read: readers cache merged minutes and re-read a
        minute only when its rows changed (a late partial row, another collector's).
        """
        ...

    def append_points(self, points: Sequence[MetricPoint]) -> None:
        """Store metric points; one with the same (name, labels, ts) as before replaces it."""
        ...

    def query_points(
        self, name: str, *, matchers: Mapping[str, str], start: float, end: float
    ) -> list[MetricPoint]:
        """Points of ``name`` in [start, end] whose labels include ``matchers``, by time."""
        ...

    def latest_points(self) -> list[MetricPoint]:
        """The newest point of every (name, labels) series."""
        ...

    def put_reference(self, reference: StoredReference) -> None:
        """Store the reference of (model, version), replacing an earlier one."""
        ...

    def get_reference(self, model: str, version: str) -> StoredReference | None:
        """The reference of (model, version), else the model's ("" version), else None."""
        ...


class LabelStore(Protocol):
    """Predictions joined to labels, and the raw events' retention."""

    def labelled_predictions(
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> LabelledRows:
        """Predictions with ``ts`` in [start, end) that have a label (the latest one)."""
        ...

    def labelled_since(
        self, model: str, *, since: float, window: float | None = None
    ) -> list[tuple[str, float]]:
        """(version, prediction ts) of the predictions whose label arrived at or after
        ``since`` (received time); with ``window`` (seconds), each distinct (version,
        start of the epoch-aligned window) once: the windows to recompute."""
        ...

    def delete_events_before(self, cutoff: float) -> int:
        """Delete raw events of every kind with ``ts`` < cutoff; returns rows."""
        ...


class Notifier(Protocol):
    """Sends notifications to one kind of service (Slack, PagerDuty, webhook, ...)."""

    kind: str

    def send(self, notification: Notification) -> DeliveryResult:
        """Deliver one notification; never raises for the service's or network's errors
        (they are a result with ``delivered=False``)."""
        ...

    def close(self) -> None: ...


class AlertStore(Protocol):
    """Alerts, notification groups, silences and the durable outbox."""

    def alerts(self, *, include_resolved_since: float | None = None) -> list[Alert]: ...

    def groups(self) -> list[GroupState]: ...

    def silences(self) -> list[Silence]: ...

    def save_silence(self, silence: Silence) -> None: ...

    def commit(
        self,
        *,
        alerts: Sequence[Alert] = (),
        groups: Sequence[GroupState] = (),
        dropped_groups: Sequence[str] = (),
        notifications: Sequence[Notification] = (),
        now: float,
    ) -> None:
        """Alert and group states and queued notifications, in one transaction."""
        ...

    def due(
        self, now: float, *, limit: int = 100, receiver: str | None = None
    ) -> list[OutboxEntry]: ...

    def due_receivers(self, now: float) -> list[str]: ...

    def next_due_at(self, receiver: str | None = None) -> float | None: ...

    def outbox_depth(self) -> list[OutboxDepth]: ...

    def record_attempt(self, entry: OutboxEntry, result: DeliveryResult, *, now: float) -> None: ...

    def outbox(self, *, status: str | None = None, limit: int = 1000) -> list[OutboxEntry]: ...

    def close(self) -> None: ...
