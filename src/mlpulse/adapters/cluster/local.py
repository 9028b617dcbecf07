"""One process (the embedded store): it always leads, hears its own changes, and its
ingest feeds its streaming detectors directly. No database driver is imported here: the
embedded install has none."""

from __future__ import annotations

from collections.abc import Callable

from mlpulse.domain.storage import AcceptedBatch
from mlpulse.ports import ChangeFeed, Leadership

Subscriber = Callable[[str | None, str | None], None]


class LocalLeadership:
    """The embedded backend has one process: it always leads."""

    name = "local"
    is_leader = True

    def leader_url(self, *, max_age_s: float = 1.0) -> str | None:
        return None  # never asked: this process leads

    def __init__(self, *, on_change: Callable[[bool], None] | None = None) -> None:
        self.on_change = on_change

    def start(self) -> None:
        if self.on_change is not None:
            self.on_change(True)

    def close(self) -> None:
        if self.on_change is not None:
            self.on_change(False)


class LocalChangeFeed:
    """One process: a publish is heard by its own subscribers at once."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def start(self, *, wait_s: float = 0.0) -> None:
        return None

    def publish(self, topic: str, key: str) -> None:
        for subscriber in list(self._subscribers):
            subscriber(topic, key)

    def close(self) -> None:
        return None


class LocalCoordination:
    """The embedded store: one process leads, hears its own changes, and its ingest feeds
    the streaming detectors directly."""

    def __init__(self) -> None:
        self.leadership: Leadership = LocalLeadership()
        self.changes: ChangeFeed = LocalChangeFeed()

    def follow_stream(self, listener: Callable[[AcceptedBatch], None]) -> None:
        return None
