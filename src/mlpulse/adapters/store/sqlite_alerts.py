"""Alerts, silences, notification groups and the durable outbox, in SQLite.

The alert engine changes alert states, group states and queues notifications in one
transaction (:meth:`SQLiteAlertStore.commit`), so a crash between them can neither
lose a notification nor send one twice for the same change. The outbox worker then
takes due entries, attempts them and records each attempt in the delivery log. Records
are MessagePack blobs beside the few columns queries filter on: the shapes belong to
:mod:`mlpulse.domain.alerts`, and the tables stay small (open alerts, live groups).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from mlpulse.adapters.store.sqlite_database import SQLiteDatabase, SQLiteTables
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


class Delivery(msgspec.Struct, frozen=True):
    """One attempt of one outbox entry, as the delivery log keeps it."""

    outbox_id: str
    at: float
    delivered: bool
    status_code: int | None
    detail: str


class SQLiteAlertStore:
    """:class:`mlpulse.ports.AlertStore` and :class:`mlpulse.ports.IncidentStore` in the
    metadata database (tables: migration 1 of ``sqlite_migrations``)."""

    def __init__(self, database: SQLiteDatabase | Path) -> None:
        self._file = SQLiteTables(database, name="alert store")
        self.path = self._file.path
        self._rows = self._file.rows
        self._transaction = self._file.transaction

    @staticmethod
    def _decode(rows: list[tuple[Any, ...]], kind: type[T]) -> list[T]:
        return [msgspec.msgpack.decode(row[0], type=kind) for row in rows]

    # -- alerts, groups, silences ------------------------------------------------------------

    def alerts(self, *, include_resolved_since: float | None = None) -> list[Alert]:
        """Pending and firing alerts, and those resolved at or after the given time."""
        since = float("inf") if include_resolved_since is None else include_resolved_since
        rows = self._rows(
            "read alerts",
            "SELECT body FROM alerts WHERE state != 'resolved' OR updated_at >= ? "
            "ORDER BY updated_at",
            (since,),
        )
        return self._decode(rows, Alert)

    def groups(self) -> list[GroupState]:
        return self._decode(self._rows("read groups", "SELECT body FROM alert_groups"), GroupState)

    def silences(self) -> list[Silence]:
        rows = self._rows("read silences", "SELECT body FROM silences ORDER BY ends_at")
        return self._decode(rows, Silence)

    def save_silence(self, silence: Silence) -> None:
        with self._transaction("store a silence") as db:
            db.execute(
                "INSERT OR REPLACE INTO silences (id, ends_at, body) VALUES (?, ?, ?)",
                (silence.id, silence.ends_at, msgspec.msgpack.encode(silence)),
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
        with self._transaction("commit alert changes") as db:
            db.executemany(
                "INSERT OR REPLACE INTO alerts (fingerprint, state, updated_at, body) "
                "VALUES (?, ?, ?, ?)",
                [(a.fingerprint, a.state.value, a.updated_at, msgspec.msgpack.encode(a))
                 for a in alerts],
            )  # fmt: skip
            db.executemany(
                "INSERT OR REPLACE INTO alert_groups (key, body) VALUES (?, ?)",
                [(g.key, msgspec.msgpack.encode(g)) for g in groups],
            )
            db.executemany("DELETE FROM alert_groups WHERE key = ?", [(k,) for k in dropped_groups])
            for notification in notifications:
                if db.execute("SELECT 1 FROM outbox WHERE id = ?", (notification.id,)).fetchone():
                    continue  # queued before (an escalation page, after a restart)
                self._supersede(db, notification, now)
                entry = OutboxEntry(
                    id=notification.id, notification=notification, status="pending",
                    attempts=0, next_attempt_at=now, created_at=now, updated_at=now,
                )  # fmt: skip
                db.execute(
                    "INSERT INTO outbox (id, receiver, dedup_key, status, next_attempt_at, "
                    "created_at, body) VALUES (?, ?, ?, 'pending', ?, ?, ?)",
                    (entry.id, notification.receiver, notification.dedup_key, now, now,
                     msgspec.msgpack.encode(entry)),
                )  # fmt: skip

    def _supersede(self, db: sqlite3.Connection, notification: Notification, now: float) -> None:
        """The newest pending entries of the key that say the same kind of thing (firing,
        resolved, acknowledged) as ``notification`` give way to it. An entry of another
        kind stays, and goes first: a trigger that waited out an outage is still sent
        before its resolve, or PagerDuty would never have heard of the incident."""
        rows = db.execute(
            "SELECT body FROM outbox WHERE receiver = ? AND dedup_key = ? AND status = 'pending' "
            "ORDER BY rowid DESC",
            (notification.receiver, notification.dedup_key),
        ).fetchall()
        for entry in self._decode(rows, OutboxEntry):
            older = entry.notification
            if (older.status, older.action) != (notification.status, notification.action):
                break
            replaced = msgspec.structs.replace(
                entry, status="superseded", updated_at=now,
                last_error=f"superseded by {notification.id}",
            )  # fmt: skip
            db.execute(
                "UPDATE outbox SET status = 'superseded', body = ? WHERE id = ?",
                (msgspec.msgpack.encode(replaced), entry.id),
            )

    # -- the outbox ---------------------------------------------------------------------------

    def due(
        self, now: float, *, limit: int = 100, receiver: str | None = None
    ) -> list[OutboxEntry]:
        """Pending entries whose time has come (of one receiver, when given), oldest
        first, and of each dedup key only the first: the next waits until it is done.

        One statement, so a lease (``UPDATE … RETURNING`` with an owner and an expiry)
        can be added for several workers.
        """
        rows = self._rows(
            "read the outbox",
            "SELECT o.body FROM outbox AS o WHERE o.status = 'pending' "
            "AND o.next_attempt_at <= ? AND (? IS NULL OR o.receiver = ?) "
            "AND NOT EXISTS (SELECT 1 FROM outbox AS e WHERE e.receiver = o.receiver "
            "AND e.dedup_key = o.dedup_key AND e.status = 'pending' AND e.rowid < o.rowid) "
            "ORDER BY o.next_attempt_at, o.rowid LIMIT ?",
            (now, receiver, receiver, limit),
        )
        return self._decode(rows, OutboxEntry)

    def due_receivers(self, now: float) -> list[str]:
        """The receivers with an entry due at ``now``."""
        rows = self._rows(
            "read the outbox",
            "SELECT DISTINCT receiver FROM outbox WHERE status = 'pending' "
            "AND next_attempt_at <= ? ORDER BY receiver",
            (now,),
        )
        return [str(row[0]) for row in rows]

    def next_due_at(self, receiver: str | None = None) -> float | None:
        rows = self._rows(
            "read the outbox",
            "SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending' "
            "AND (? IS NULL OR receiver = ?)",
            (receiver, receiver),
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

        An entry superseded while it was being sent keeps its ``superseded`` status. A
        delivery shows the receiver is back: its other pending entries, which may be
        backing off for a minute, become due now.
        """
        with self._transaction("record a delivery") as db:
            current = db.execute("SELECT status FROM outbox WHERE id = ?", (entry.id,)).fetchone()
            status = entry.status
            if current is not None and current[0] == "superseded" and status == "pending":
                status = "superseded"
                entry = msgspec.structs.replace(entry, status=status)
            db.execute(
                "UPDATE outbox SET status = ?, next_attempt_at = ?, body = ? WHERE id = ?",
                (status, entry.next_attempt_at, msgspec.msgpack.encode(entry), entry.id),
            )
            db.execute(
                "INSERT INTO deliveries (outbox_id, at, delivered, status_code, detail) "
                "VALUES (?, ?, ?, ?, ?)",
                (entry.id, now, int(result.delivered), result.status_code, result.detail),
            )
            if result.delivered:
                self._release(db, entry.notification.receiver, now)

    def _release(self, db: sqlite3.Connection, receiver: str, now: float) -> None:
        rows = db.execute(
            "SELECT body FROM outbox WHERE receiver = ? AND status = 'pending' "
            "AND next_attempt_at > ?",
            (receiver, now),
        ).fetchall()
        for waiting in self._decode(rows, OutboxEntry):
            due = msgspec.structs.replace(waiting, next_attempt_at=now)
            db.execute(
                "UPDATE outbox SET next_attempt_at = ?, body = ? WHERE id = ?",
                (now, msgspec.msgpack.encode(due), waiting.id),
            )

    def outbox(self, *, status: str | None = None, limit: int = 1000) -> list[OutboxEntry]:
        if status is None:
            rows = self._rows(
                "read the outbox",
                "SELECT body FROM outbox ORDER BY created_at DESC LIMIT ?",
                (limit,),
            )
        else:
            rows = self._rows(
                "read the outbox",
                "SELECT body FROM outbox WHERE status = ? ORDER BY created_at DESC LIMIT ?",
                (status, limit),
            )
        return self._decode(rows, OutboxEntry)

    def deliveries(self, outbox_id: str) -> list[Delivery]:
        rows = self._rows(
            "read deliveries",
            "SELECT outbox_id, at, delivered, status_code, detail FROM deliveries "
            "WHERE outbox_id = ? ORDER BY id",
            (outbox_id,),
        )
        return [Delivery(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]

    # -- incidents and the audit log of actions ----------------------------------------------

    def save_incident(self, incident: Incident) -> None:
        with self._transaction("store an incident") as db:
            db.execute(
                "INSERT OR REPLACE INTO incidents (id, model, status, opened_at, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (incident.id, incident.model, incident.status, incident.opened_at,
                 msgspec.msgpack.encode(incident)),
            )  # fmt: skip

    def incidents(
        self, *, model: str | None = None, status: str | None = None, limit: int = 1000
    ) -> list[Incident]:
        sql, params = "SELECT body FROM incidents WHERE 1 = 1", list[Any]()
        if model is not None:
            sql, params = sql + " AND model = ?", [*params, model]
        if status is not None:
            sql, params = sql + " AND status = ?", [*params, status]
        rows = self._rows("read incidents", sql + " ORDER BY opened_at DESC LIMIT ?",
                          [*params, limit])  # fmt: skip
        return self._decode(rows, Incident)

    def record_action(self, outcome: ActionOutcome) -> None:
        with self._transaction("record an action") as db:
            db.execute(
                "INSERT INTO actions (runbook, at, body) VALUES (?, ?, ?)",
                (outcome.runbook, outcome.at, msgspec.msgpack.encode(outcome)),
            )

    def actions(self, *, since: float = 0.0, runbook: str | None = None) -> list[ActionOutcome]:
        if runbook is None:
            rows = self._rows("read actions", "SELECT body FROM actions WHERE at >= ? "
                              "ORDER BY id", (since,))  # fmt: skip
        else:
            rows = self._rows("read actions", "SELECT body FROM actions WHERE at >= ? AND "
                              "runbook = ? ORDER BY id", (since, runbook))  # fmt: skip
        return self._decode(rows, ActionOutcome)

    # -- approvals ---------------------------------------------------------------------------

    def save_approval(self, approval: Approval) -> None:
        with self._transaction("store an approval") as db:
            db.execute(
                "INSERT OR REPLACE INTO approvals (id, status, requested_at, body) "
                "VALUES (?, ?, ?, ?)",
                (approval.id, approval.status, approval.requested_at,
                 msgspec.msgpack.encode(approval)),
            )  # fmt: skip

    def approvals(self, *, status: str | None = None) -> list[Approval]:
        """Oldest first; only those with ``status`` when given."""
        if status is None:
            rows = self._rows("read approvals",
                              "SELECT body FROM approvals ORDER BY requested_at")  # fmt: skip
        else:
            rows = self._rows("read approvals", "SELECT body FROM approvals WHERE status = ? "
                              "ORDER BY requested_at", (status,))  # fmt: skip
        return self._decode(rows, Approval)

    def close(self) -> None:
        self._file.close()
