"""Changes that every replica must hear of at once: PostgreSQL LISTEN/NOTIFY.

A replica that changes a model's routing table tells the others on one channel; each
replica listens on a connection of its own and wakes the SDK routers long-polling it.
A notification is only a hint ("look again"), never the data: the data is in the
database, so a lost hint costs at most one poll interval. After the listening
connection is lost and re-made, every subscriber is told ``None`` ("anything may
have changed") since the hints sent meanwhile are gone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

import psycopg

from mlpulse.adapters.cluster.leader import KEEPALIVES

log = logging.getLogger("mlpulse.cluster")

CHANNEL: Final = "mlpulse_changes"
# NOTIFY payloads are limited to 8,000 bytes; a hint carries a topic and a key only.
MAX_PAYLOAD: Final = 7900

Subscriber = Callable[[str | None, str | None], None]


class PostgresChangeFeed:
    """``publish(topic, key)`` to every replica; ``subscribe(fn)`` to hear ``fn(topic, key)``."""

    def __init__(self, url: str, *, channel: str = CHANNEL, poll_s: float = 0.5) -> None:
        self._url = url
        self._channel = channel
        self._poll = poll_s
        self._subscribers: list[Subscriber] = []
        self._publisher: psycopg.Connection[tuple[object, ...]] | None = None
        self._publish_lock = threading.Lock()
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="mlpulse-changes", daemon=True)

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def start(self, *, wait_s: float = 5.0) -> None:
        """Start listening; returns once the channel is listened to (or after ``wait_s``)."""
        self._thread.start()
        self._listening.wait(wait_s)

    def publish(self, topic: str, key: str) -> None:
        """Tell every replica (this one included) that ``key`` of ``topic`` changed."""
        payload = f"{topic}\x1f{key}"
        if len(payload.encode()) > MAX_PAYLOAD:
            payload = topic  # too long a key: a hint for the whole topic
        with self._publish_lock:
            try:
                con = self._publisher
                if con is None or con.closed:
                    con = self._publisher = psycopg.connect(
                        self._url, autocommit=True, connect_timeout=5, **KEEPALIVES,  # type: ignore[arg-type]  # libpq options
                    )  # fmt: skip
                con.execute("SELECT pg_notify(%s, %s)", (self._channel, payload))
            except psycopg.Error:
                # The change itself is stored; the others see it at their next poll.
                log.warning("could not notify the other replicas of %s", payload, exc_info=True)
                self._publisher = None

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._publish_lock:
            if self._publisher is not None:
                self._publisher.close()
                self._publisher = None

    def _listen(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._url, autocommit=True, connect_timeout=5, **KEEPALIVES,  # type: ignore[arg-type]  # libpq options
                ) as con:  # fmt: skip
                    con.execute(f'LISTEN "{self._channel}"')
                    self._listening.set()
                    if not first:
                        self._tell(None, None)  # hints sent while we were away are lost
                    first = False
                    while not self._stop.is_set():
                        for note in con.notifies(timeout=self._poll):
                            topic, _, key = note.payload.partition("\x1f")
                            self._tell(topic, key or None)
            except psycopg.Error:
                log.warning("the change feed lost its connection; reconnecting", exc_info=True)
                self._stop.wait(1.0)

    def _tell(self, topic: str | None, key: str | None) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(topic, key)
            except Exception:  # a loop boundary: one subscriber must not starve the rest
                log.exception("a change subscriber failed on %s/%s", topic, key)
