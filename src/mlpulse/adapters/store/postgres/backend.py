"""Every storage port on one PostgreSQL database: what a cluster of replicas shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlpulse.adapters.store.postgres.alerts import PostgresAlertStore
from mlpulse.adapters.store.postgres.database import Database
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
)
from mlpulse.adapters.store.postgres.registry import PostgresRegistryStore
from mlpulse.adapters.store.postgres.series import PostgresSeriesStore

if TYPE_CHECKING:  # the settings are the server's; the store only carries them
    from mlpulse.server.settings import Settings


class PostgresBackend:
    """The stores of :class:`mlpulse.ports.Backend` on the database at ``url``.

    Opening migrates the schema (see :mod:`.database`); ``schema`` names the PostgreSQL
    schema the tables live in (``public`` unless several deployments share a database).
    ``settings`` are the collector's; the stores take none of them today, but every
    backend is built from the same two arguments.
    """

    def __init__(
        self, url: str, settings: Settings, *, schema: str = "public", pool_size: int = 8
    ) -> None:
        self.settings = settings
        self.database = Database(url, schema=schema, max_size=pool_size)
        try:
            self.events = PostgresEventStore(self.database)
        except BaseException:
            self.database.close()
            raise
        self.labels = self.events
        self.traffic = self.events
        self.series = PostgresSeriesStore(self.database)
        self.metadata = PostgresMetadataStore(self.database)
        self.alerts = PostgresAlertStore(self.database)
        self.incidents = self.alerts
        self.registry = PostgresRegistryStore(self.database)
        self.experiments = PostgresExperimentStore(self.database)
        self.rollouts = PostgresRolloutStore(self.database)
        self.bandits = PostgresBanditStore(self.database)
        self.experiment_outcomes = PostgresExperimentOutcomes(self.database)
        self.rollout_outcomes = PostgresRolloutOutcomes(self.database)
        self.bandit_rewards = PostgresBanditOutcomes(self.database)

    def close(self) -> None:
        """Commit what the event writer holds, then close every connection."""
        self.events.close()
        self.database.close()
