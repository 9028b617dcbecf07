"""Incidents and runbooks, driven by the alert engine's ticks.

After each alert tick the service sees every pending and firing alert (and those that
just resolved):

* a firing ``critical`` alert opens an incident for its model, or joins the model's open
  incident (one open incident per model groups its related alerts); the incident's onset
  is estimated from the signal that fired (:mod:`mlpulse.services.incident_onset`);
* every alert of an incident appears on its timeline when it fires and when it resolves;
  once all have resolved, the incident resolves;
* runbooks whose ``match`` fits a firing alert run their actions once per alert firing,
  once it is confirmed (``confirm``: seen firing at N consecutive evaluations), within
  their guardrails: a cooldown per (runbook, model), at most ``max_per_hour`` automatic
  actions per runbook, ``dry_run`` (record the exact request it would make), and
  ``require_approval`` (an :class:`~mlpulse.domain.incidents.Approval` kept in the store,
  expiring after ``approval_expires``, that a person approves or rejects; approving
  re-checks the guardrails and that the failing version still serves, so a stale second
  approval is refused); a rollback acts on the version that failed and never picks a
  version that has a firing critical alert of its own; every outcome goes to the audit
  log and the incident's timeline, with the error when it failed. A successful rollback,
  traffic shift or circuit opening marks the incident ``mitigated``.

**Actions never delay pages.** The engine calls :meth:`IncidentService.on_alerts` under
its lock, before it queues the tick's pages: the service only decides there. Each action
is handed to ``run_later`` (the collector's :class:`~mlpulse.services.action_worker.ActionWorker`)
and runs outside every lock, bounded by ``action_timeout_s``; its outcome is recorded when
it is known. An action in flight counts for the cooldown and ``max_per_hour`` at once.

Actions decided outside the runbooks (a rollout rolling its challenger back) go the same
way through :meth:`IncidentService.run_automatic_action`: they open or join the model's
incident with their reason, and their outcome is audited like a runbook's. Such an
incident has no alert, so no alert tick resolves it: a person does.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec

from mlpulse.domain.alerts import Alert, AlertState, Severity
from mlpulse.domain.incidents import (
    ActionKind,
    ActionOutcome,
    Approval,
    EntryKind,
    Incident,
    TimelineEntry,
)
from mlpulse.domain.monitoring import Config
from mlpulse.domain.rules import matches
from mlpulse.errors import InvalidInputError, NotFoundError
from mlpulse.ports import Clock, IncidentStore
from mlpulse.services.action_worker import ACTION_TIMEOUT_S
from mlpulse.services.alert_book import EXTERNAL_PREFIX
from mlpulse.services.incident_onset import SeriesReader, estimate_onset
from mlpulse.services.runbook_actions import RunbookActions
from mlpulse.services.runbooks import RunbookRunner

log = logging.getLogger("mlpulse.incidents")

MITIGATING = ("rollback", "shift_traffic", "open_circuit")


def _entry(at: float, kind: EntryKind, text: str, **data: object) -> TimelineEntry:
    return TimelineEntry(at=at, kind=kind, text=text, data=dict(data))


def _inline(job: Callable[[], None]) -> None:
    job()


class AlertAcknowledger(Protocol):
    """What acknowledging an incident needs of the alert engine."""

    def alerts(self, *, state: str | None = None) -> list[Alert]: ...

    def acknowledge(self, fp: str, *, by: str) -> Alert: ...


class IncidentService:
    """``run_later`` runs an action job off the alert tick (default: at once, inline, for
    a library user with no worker); ``series`` lets onsets be estimated from the series."""

    def __init__(
        self,
        store: IncidentStore,
        clock: Clock,
        config: Callable[[], Config | None],
        actions: RunbookActions,
        *,
        run_later: Callable[[Callable[[], None]], None] = _inline,
        action_timeout_s: float = ACTION_TIMEOUT_S,
        series: SeriesReader | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._config = config
        self._series = series
        self._lock = threading.RLock()
        self._open = {i.model: i for i in store.incidents() if i.status != "resolved"}
        self._runner = RunbookRunner(
            store, clock, config, actions, record=self._record, lock=self._lock,
            run_later=run_later, action_timeout_s=action_timeout_s,
        )  # fmt: skip

    # -- driven by the alert engine ----------------------------------------------------------

    def on_alerts(self, alerts: Sequence[Alert], now: float) -> None:
        with self._lock:
            for alert in alerts:
                self._follow(alert, now)
            config = self._config()
            firing = [a for a in alerts if a.state == AlertState.FIRING]
            still = {a.fingerprint for a in firing}
            self._runner.forget_ended(still)
            if config is not None and config.runbooks:
                for alert in firing:
                    self._runbooks(config, alert, firing, now)
            for incident in list(self._open.values()):
                # One opened by an automatic action has no alert to wait for: a person
                # resolves it (else the next tick would resolve it at once).
                if incident.alerts and not still.intersection(incident.alerts):
                    self._status(incident, "resolved", now, "all alerts resolved")

    def _follow(self, alert: Alert, now: float) -> None:
        model = alert.labels.get("model", "")
        incident = self._open.get(model)
        if alert.state == AlertState.FIRING and alert.severity == Severity.CRITICAL:
            if incident is not None and alert.fingerprint in incident.alerts:
                return
            onset, method = self._onset(alert)
            if incident is None:
                incident = Incident(
                    id=uuid.uuid4().hex[:12], title=_title(alert), model=model,
                    severity=alert.severity.value, status="triggered",
                    onset_at=onset, opened_at=now, updated_at=now, onset_method=method,
                    timeline=[_entry(now, "status", "incident opened")],
                )  # fmt: skip
            if onset < incident.onset_at:
                incident = msgspec.structs.replace(incident, onset_at=onset, onset_method=method)
            incident = msgspec.structs.replace(
                incident, alerts=[*incident.alerts, alert.fingerprint], updated_at=now,
                timeline=[*incident.timeline, _entry(
                    alert.starts_at or now, "alert", f"{_title(alert)} firing",
                    fingerprint=alert.fingerprint, value=alert.value, onset=onset,
                    onset_method=method)],
            )  # fmt: skip
            self._save(incident)
            return
        if incident is None or alert.fingerprint not in incident.alerts:
            return
        if alert.state == AlertState.RESOLVED and not any(
            e.kind == "alert" and e.data.get("resolved") == alert.fingerprint
            for e in incident.timeline
        ):
            incident = msgspec.structs.replace(
                incident, updated_at=now,
                timeline=[*incident.timeline, _entry(alert.ends_at or now, "alert",
                          f"{_title(alert)} resolved", resolved=alert.fingerprint)],
            )  # fmt: skip
            self._save(incident)

    def _onset(self, alert: Alert) -> tuple[float, str]:
        config = self._config()
        rule = config.rules.get(alert.rule) if config is not None else None
        try:
            return estimate_onset(alert, rule, self._series)
        except Exception:  # an estimate must not stop the incident from opening
            log.exception("onset estimate for %s failed", alert.fingerprint)
            return alert.active_since, "alert"

    def _runbooks(self, config: Config, alert: Alert, firing: Sequence[Alert], now: float) -> None:
        for name, runbook in config.runbooks.items():
            if not matches(alert.labels, runbook.match):
                continue
            if alert.rule.startswith(EXTERNAL_PREFIX) and not runbook.external:
                continue  # whoever can post to the intake must not steer production
            self._runner.fire(name, runbook, alert, firing, now)

    def _record(
        self, runbook: str, kind: ActionKind, status: str, detail: str, model: str, now: float
    ) -> ActionOutcome:
        incident = self._open.get(model)
        outcome = ActionOutcome(
            runbook=runbook, action=kind, status=status, detail=detail, at=now,
            incident=incident.id if incident else None,
        )  # fmt: skip
        self._store.record_action(outcome)
        log.info("runbook %s: %s %s: %s", runbook, kind, status, detail)
        if incident is None:
            return outcome
        incident = msgspec.structs.replace(
            incident, updated_at=now,
            timeline=[*incident.timeline, _entry(now, "action", f"{runbook}: {kind} {status}",
                                                 detail=detail)],
        )  # fmt: skip
        if status == "ok" and kind in MITIGATING and incident.mitigated_at is None:
            incident = msgspec.structs.replace(incident, status="mitigated", mitigated_at=now)
        self._save(incident)
        return outcome

    # -- driven by other services -------------------------------------------------------------

    def run_automatic_action(
        self,
        model: str,
        *,
        source: str,
        title: str,
        action: ActionKind,
        reason: str,
        run: Callable[[], str],
        onset_at: float | None = None,
    ) -> ActionOutcome:
        """Run an action that a service decided (``source``, e.g. ``rollout:<id>``) the way
        a runbook's action runs: the model's open incident is joined, or one is opened
        (``title``; severity ``warning``: the service already acts on it), with
        ``reason`` on its timeline; ``run`` does the action and returns what it did (an
        exception is the ``failed`` outcome, not a crash); the outcome goes to the audit
        log and the timeline, and a successful mitigating action (a rollback) marks the
        incident ``mitigated``. ``onset_at``: when the harm began (default now).
        """
        with self._lock:
            now = self._clock.now()
            incident = self._open.get(model)
            if incident is None:
                incident = Incident(
                    id=uuid.uuid4().hex[:12], title=title, model=model, severity="warning",
                    status="triggered", onset_at=min(onset_at or now, now), opened_at=now,
                    updated_at=now,
                    timeline=[_entry(now, "status", f"incident opened by {source}")],
                )  # fmt: skip
            incident = msgspec.structs.replace(
                incident, updated_at=now,
                timeline=[*incident.timeline, _entry(now, "status", f"{source}: {reason}",
                                                     source=source, action=action)],
            )  # fmt: skip
            self._save(incident)
            try:
                status, detail = "ok", run()
            except Exception as exc:  # an action's failure is its outcome, as in RunbookActions
                status, detail = "failed", f"{type(exc).__name__}: {exc}"
            return self._record(source, action, status, f"{detail} [model={model}]", model, now)

    # -- what people do ----------------------------------------------------------------------

    def incidents(self, *, model: str | None = None, status: str | None = None) -> list[Incident]:
        return self._store.incidents(model=model, status=status)

    def get(self, incident_id: str) -> Incident:
        for incident in self._store.incidents():
            if incident.id == incident_id:
                return incident
        raise NotFoundError(f"no incident {incident_id!r}")

    def similar(self, incident_id: str, *, limit: int = 5) -> list[tuple[Incident, float]]:
        """Past incidents most like this one: same model first, then the overlap of
        their signals (alert names and columns, Jaccard), newest first on ties."""
        target = self.get(incident_id)
        mine = _signals(target)
        scored = []
        for other in self._store.incidents():
            if other.id == target.id:
                continue
            theirs = _signals(other)
            union = mine | theirs
            overlap = len(mine & theirs) / len(union) if union else 0.0
            score = overlap + (1.0 if other.model == target.model else 0.0)
            if score > 0:
                scored.append((other, score))
        scored.sort(key=lambda pair: (-pair[1], -pair[0].opened_at))
        return scored[:limit]

    def approvals(self) -> list[Approval]:
        """Runbook actions waiting for a person, oldest first (expired ones are marked so)."""
        return self._runner.approvals()

    def approve(self, approval_id: str, *, by: str, firing: Sequence[Alert] = ()) -> ActionOutcome:
        """Run a waiting action now, as ``by`` decided (see :meth:`RunbookRunner.approve`)."""
        return self._runner.approve(approval_id, by=by, firing=firing)

    def reject(self, approval_id: str, *, by: str, reason: str = "") -> Approval:
        """Decline a waiting action: it never runs; the refusal is audited."""
        return self._runner.reject(approval_id, by=by, reason=reason)

    def acknowledge(
        self, incident_id: str, *, by: str, alerts: AlertAcknowledger | None = None
    ) -> Incident:
        """Acknowledge the incident (``by`` becomes its commander if it has none) and,
        given the alert engine, its firing alerts not acknowledged yet: their pages are
        acknowledged in PagerDuty and Opsgenie at once and their escalation stops, as
        when each alert is acknowledged."""
        # The engine calls on_alerts under its lock, which takes ours: never wait for the
        # engine while holding ours (read its alerts before, acknowledge them after).
        firing = [] if alerts is None else alerts.alerts(state="firing")
        with self._lock:
            incident = self.get(incident_id)
            waiting = [
                a.fingerprint for a in firing
                if a.fingerprint in incident.alerts and a.acknowledged_by is None
            ]  # fmt: skip
            if incident.acknowledged_at is None:
                incident = msgspec.structs.replace(
                    incident, acknowledged_at=self._clock.now(), commander=incident.commander or by
                )
            text = f"acknowledged by {by}"
            if len(waiting) == 1:
                text += " with its firing alert"
            elif waiting:
                text += f" with its {len(waiting)} firing alerts"
            incident = self._status(incident, "acknowledged", self._clock.now(), text)
        if alerts is not None:
            for fingerprint in waiting:
                try:
                    alerts.acknowledge(fingerprint, by=by)
                except NotFoundError:  # forgotten since (resolved long ago): nothing to page
                    log.info("alert %s of incident %s is gone", fingerprint, incident.id)
        return incident

    def resolve(self, incident_id: str, *, by: str) -> Incident:
        with self._lock:
            return self._status(
                self.get(incident_id), "resolved", self._clock.now(), f"resolved by {by}"
            )

    def note(self, incident_id: str, text: str, *, by: str) -> Incident:
        if not text.strip():
            raise InvalidInputError("a note needs text", field="text")
        with self._lock:
            incident = self.get(incident_id)
            now = self._clock.now()
            incident = msgspec.structs.replace(
                incident, updated_at=now,
                timeline=[*incident.timeline, _entry(now, "note", text, by=by)],
            )  # fmt: skip
            self._save(incident)
            return incident

    def add_deployment(self, model: str, text: str, at: float) -> None:
        """A deployment of ``model`` (from the registry) on its open incident's timeline."""
        with self._lock:
            incident = self._open.get(model)
            if incident is not None:
                timeline = [*incident.timeline, _entry(at, "deployment", text)]
                self._save(msgspec.structs.replace(incident, timeline=timeline))

    def _status(self, incident: Incident, status: str, now: float, text: str) -> Incident:
        order = ("triggered", "acknowledged", "mitigated", "resolved")
        if order.index(status) < order.index(incident.status):
            status = incident.status  # never backwards (an ack after mitigation keeps it)
        changes: dict[str, object] = {"status": status, "updated_at": now}
        if status == "resolved" and incident.resolved_at is None:
            changes["resolved_at"] = now
        incident = msgspec.structs.replace(
            incident, **changes, timeline=[*incident.timeline, _entry(now, "status", text)]
        )
        self._save(incident)
        return incident

    def _save(self, incident: Incident) -> None:
        self._store.save_incident(incident)
        if incident.status == "resolved":
            self._open.pop(incident.model, None)
        else:
            self._open[incident.model] = incident


def _title(alert: Alert) -> str:
    name = alert.labels.get("alertname", alert.rule)
    where = "/".join(v for v in (alert.labels.get("model"), alert.labels.get("version")) if v)
    return f"{name} ({where})" if where else name


def _signals(incident: Incident) -> set[str]:
    """What an incident was about, from its title and timeline: alert names and columns."""
    found = {incident.title.split(" (")[0]}
    for entry in incident.timeline:
        if entry.kind == "alert":
            found.add(entry.text.split(" (")[0])
        if column := entry.data.get("column"):
            found.add(f"column:{column}")
    return found
