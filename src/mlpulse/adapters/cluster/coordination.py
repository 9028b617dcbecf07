"""What the PostgreSQL backend gives its replicas to coordinate (the embedded store's one
process: :mod:`.local`)."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable

from mlpulse.adapters.cluster.changes import PostgresChangeFeed
from mlpulse.adapters.cluster.leader import PostgresLeadership
from mlpulse.adapters.cluster.stream_log import StreamLogReader
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.ports import ChangeFeed, Leadership


class PostgresCoordination:
    """Replicas of one PostgreSQL database (one ``schema``: several deployments may share
    a database, each with its own leader)."""

    def __init__(self, url: str, *, schema: str, name: str, advertised_url: str) -> None:
        self._url = url
        # One leader per schema: the lock's second key is derived from its name.
        self.leadership: Leadership = PostgresLeadership(
            url,
            name=name,
            url_advertised=advertised_url,
            lock_object=zlib.crc32(schema.encode()) & 0x7FFFFFFF,
        )
        self.changes: ChangeFeed = PostgresChangeFeed(url, channel=f"mlpulse_changes_{schema}"[:63])

    def follow_stream(self, listener: Callable[[AcceptedBatch], None]) -> StreamLogReader:
        return StreamLogReader(self._url, listener, now=time.time)
