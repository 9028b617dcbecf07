"""The embedded backend: every storage port in one data directory, no server to run.

- ``events.duckdb``: raw events, metric points and references (DuckDB, owned by the
  collector process: see :mod:`.duckdb_events`);
- ``metadata.sqlite``: one SQLite database for keys, models and schemas, alerts with
  incidents and the audit log, the registry, experiments, rollouts and bandits, with a
  schema version and forward migrations (:mod:`.sqlite_migrations`). One database, so a
  change that spans stores commits once (:meth:`EmbeddedBackend.transaction`); WAL mode,
  so ``mlpulse keys create`` works beside a running collector;
- ``profiles.sqlite``: minute profiles, in a file of their own. They are the one
  append-heavy table (every aggregator flush writes blobs of tens of kilobytes per model
  and minute) and never change together with the records above; in the metadata
  database their writes would hold SQLite's single write lock, and their WAL's
  checkpoints, in front of the alert engine's and the registry's small transactions.
  Kept apart, the metadata file also stays small enough to copy at any time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager

from mlpulse.adapters.cluster.local import LocalCoordination
from mlpulse.adapters.store.duckdb_bandits import DuckDBBanditOutcomes
from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.duckdb_experiments import DuckDBExperimentOutcomes
from mlpulse.adapters.store.duckdb_rollouts import DuckDBRolloutOutcomes
from mlpulse.adapters.store.duckdb_series import DuckDBSeriesStore
from mlpulse.adapters.store.duckdb_traffic import DuckDBTraffic
from mlpulse.adapters.store.factory import Settings
from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.adapters.store.sqlite_bandits import SQLiteBanditStore
from mlpulse.adapters.store.sqlite_database import open_metadata_database
from mlpulse.adapters.store.sqlite_experiments import SQLiteExperimentStore
from mlpulse.adapters.store.sqlite_metadata import SQLiteMetadataStore
from mlpulse.adapters.store.sqlite_profiles import SQLiteProfileStore
from mlpulse.adapters.store.sqlite_registry import SQLiteRegistryStore
from mlpulse.adapters.store.sqlite_rollouts import SQLiteRolloutStore
from mlpulse.ports import (
    AlertStore,
    BanditStore,
    EventStore,
    ExperimentStore,
    IncidentStore,
    LabelStore,
    MetadataStore,
    OutcomeSource,
    RegistryStore,
    RewardTotals,
    RolloutStore,
    SeriesStore,
    TrafficSource,
    VersionOutcomes,
)


class EmbeddedBackend:
    """:class:`mlpulse.ports.Backend` in ``settings.data_dir`` (made if missing).

    Opening it migrates the metadata database forward, copying in the separate files
    of earlier versions (renamed ``*.migrated`` afterwards).
    """

    events: EventStore
    labels: LabelStore
    series: SeriesStore
    metadata: MetadataStore
    alerts: AlertStore
    incidents: IncidentStore
    registry: RegistryStore
    experiments: ExperimentStore
    rollouts: RolloutStore
    bandits: BanditStore
    experiment_outcomes: OutcomeSource
    rollout_outcomes: VersionOutcomes
    bandit_rewards: RewardTotals
    traffic: TrafficSource

    def __init__(self, settings: Settings) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._closers: list[Callable[[], None]] = []
        self.database = open_metadata_database(settings.metadata_path, legacy_dir=settings.data_dir)
        self._closers.append(self.database.close)
        try:
            self.metadata = SQLiteMetadataStore(self.database)
            alerts = SQLiteAlertStore(self.database)
            self.alerts, self.incidents = alerts, alerts
            self.registry = SQLiteRegistryStore(self.database)
            self.experiments = SQLiteExperimentStore(self.database)
            self.rollouts = SQLiteRolloutStore(self.database)
            self.bandits = SQLiteBanditStore(self.database)
            events = DuckDBEventStore(settings.events_path, checkpoint_mb=settings.checkpoint_mb)
            self._closers.append(events.close)
            self.events, self.labels = events, events
            profiles = SQLiteProfileStore(settings.profiles_path)
            self._closers.append(profiles.close)
            series = DuckDBSeriesStore(events.connection(), profiles)
            self._closers.append(series.close)  # before the event store: its cursor
            self.series = series
            self.experiment_outcomes = DuckDBExperimentOutcomes(events)
            self.rollout_outcomes = DuckDBRolloutOutcomes(events)
            self.bandit_rewards = DuckDBBanditOutcomes(events)
            self.traffic = DuckDBTraffic(events)
        except BaseException:
            self.close()
            raise

    def transaction(self, action: str) -> AbstractContextManager[sqlite3.Connection]:
        """One transaction over the metadata stores: their writes inside the block
        commit together when it ends, or not at all."""
        return self.database.transaction(action)

    def coordination(self, *, name: str, url: str) -> LocalCoordination:
        """One process: it leads, and its ingest feeds its detectors."""
        return LocalCoordination()

    def close(self) -> None:
        """Release every store, newest first (the series store before the events'); one
        that fails to close does not keep the others open, and its error is raised."""
        failed: BaseException | None = None
        while self._closers:
            try:
                self._closers.pop()()
            except Exception as exc:
                failed = failed or exc
        if failed is not None:
            raise failed
