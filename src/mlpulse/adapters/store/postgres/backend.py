"""Every storage port on one PostgreSQL database: what a cluster of replicas shares.

``open_backend`` (:mod:`mlpulse.adapters.store.factory`) builds it when
``MLPULSE_STORE`` is a ``postgresql://`` URL. Any number of processes may open the same
database at once: the schema is migrated once (under an advisory lock), batch ids are
deduplicated by a primary key, and every other record is shared.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import psycopg

from mlpulse.adapters.cluster.coordination import PostgresCoordination
from mlpulse.adapters.store.factory import Settings
from mlpulse.adapters.store.postgres.alerts import PostgresAlertStore
from mlpulse.adapters.store.postgres.database import Database, Row, schema_in
from mlpulse.adapters.store.postgres.documents import (
    PostgresBanditStore,
    PostgresExperimentStore,
    PostgresRolloutStore,
)
from mlpulse.adapters.store.postgres.events import PostgresEventStore
from mlpulse.adapters.store.postgres.metadata import PostgresMetadataStore
from mlpulse.adapters.store.postgres.outcomes import (
    PostgresBanditOutcomes,
    PostgresExperimentOutcomes,
    PostgresRolloutOutcomes,
    PostgresTraffic,
)
from mlpulse.adapters.store.postgres.registry import PostgresRegistryStore
from mlpulse.adapters.store.postgres.series import PostgresSeriesStore
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


class PostgresBackend:
    """:class:`mlpulse.ports.Backend` on the database at ``url``.

    Opening it migrates the schema (see :mod:`.database`). ``schema`` names the
    PostgreSQL schema the tables live in: by default the one the URL's ``options`` put
    on the search path (``?options=-csearch_path%3Dteam_a``: several deployments, or
    tests, in one database), else ``public``. ``pool_size`` bounds this process's connections (the
    event writer has one more of its own). Of ``settings`` nothing is read today: the
    URL is all the store needs, and every backend is built from the same arguments.
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

    def __init__(
        self, url: str, settings: Settings, *, schema: str | None = None, pool_size: int = 8
    ) -> None:
        self.settings = settings
        self._url = url
        schema = schema_in(url) if schema is None else schema
        self.database = Database(url, schema=schema, max_size=pool_size)
        try:
            events = PostgresEventStore(self.database)
        except BaseException:
            self.database.close()
            raise
        self._events = events
        self.events, self.labels = events, events
        self.traffic = PostgresTraffic(self.database, events)
        self.series = PostgresSeriesStore(self.database)
        self.metadata = PostgresMetadataStore(self.database)
        alerts = PostgresAlertStore(self.database)
        self.alerts, self.incidents = alerts, alerts
        self.registry = PostgresRegistryStore(self.database)
        self.experiments = PostgresExperimentStore(self.database)
        self.rollouts = PostgresRolloutStore(self.database)
        self.bandits = PostgresBanditStore(self.database)
        self.experiment_outcomes = PostgresExperimentOutcomes(self.database)
        self.rollout_outcomes = PostgresRolloutOutcomes(self.database)
        self.bandit_rewards = PostgresBanditOutcomes(self.database)

    def coordination(self, *, name: str, url: str) -> PostgresCoordination:
        """Leader election, change hints and the detectors' stream log on this database."""
        return PostgresCoordination(
            self._url, schema=self.database.schema, name=name, advertised_url=url
        )

    def transaction(self, action: str) -> AbstractContextManager[psycopg.Connection[Row]]:
        """One transaction over the stores (all but the event writer's): their writes
        inside the block, on this thread, commit together when it ends, or not at all."""
        return self.database.transaction("PostgreSQL store", action)

    def close(self) -> None:
        """Commit what the event writer holds, then close every connection."""
        try:
            self._events.close()
        finally:
            self.database.close()
