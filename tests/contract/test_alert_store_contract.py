"""One suite over every AlertStore (alerts, groups, silences, the outbox) and every
IncidentStore (incidents, the audit log of actions): SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import msgspec
import pytest

from mlpulse.adapters.store.postgres.alerts import PostgresAlertStore
from mlpulse.adapters.store.sqlite_alerts import Delivery, SQLiteAlertStore
from mlpulse.domain.alerts import (
    Alert,
    AlertState,
    DeliveryResult,
    GroupState,
    Notification,
    Severity,
    Silence,
)
from mlpulse.domain.incidents import ActionOutcome, Incident, IncidentStatus
from mlpulse.ports import AlertStore, IncidentStore
from tests.contract.conftest import postgres_database

T = 1_767_225_600.0


class _AlertAndIncidentStore(AlertStore, IncidentStore, Protocol):
    """Both ports at once, as every alert store implements them."""

    def deliveries(self, outbox_id: str) -> list[Delivery]: ...


STORES: dict[str, Callable[[Path, pytest.FixtureRequest], _AlertAndIncidentStore]] = {
    "sqlite": lambda tmp, _: SQLiteAlertStore(tmp / "alerts.sqlite"),
    "postgres": lambda _, request: PostgresAlertStore(postgres_database(request)),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_AlertAndIncidentStore]:
    made = STORES[request.param](tmp_path, request)
    yield made
    made.close()


def _alert(fingerprint: str, state: AlertState, updated_at: float) -> Alert:
    return Alert(
        fingerprint=fingerprint, rule="psi-high", severity=Severity.CRITICAL, state=state,
        labels={"model": "fraud", "feature": fingerprint}, annotations={"summary": "drift"},
        value=0.3, active_since=T, starts_at=T, updated_at=updated_at,
    )  # fmt: skip


def _notification(id: str, *, receiver: str = "pager", dedup_key: str = "g1") -> Notification:
    return Notification(
        id=id, receiver=receiver, dedup_key=dedup_key, status="firing",
        severity=Severity.CRITICAL, group_labels={"model": "fraud"}, common_labels={},
        alerts=[_alert("a", AlertState.FIRING, T)], title=f"page {id}", created_at=T,
    )  # fmt: skip


def test_alert_store_keeps_open_alerts_and_recently_resolved_ones(
    store: _AlertAndIncidentStore,
) -> None:
    store.commit(
        alerts=[
            _alert("b", AlertState.FIRING, T + 2),
            _alert("a", AlertState.PENDING, T + 1),
            _alert("c", AlertState.RESOLVED, T + 3),
        ],
        now=T,
    )
    assert [a.fingerprint for a in store.alerts()] == ["a", "b"]
    assert [a.fingerprint for a in store.alerts(include_resolved_since=T + 3)] == ["a", "b", "c"]
    assert [a.fingerprint for a in store.alerts(include_resolved_since=T + 4)] == ["a", "b"]
    store.commit(alerts=[_alert("a", AlertState.RESOLVED, T + 5)], now=T + 5)
    assert store.alerts(include_resolved_since=T + 5) == [
        _alert("b", AlertState.FIRING, T + 2),
        _alert("a", AlertState.RESOLVED, T + 5),
    ]


def test_alert_store_replaces_and_drops_groups_and_silences(store: _AlertAndIncidentStore) -> None:
    def group(key: str, next_flush_at: float) -> GroupState:
        return GroupState(key=key, route="default", receiver="pager", group_labels={"model": key},
                          created_at=T, next_flush_at=next_flush_at)  # fmt: skip

    store.commit(groups=[group("g1", T), group("g2", T)], now=T)
    store.commit(groups=[group("g1", T + 60)], dropped_groups=["g2", "never"], now=T + 1)
    assert store.groups() == [group("g1", T + 60)]

    def silence(id: str, ends_at: float, comment: str = "") -> Silence:
        return Silence(id=id, matchers={"model": "fraud"}, starts_at=T, ends_at=ends_at,
                       created_by="ops", comment=comment, created_at=T)  # fmt: skip

    store.save_silence(silence("s1", T + 600))
    store.save_silence(silence("s2", T + 60))
    store.save_silence(silence("s1", T + 30, "shorter"))
    assert store.silences() == [silence("s1", T + 30, "shorter"), silence("s2", T + 60)]


def test_alert_store_queues_each_notification_once_and_supersedes_pending_ones(
    store: _AlertAndIncidentStore,
) -> None:
    store.commit(notifications=[_notification("n1")], now=T)
    store.commit(notifications=[_notification("x", dedup_key="g2")], now=T + 5)
    store.commit(notifications=[_notification("n2")], now=T + 10)
    store.commit(notifications=[_notification("n2")], now=T + 20)  # queued before: ignored
    assert [e.id for e in store.due(T + 20)] == ["x", "n2"]
    (superseded,) = store.outbox(status="superseded")
    assert (superseded.id, superseded.last_error, superseded.updated_at) == (
        "n1", "superseded by n2", T + 10,
    )  # fmt: skip
    assert [e.id for e in store.outbox()] == ["n2", "x", "n1"]
    assert [e.id for e in store.outbox(limit=1)] == ["n2"]
    assert store.next_due_at() == T + 5
    assert store.due(T - 1) == []


def test_alert_store_records_attempts_and_keeps_a_superseded_status(
    store: _AlertAndIncidentStore,
) -> None:
    store.commit(notifications=[_notification("n1")], now=T)
    (entry,) = store.due(T)
    retry = type(entry)(
        id=entry.id, notification=entry.notification, status="pending", attempts=1,
        next_attempt_at=T + 30, created_at=T, updated_at=T + 1, last_error="503",
    )  # fmt: skip
    store.record_attempt(retry, DeliveryResult(False, 503, "unavailable"), now=T + 1)
    assert store.due(T + 29) == [] and store.due(T + 30) == [retry]
    assert store.next_due_at() == T + 30

    store.commit(notifications=[_notification("n2")], now=T + 40)  # while n1 is being sent
    store.record_attempt(retry, DeliveryResult(False, 500, "again"), now=T + 41)
    assert [e.id for e in store.outbox(status="superseded")] == ["n1"]
    assert store.deliveries("n1") == [
        Delivery("n1", T + 1, False, 503, "unavailable"),
        Delivery("n1", T + 41, False, 500, "again"),
    ]
    assert store.deliveries("n2") == []


def _incident(id: str, model: str, status: IncidentStatus, opened_at: float) -> Incident:
    return Incident(id=id, title=f"{model} drift", model=model, severity="critical",
                    status=status, onset_at=opened_at, opened_at=opened_at,
                    updated_at=opened_at, alerts=["a"])  # fmt: skip


def test_incident_store_filters_incidents_newest_first(store: _AlertAndIncidentStore) -> None:
    store.save_incident(_incident("i1", "fraud", "triggered", T))
    store.save_incident(_incident("i2", "recs", "triggered", T + 1))
    store.save_incident(_incident("i3", "fraud", "triggered", T + 2))
    store.save_incident(_incident("i1", "fraud", "resolved", T))  # replaced
    assert [i.id for i in store.incidents()] == ["i3", "i2", "i1"]
    assert [i.id for i in store.incidents(model="fraud")] == ["i3", "i1"]
    assert [i.id for i in store.incidents(status="triggered")] == ["i3", "i2"]
    assert store.incidents(model="fraud", status="resolved") == [
        _incident("i1", "fraud", "resolved", T)
    ]
    assert [i.id for i in store.incidents(limit=1)] == ["i3"]


def test_incident_store_keeps_actions_in_the_order_they_happened(
    store: _AlertAndIncidentStore,
) -> None:
    outcomes = [
        ActionOutcome(runbook="rollback", action="rollback", status="done", detail="v1", at=T),
        ActionOutcome(runbook="page", action="notify", status="done", detail="", at=T + 5),
        ActionOutcome(runbook="rollback", action="rollback", status="skipped",
                      detail="cooldown", at=T + 1, incident="i1"),
    ]  # fmt: skip
    for outcome in outcomes:
        store.record_action(outcome)
    assert store.actions() == outcomes
    assert store.actions(since=T + 1) == outcomes[1:]
    assert store.actions(runbook="rollback") == [outcomes[0], outcomes[2]]
    assert store.actions(since=T + 2, runbook="rollback") == []


def test_alert_store_hands_out_the_first_pending_entry_of_each_key_per_receiver(
    store: _AlertAndIncidentStore,
) -> None:
    resolved = msgspec.structs.replace(_notification("n2"), status="resolved")
    store.commit(notifications=[_notification("n1"), resolved], now=T)
    store.commit(notifications=[_notification("s1", receiver="slack", dedup_key="g9")], now=T + 1)
    # A resolve does not supersede the trigger before it: both go, trigger first.
    assert [e.id for e in store.due(T + 5, receiver="pager")] == ["n1"]
    assert [e.id for e in store.due(T + 5, receiver="slack")] == ["s1"]
    assert store.due_receivers(T + 5) == ["pager", "slack"]
    assert store.next_due_at("slack") == T + 1
    depth = {d.receiver: d.pending for d in store.outbox_depth()}
    assert depth == {"pager": 2, "slack": 1}
    (first,) = store.due(T + 5, receiver="pager")
    delivered = msgspec.structs.replace(first, status="delivered", attempts=1)
    store.record_attempt(delivered, DeliveryResult(delivered=True, status_code=202), now=T + 6)
    assert [e.id for e in store.due(T + 6, receiver="pager")] == ["n2"]


def test_alert_store_makes_a_receivers_waiting_entries_due_once_it_delivers(
    store: _AlertAndIncidentStore,
) -> None:
    store.commit(notifications=[_notification("a1", dedup_key="ga")], now=T)
    store.commit(notifications=[_notification("b1", dedup_key="gb")], now=T)
    (b,) = [e for e in store.due(T, receiver="pager") if e.id == "b1"]
    backing_off = msgspec.structs.replace(b, attempts=1, next_attempt_at=T + 60)
    store.record_attempt(backing_off, DeliveryResult(delivered=False, status_code=503), now=T)
    assert [e.id for e in store.due(T + 1, receiver="pager")] == ["a1"]
    (a,) = store.due(T + 1, receiver="pager")
    store.record_attempt(
        msgspec.structs.replace(a, status="delivered", attempts=1),
        DeliveryResult(delivered=True, status_code=202),
        now=T + 2,
    )
    assert [e.id for e in store.due(T + 2, receiver="pager")] == ["b1"]


def test_postgres_outbox_lease_keeps_an_entry_from_a_second_worker(
    request: pytest.FixtureRequest,
) -> None:
    database = postgres_database(request)
    leader, deposed = PostgresAlertStore(database), PostgresAlertStore(database)
    leader.commit(notifications=[_notification("p1")], now=T)
    assert [e.id for e in leader.due(T)] == ["p1"]
    assert deposed.due(T) == []  # leased to the first worker: a page goes out once
    assert [e.id for e in leader.due(T)] == ["p1"]  # its own lease
    assert [e.id for e in deposed.due(T + 61)] == ["p1"]  # an abandoned lease lapses
