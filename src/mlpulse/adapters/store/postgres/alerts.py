"""Alerts, silences, notification groups, the outbox with its delivery log, incidents
and the audit log of actions, on PostgreSQL.

The rules of :mod:`mlpulse.adapters.store.sqlite_alerts`, table for table: MessagePack
bodies beside the columns queries filter on; :meth:`PostgresAlertStore.commit` saves
alert and group states and queues notifications in one transaction. The outbox rows
of one (receiver, dedup_key) are locked (``FOR UPDATE``) while a notification
supersedes them, so two replicas committing at once cannot both leave one pending.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeVar

import msgspec
import psycopg

from mlpulse.adapters.store.postgres.database import Database, Row
from mlpulse.adapters.store.sqlite_alerts import Delivery
from mlpulse.domain.alerts import (
    Alert,
    DeliveryResult,
    GroupState,
    Notification,
    OutboxDepth,
    OutboxEntry,
    Silence,
)
from mlpulse.domain.incidents import ActionOutcome, Approval, Incident

T = TypeVar("T")
NAME: Final = "alert store"
_pack = msgspec.msgpack.encode


# How long an outbox entry handed to this process's worker stays its own (a delivery
# attempt is bounded well within it).
LEASE_S: Final = 60.0


def _decode(rows: list[Row], kind: type[T]) -> list[T]:
    return [msgspec.msgpack.decode(row[0], type=kind) for row in rows]


class PostgresAlertStore:
    """:class:`mlpulse.ports.AlertStore` and
    :class:`mlpulse.ports.IncidentStore` on PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._owner = uuid.uuid4().hex  # this process, as the holder of outbox leases

    def _rows(
        self, action: str, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[Row]:
        return self._db.rows(NAME, action, sql, params)

    # -- alerts, groups, silences ------------------------------------------------------------

    def alerts(self, *, include_resolved_since: float | None = None) -> list[Alert]:
        """Pending and firing alerts, and those resolved at or after the given time."""
        since = float("inf") if include_resolved_since is None else include_resolved_since
        rows = self._rows(
            "read alerts",
            "SELECT body FROM alerts WHERE state != 'resolved' OR updated_at >= %s "
            "ORDER BY updated_at, fingerprint",
            (since,),
        )
        return _decode(rows, Alert)

    def groups(self) -> list[GroupState]:
        return _decode(self._rows("read groups", "SELECT body FROM alert_groups"), GroupState)

    def silences(self) -> list[Silence]:
        rows = self._rows("read silences", "SELECT body FROM silences ORDER BY ends_at, id")
        return _decode(rows, Silence)

    def save_silence(self, silence: Silence) -> None:
        self._rows(
            "store a silence",
            "INSERT INTO silences (id, ends_at, body) VALUES (%s, %s, %s) ON CONFLICT (id) "
            "DO UPDATE SET ends_at = excluded.ends_at, body = excluded.body",
            (silence.id, silence.ends_at, _pack(silence)),
        )

    def commit(
        self,
        *,
        alerts: Sequence[Alert] = (),
        groups: Sequence[GroupState] = (),
        dropped_groups: Sequence[str] = (),
        notifications: Sequence[Notification] = (),
        now: float,
    ) -> None:
        """Save alert and group states and queue notifications, in one transaction.

        A queued notification supersedes the pending ones of the same (receiver,
        dedup_key): the receiver gets the group's latest state once. A notification
        whose id is in the outbox already is not queued again.
        """
        with self._db.transaction(NAME, "commit alert changes") as conn, conn.cursor() as cur:
            if alerts:
                cur.executemany(
                    "INSERT INTO alerts (fingerprint, state, updated_at, body) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (fingerprint) DO UPDATE SET "
                    "state = excluded.state, updated_at = excluded.updated_at, "
                    "body = excluded.body",
                    [(a.fingerprint, a.state.value, a.updated_at, _pack(a)) for a in alerts],
                )
            if groups:
                cur.executemany(
                    "INSERT INTO alert_groups (key, body) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET body = excluded.body",
                    [(g.key, _pack(g)) for g in groups],
                )
            if dropped_groups:
                cur.execute("DELETE FROM alert_groups WHERE key = ANY(%s)", (list(dropped_groups),))
            for notification in notifications:
                if cur.execute("SELECT 1 FROM outbox WHERE id = %s", (notification.id,)).fetchone():
                    continue  # queued before (an escalation page, after a restart)
                self._supersede(cur, notification, now)
                entry = OutboxEntry(
                    id=notification.id, notification=notification, status="pending",
                    attempts=0, next_attempt_at=now, created_at=now, updated_at=now,
                )  # fmt: skip
                cur.execute(
                    "INSERT INTO outbox (id, receiver, dedup_key, status, next_attempt_at, "
                    "created_at, body) VALUES (%s, %s, %s, 'pending', %s, %s, %s) "
                    "ON CONFLICT (id) DO NOTHING",
                    (entry.id, notification.receiver, notification.dedup_key, now, now,
                     _pack(entry)),
                )  # fmt: skip

    @staticmethod
    def _supersede(cur: psycopg.Cursor[Row], notification: Notification, now: float) -> None:
        """The newest pending entries of the key that say the same kind of thing (firing,
        resolved, acknowledged) as ``notification`` give way to it; an entry of another
        kind stays and goes first (a trigger that waited out an outage before its
        resolve)."""
        rows = cur.execute(
            "SELECT body FROM outbox WHERE receiver = %s AND dedup_key = %s "
            "AND status = 'pending' ORDER BY seq DESC FOR UPDATE",
            (notification.receiver, notification.dedup_key),
        ).fetchall()
        for entry in _decode(rows, OutboxEntry):
            older = entry.notification
            if (older.status, older.action) != (notification.status, notification.action):
                break
            replaced = msgspec.structs.replace(
                entry, status="superseded", updated_at=now,
                last_error=f"superseded by {notification.id}",
            )  # fmt: skip
            cur.execute(
                "UPDATE outbox SET status = 'superseded', body = %s WHERE id = %s",
                (_pack(replaced), entry.id),
            )

    # -- the outbox ---------------------------------------------------------------------------

    def due(
        self, now: float, *, limit: int = 100, receiver: str | None = None
    ) -> list[OutboxEntry]:
        """Pending entries whose time has come (of one receiver, when given), oldest
        first, and of each dedup key only the first: the next waits until it is done.

        They are leased to this process for ``LEASE_S``: another replica (a leader that
        lost its leadership a moment ago) skips them meanwhile, so a page goes out once.
        This process may take its own leased entries again.
        """
        rows = self._rows(
            "claim due outbox entries",
            "UPDATE outbox SET lease_owner = %(me)s, lease_until = %(until)s WHERE id IN ("
            " SELECT o.id FROM outbox AS o WHERE o.status = 'pending'"
            " AND o.next_attempt_at <= %(now)s"
            " AND (%(receiver)s::text IS NULL OR o.receiver = %(receiver)s)"
            " AND (o.lease_until IS NULL OR o.lease_until <= %(now)s OR o.lease_owner = %(me)s)"
            " AND NOT EXISTS (SELECT 1 FROM outbox AS e WHERE e.receiver = o.receiver"
            "  AND e.dedup_key = o.dedup_key AND e.status = 'pending' AND e.seq < o.seq)"
            " ORDER BY o.next_attempt_at, o.seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
            " RETURNING next_attempt_at, seq, body",
            {"me": self._owner, "until": now + LEASE_S, "now": now, "receiver": receiver,
             "limit": limit},
        )  # fmt: skip
        rows.sort(key=lambda row: (row[0], row[1]))
        return _decode([(row[2],) for row in rows], OutboxEntry)

    def due_receivers(self, now: float) -> list[str]:
        """The receivers with an entry due at ``now``."""
        rows = self._rows(
            "read the outbox",
            "SELECT DISTINCT receiver FROM outbox WHERE status = 'pending' "
            "AND next_attempt_at <= %s ORDER BY receiver",
            (now,),
        )
        return [str(row[0]) for row in rows]

    def next_due_at(self, receiver: str | None = None) -> float | None:
        rows = self._rows(
            "read the outbox",
            "SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending' "
            "AND (%(receiver)s::text IS NULL OR receiver = %(receiver)s)",
            {"receiver": receiver},
        )
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    def outbox_depth(self) -> list[OutboxDepth]:
        """Per receiver: entries waiting to be delivered, and when the oldest was queued."""
        rows = self._rows(
            "read the outbox",
            "SELECT receiver, count(*), min(created_at) FROM outbox WHERE status = 'pending' "
            "GROUP BY receiver ORDER BY receiver",
        )
        return [OutboxDepth(str(r[0]), int(r[1]), float(r[2])) for r in rows]

    def record_attempt(self, entry: OutboxEntry, result: DeliveryResult, *, now: float) -> None:
        """Store ``entry`` (its new status, attempts, next time) and log the attempt.

        An entry superseded while it was being sent keeps its ``superseded`` status.
        """
        with self._db.transaction(NAME, "record a delivery") as conn:
            current = conn.execute(
                "SELECT status FROM outbox WHERE id = %s FOR UPDATE", (entry.id,)
            ).fetchone()
            status = entry.status
            if current is not None and current[0] == "superseded" and status == "pending":
                status = "superseded"
                entry = msgspec.structs.replace(entry, status=status)
            conn.execute(
                "UPDATE outbox SET status = %s, next_attempt_at = %s, body = %s, "
                "lease_owner = NULL, lease_until = NULL WHERE id = %s",
                (status, entry.next_attempt_at, _pack(entry), entry.id),
            )
            conn.execute(
                "INSERT INTO deliveries (outbox_id, at, delivered, status_code, detail) "
                "VALUES (%s, %s, %s, %s, %s)",
                (entry.id, now, result.delivered, result.status_code, result.detail),
            )
            if result.delivered:
                # The receiver is back: its other pending entries, which may be backing
                # off for a minute, become due now.
                waiting = conn.execute(
                    "SELECT body FROM outbox WHERE receiver = %s AND status = 'pending' "
                    "AND next_attempt_at > %s FOR UPDATE",
                    (entry.notification.receiver, now),
                ).fetchall()
                for later in _decode(waiting, OutboxEntry):
                    conn.execute(
                        "UPDATE outbox SET next_attempt_at = %s, body = %s WHERE id = %s",
                        (now, _pack(msgspec.structs.replace(later, next_attempt_at=now)),
                         later.id),
                    )  # fmt: skip

    def outbox(self, *, status: str | None = None, limit: int = 1000) -> list[OutboxEntry]:
        where, params = ("", [limit]) if status is None else ("WHERE status = %s", [status, limit])
        rows = self._rows(
            "read the outbox",
            f"SELECT body FROM outbox {where} ORDER BY created_at DESC, id DESC LIMIT %s",
            params,
        )
        return _decode(rows, OutboxEntry)

    def deliveries(self, outbox_id: str) -> list[Delivery]:
        rows = self._rows(
            "read deliveries",
            "SELECT outbox_id, at, delivered, status_code, detail FROM deliveries "
            "WHERE outbox_id = %s ORDER BY id",
            (outbox_id,),
        )
        return [Delivery(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]

    # -- incidents and the audit log of actions ----------------------------------------------

    def save_incident(self, incident: Incident) -> None:
        self._rows(
            "store an incident",
            "INSERT INTO incidents (id, model, status, opened_at, body) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET model = excluded.model, "
            "status = excluded.status, opened_at = excluded.opened_at, body = excluded.body",
            (incident.id, incident.model, incident.status, incident.opened_at,
             _pack(incident)),
        )  # fmt: skip

    def incidents(
        self, *, model: str | None = None, status: str | None = None, limit: int = 1000
    ) -> list[Incident]:
        sql, params = "SELECT body FROM incidents WHERE true", list[Any]()
        if model is not None:
            sql, params = sql + " AND model = %s", [*params, model]
        if status is not None:
            sql, params = sql + " AND status = %s", [*params, status]
        rows = self._rows(
            "read incidents", sql + " ORDER BY opened_at DESC, id DESC LIMIT %s", [*params, limit]
        )
        return _decode(rows, Incident)

    def record_action(self, outcome: ActionOutcome) -> None:
        self._rows(
            "record an action",
            "INSERT INTO actions (runbook, at, body) VALUES (%s, %s, %s)",
            (outcome.runbook, outcome.at, _pack(outcome)),
        )

    def actions(self, *, since: float = 0.0, runbook: str | None = None) -> list[ActionOutcome]:
        sql, params = "SELECT body FROM actions WHERE at >= %s", list[Any]([since])
        if runbook is not None:
            sql, params = sql + " AND runbook = %s", [since, runbook]
        return _decode(self._rows("read actions", sql + " ORDER BY id", params), ActionOutcome)

    # -- approvals ---------------------------------------------------------------------------

    def save_approval(self, approval: Approval) -> None:
        self._rows(
            "store an approval",
            "INSERT INTO approvals (id, status, requested_at, body) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
            "requested_at = excluded.requested_at, body = excluded.body",
            (approval.id, approval.status, approval.requested_at, _pack(approval)),
        )

    def approvals(self, *, status: str | None = None) -> list[Approval]:
        """Oldest first; only those with ``status`` when given."""
        sql, params = "SELECT body FROM approvals", list[Any]()
        if status is not None:
            sql, params = sql + " WHERE status = %s", [status]
        rows = self._rows("read approvals", sql + " ORDER BY requested_at, id", params)
        return _decode(rows, Approval)

    def close(self) -> None:
        """Nothing of its own to release: the backend closes the shared database."""
