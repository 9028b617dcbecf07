"""Leader election among collector replicas: a PostgreSQL session advisory lock.

Why an advisory lock: it needs nothing beside the database the replicas already share,
and PostgreSQL releases it the moment the holder's session ends. A leader killed with
``kill -9`` closes its socket, its backend exits and the lock is free; the next replica
that asks (every ``check_every_s``) takes it. So failover takes at most one check
interval after the kernel closes the socket (plus TCP keepalive time if the machine
itself vanished, bounded by the keepalive settings below).

The leader records where it answers (``url``) in ``cluster_leader``, so the other
replicas can forward to it the requests that change what only the leader holds
(alerts, incidents, rollouts: see ``server/leader_forwarding.py``).

A leader must also notice when it stops being one (its connection broke: the server
has ended the session, and with it the lock). It checks its own connection every
``check_every_s``; a check that fails, or no successful check for ``lease_s``, demotes
it at once, before another replica can have been elected for longer than that.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

import psycopg

log = logging.getLogger("mlpulse.cluster")

# A constant lock key: one leader per database. (The two int4 form keeps it apart from
# keys other software might take with a single bigint.)
LOCK_CLASS: Final = 0x6D6C70  # "mlp"
LOCK_OBJECT: Final = 1
# Keepalives: a leader whose machine vanished is found dead within about 10 s.
_LEADER_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS cluster_leader (id integer PRIMARY KEY CHECK (id = 1),"
    " name text NOT NULL, url text NOT NULL, since timestamptz NOT NULL)"
)
KEEPALIVES: Final = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 1,
    "keepalives_count": 3,
    "tcp_user_timeout": 5000,
}


class PostgresLeadership:
    """Campaigns for leadership in a thread; ``is_leader`` says whether this replica leads.

    ``on_change(True)`` runs on election and ``on_change(False)`` on demotion, in the
    campaign thread; they must return quickly (start or stop loops, not run them).
    """

    def __init__(
        self,
        url: str,
        *,
        name: str,
        url_advertised: str = "",
        check_every_s: float = 1.0,
        lease_s: float = 5.0,
        on_change: Callable[[bool], None] | None = None,
        lock_object: int = LOCK_OBJECT,
    ) -> None:
        self._url = url
        self.name = name
        self._advertised = url_advertised
        self._leader_url: tuple[float, str | None] = (0.0, None)
        self._lookup_lock = threading.Lock()
        self._every = check_every_s
        self._lease = lease_s
        self._lock_object = lock_object
        self.on_change = on_change
        self._con: psycopg.Connection[tuple[object, ...]] | None = None
        self._leader = False
        self._confirmed_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlpulse-leadership", daemon=True)

    @property
    def is_leader(self) -> bool:
        # A leader whose last good check is older than the lease is not one any more,
        # even before its thread has noticed (it may be stuck in a network call).
        return self._leader and time.monotonic() - self._confirmed_at < self._lease

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._set(False)
        self._disconnect()  # ends the session: the lock is free for the others at once

    # -- the campaign -----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._check()
            except psycopg.Error as exc:
                if self._leader:
                    log.error("%s lost its database session, stepping down: %s", self.name, exc)
                self._set(False)
                self._disconnect()
            self._stop.wait(self._every)

    def _check(self) -> None:
        con = self._connection()
        if self._leader:
            # The lock lives as long as the session: a round trip proves both.
            con.execute("SELECT 1")
            self._confirmed_at = time.monotonic()
            return
        row = con.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, self._lock_object)
        ).fetchone()
        if row is not None and row[0]:
            con.execute(_LEADER_TABLE)  # only the lock holder gets here: no race
            con.execute(
                "INSERT INTO cluster_leader (id, name, url, since) VALUES (1, %s, %s, now())"
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name, url = excluded.url,"
                " since = excluded.since",
                (self.name, self._advertised),
            )
            self._confirmed_at = time.monotonic()
            log.warning("%s is now the leader", self.name)
            self._set(True)

    def leader_url(self, *, max_age_s: float = 1.0) -> str | None:
        """Where the leader answers (None while none is known), looked up at most once a second."""
        if self.is_leader:
            return self._advertised
        with self._lookup_lock:
            at, url = self._leader_url
            if time.monotonic() - at < max_age_s:
                return url
            url = None
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=3) as con:
                    # A row whose holder no longer has the lock is stale: no leader yet.
                    row = con.execute(
                        "SELECT url FROM cluster_leader WHERE id = 1 AND EXISTS (SELECT 1 FROM"
                        " pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s"
                        " AND objid = %s AND objsubid = 2 AND database = (SELECT oid FROM"
                        " pg_database WHERE datname = current_database()))",
                        (LOCK_CLASS, self._lock_object),
                    ).fetchone()
                url = str(row[0]) if row and row[0] else None
            except psycopg.errors.UndefinedTable:
                pass  # no replica has led yet
            except psycopg.Error:
                log.warning("could not look up the leader", exc_info=True)
            self._leader_url = (time.monotonic(), url)
            return url

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._con is None or self._con.closed:
            self._con = psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=5,
                application_name=f"mlpulse-leader:{self.name}"[:63],
                **KEEPALIVES,  # type: ignore[arg-type]  # libpq options as keyword arguments
            )
        return self._con

    def _disconnect(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            try:
                con.close()
            except psycopg.Error:
                log.debug("closing the leadership connection failed", exc_info=True)

    def _set(self, leader: bool) -> None:
        if leader == self._leader:
            return
        self._leader = leader
        if not leader:
            log.warning("%s is no longer the leader", self.name)
        if self.on_change is not None:
            try:
                self.on_change(leader)
            except Exception:  # a loop boundary: the campaign goes on
                log.exception("leadership listener failed")
