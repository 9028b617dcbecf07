"""Ports: the protocols services and the dashboard use to reach the outside.

Every storage protocol is here, and :class:`Backend`, which provides them all (built by
``mlpulse.adapters.store.factory.open_backend`` from ``MLPULSE_STORE``). Adapters
implement them (``mlpulse.adapters``); tests use the fakes in ``mlpulse.testing``.
Services and the server import these, never a store adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Literal, Protocol

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
from mlpulse.domain.bandits import Bandit, RewardKind
from mlpulse.domain.experiments import ExperimentSpec
from mlpulse.domain.incidents import ActionOutcome, Approval, Incident
from mlpulse.domain.ingest import IngestResult
from mlpulse.domain.models import ModelInfo, ResourcePeak, VersionSummary
from mlpulse.domain.probes import ProbeResponse
from mlpulse.domain.registry import Deployment, ModelVersion, RoutingEntry
from mlpulse.domain.rollouts import Rollout
from mlpulse.domain.schema import ColumnKind
from mlpulse.domain.series import (
    BucketedPoint,
    LabelledRows,
    MetricPoint,
    MinuteProfile,
    OutcomeBucket,
    StoredReference,
)
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

    def model_schema(self, model: str) -> dict[str, ColumnKind]:
        """One model's effective column kinds (declared over inferred); {} for a model
        without any. A read of that model's rows only: the window aggregator asks it for
        each model it sees."""
        ...

    def known_versions(self) -> set[tuple[str, str]]:
        """Every (model, version) recorded (the ingest path skips them after a restart)."""
        ...

    def known_columns(self) -> dict[str, set[str]]:
        """Inferred column names per model (to skip re-inferring after a restart)."""
        ...

    def set_schema_overrides(self, model: str, overrides: dict[str, ColumnKind]) -> None: ...

    def applied_config(self) -> tuple[str, float] | None:
        """The applied ``mlpulse.yaml`` (as JSON text) and when it was applied, if any."""
        ...

    def apply_config(self, document: str, *, now: float) -> None:
        """Replace the applied configuration (JSON text of a validated Config)."""
        ...

    def end_session(self, session_id: str, *, expires_at: float, now: float) -> None:
        """Record that a dashboard session was logged out, so that every replica refuses
        its cookie until ``expires_at`` (when the cookie expires anyway: records older
        than ``now`` may be dropped)."""
        ...

    def session_ended(self, session_id: str) -> bool:
        """Whether :meth:`end_session` was called for ``session_id``."""
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
        """Points of ``name`` in [start, end] whose labels include ``matchers``, one per
        (bucket, labels) ordered by both: the ``aggregate`` (``avg``, ``max``, ``min``,
        ``sum``; another raises ParameterError) of the series' values in each
        ``bucket_s``-long bucket, aligned to the epoch. NaN values are left out (a bucket
        of only NaN is not returned). What the dashboard's charts are drawn from."""
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


class HttpRequester(Protocol):
    """Sends one HTTP request for a synthetic probe (:mod:`mlpulse.services.probes`)."""

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: str | None,
        timeout_s: float,
    ) -> ProbeResponse:
        """The answer, timed; never raises for the network's or the server's errors
        (no answer is a response with ``status=None`` and ``error`` set)."""
        ...


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


class IncidentStore(Protocol):
    """Incidents and the audit log of automatic actions (the alert store's database)."""

    def save_incident(self, incident: Incident) -> None: ...

    def incidents(
        self, *, model: str | None = None, status: str | None = None, limit: int = 1000
    ) -> list[Incident]: ...

    def record_action(self, outcome: ActionOutcome) -> None: ...

    def actions(self, *, since: float = 0.0, runbook: str | None = None) -> list[ActionOutcome]: ...

    def save_approval(self, approval: Approval) -> None:
        """Insert or replace ``approval`` (by id): runbook actions waiting for a person."""
        ...

    def approvals(self, *, status: str | None = None) -> list[Approval]:
        """Oldest first."""
        ...


class RegistryStore(Protocol):
    """Durable registry records: versions, a revision per model, deployment history."""

    def add_version(self, version: ModelVersion, event: Deployment) -> int:
        """Store a new version and its event in one transaction; the new revision."""
        ...

    def set_routing(self, model: str, entries: Sequence[RoutingEntry], event: Deployment) -> int:
        """Set stages and weights and append ``event`` in one transaction; the new revision."""
        ...

    def versions(self, model: str) -> list[ModelVersion]: ...

    def revision(self, model: str) -> tuple[int, float] | None:
        """(revision, updated_at) of ``model``; None when it has no versions."""
        ...

    def deployments(
        self, model: str | None = None, since: float | None = None
    ) -> list[Deployment]: ...


class ExperimentStore(Protocol):
    """Durable experiment specs."""

    def insert(self, spec: ExperimentSpec) -> None:
        """Store a new experiment; InvalidInputError when the name is taken."""
        ...

    def update(self, spec: ExperimentSpec) -> None: ...

    def get(self, name: str) -> ExperimentSpec | None: ...

    def list(self) -> list[ExperimentSpec]: ...


class OutcomeSource(Protocol):
    """Per-unit totals of outcome events and of labelled predictions: what experiment
    results are built from."""

    def unit_totals(
        self, model: str, name: str, *, start: float, end: float
    ) -> list[tuple[str, float, int]]:
        """(unit id, sum of value, count) of ``model``'s outcomes named ``name`` that have a
        unit id and ``ts`` in [start, end)."""
        ...

    def label_totals(
        self, model: str, *, kind: Literal["mean", "proportion"], start: float, end: float
    ) -> list[tuple[str, str, float, int]]:
        """(unit id, version, sum of value, count) of ``model``'s labelled predictions with
        ``ts`` in [start, end), valued as ``MetricSpec`` says for ``source="labels"``
        (``proportion``: 1 when correct; ``mean``: the absolute error)."""
        ...


class RolloutStore(Protocol):
    """Durable rollouts."""

    def save(self, rollout: Rollout) -> None:
        """Insert or replace ``rollout`` (by id)."""
        ...

    def get(self, rollout_id: str) -> Rollout | None: ...

    def list(self) -> list[Rollout]:
        """Oldest first."""
        ...


class VersionOutcomes(Protocol):
    """Per-version, per-unit outcome totals: what rollout decisions are built from."""

    def version_unit_totals(
        self, model: str, name: str, versions: Sequence[str], *, start: float, end: float
    ) -> list[tuple[str, str, float, int]]:
        """(version, unit id, sum of value, count) of ``model``'s outcomes named ``name``
        of ``versions``, with a unit id and ``ts`` in [start, end)."""
        ...


class BanditStore(Protocol):
    """Durable bandits."""

    def save(self, bandit: Bandit) -> None:
        """Insert or replace ``bandit`` (by id)."""
        ...

    def get(self, bandit_id: str) -> Bandit | None: ...

    def list(self) -> list[Bandit]:
        """Oldest first."""
        ...


class RewardTotals(Protocol):
    """Per-version reward totals: what bandit allocations are built from."""

    def reward_totals(
        self, model: str, versions: Sequence[str], *, reward: str, kind: RewardKind,
        exposure: str, start: float, end: float,
    ) -> list[tuple[str, int, float, float]]:  # fmt: skip
        """(version, units, sum, sum of squares) of per-unit rewards, ``ts`` in [start, end):
        units with a ``reward`` or ``exposure`` outcome; a unit's reward is 1 or 0 (it has a
        reward event or not) for a ``proportion``, the sum of its values for a ``mean``."""
        ...


class TrafficSource(Protocol):
    """What the deployment impact and the dashboard's business view read of the events:
    traffic per version, and business outcomes per bucket."""

    def version_summaries(
        self, model: str, *, start: float, end: float
    ) -> list[VersionSummary]: ...

    def outcome_models(self) -> list[str]:
        """The models that have outcome events, sorted."""
        ...

    def outcome_buckets(
        self, model: str, *, start: float, end: float, bucket_s: float
    ) -> list[OutcomeBucket]:
        """``model``'s outcomes with ``ts`` in [start, end], one row per (bucket, name)
        ordered by both; buckets are ``bucket_s`` long, aligned to the epoch."""
        ...


class Leadership(Protocol):
    """Which replica runs the leader's duties (evaluator, alerts, outbox, rollouts,
    bandits, retention, the streaming detectors); the embedded store's one process always
    does."""

    on_change: Callable[[bool], None] | None

    @property
    def is_leader(self) -> bool: ...

    def leader_url(self, *, max_age_s: float = 1.0) -> str | None:
        """Where the leader answers, for forwarding requests about its state."""
        ...

    def start(self) -> None: ...

    def close(self) -> None: ...


class ChangeFeed(Protocol):
    """Hints to every replica that something changed (``topic``, ``key``); a subscriber
    told ``(None, None)`` must assume anything may have changed."""

    def subscribe(self, subscriber: Callable[[str | None, str | None], None]) -> None: ...

    def publish(self, topic: str, key: str) -> None: ...

    def start(self, *, wait_s: float = 5.0) -> None: ...

    def close(self) -> None: ...


class StreamFollower(Protocol):
    """Feeds the leader's streaming detectors each model's whole stream, in order."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Coordination(Protocol):
    """What replicas share besides the stores."""

    leadership: Leadership
    changes: ChangeFeed

    def follow_stream(self, listener: Callable[[AcceptedBatch], None]) -> StreamFollower | None:
        """A follower of every replica's ingest for the leader's detectors; None where the
        ingest of this one process feeds them directly."""
        ...


class Backend(Protocol):
    """Every storage port, built from settings (``MLPULSE_STORE``: a directory for the
    embedded store, or a ``postgresql://`` URL)."""

    events: EventStore  # also a LabelStore (the same object may serve both)
    labels: LabelStore
    series: SeriesStore
    metadata: MetadataStore
    alerts: AlertStore  # the object also implements IncidentStore (incidents, audit log)
    incidents: IncidentStore
    registry: RegistryStore
    experiments: ExperimentStore
    rollouts: RolloutStore
    bandits: BanditStore
    experiment_outcomes: OutcomeSource
    rollout_outcomes: VersionOutcomes
    bandit_rewards: RewardTotals
    traffic: TrafficSource

    def coordination(self, *, name: str, url: str) -> Coordination:
        """Leader election and change hints for a replica called ``name`` answering at
        ``url``."""
        ...

    def close(self) -> None: ...
