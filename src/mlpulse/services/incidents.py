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
    ActionConfig,
    ActionKind,
    ActionOutcome,
    Approval,
    ApprovalStatus,
    EntryKind,
    Incident,
    RunbookConfig,
    TimelineEntry,
)
from mlpulse.domain.monitoring import Config
from mlpulse.domain.rules import matches
from mlpulse.errors import ConflictError, InvalidInputError, NotFoundError
from mlpulse.ports import Clock
from mlpulse.services.action_worker import ACTION_TIMEOUT_S, bounded
from mlpulse.services.alert_rules import seconds
from mlpulse.services.incident_onset import SeriesReader, estimate_onset
from mlpulse.services.runbook_actions import RunbookActions

log = logging.getLogger("mlpulse.incidents")

MITIGATING = ("rollback", "shift_traffic", "open_circuit")


class IncidentStore(Protocol):
    def save_incident(self, incident: Incident) -> None: ...

    def incidents(
        self, *, model: str | None = None, status: str | None = None, limit: int = 1000
    ) -> list[Incident]: ...

    def record_action(self, outcome: ActionOutcome) -> None: ...

    def actions(self, *, since: float = 0.0, runbook: str | None = None) -> list[ActionOutcome]: ...

    def save_approval(self, approval: Approval) -> None:
        """Insert or replace ``approval`` (by id)."""
        ...

    def approvals(self, *, status: str | None = None) -> list[Approval]:
        """Oldest first."""
        ...


def _entry(at: float, kind: EntryKind, text: str, **data: object) -> TimelineEntry:
    return TimelineEntry(at=at, kind=kind, text=text, data=dict(data))


def _inline(job: Callable[[], None]) -> None:
    job()


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
        self._actions = actions
        self._run_later = run_later
        self._timeout = action_timeout_s
        self._series = series
        self._lock = threading.RLock()
        self._open = {i.model: i for i in store.incidents() if i.status != "resolved"}
        self._ran: set[tuple[str, str, float]] = set()  # (runbook, fingerprint, starts_at)
        # Confirmation: (runbook, fingerprint, starts_at) -> (evaluations seen, last counted).
        self._seen: dict[tuple[str, str, float], tuple[int, float]] = {}
        # Actions decided and not yet recorded: (runbook, model) -> when decided.
        self._in_flight: dict[tuple[str, str], list[float]] = {}

    # -- driven by the alert engine ----------------------------------------------------------

    def on_alerts(self, alerts: Sequence[Alert], now: float) -> None:
        with self._lock:
            for alert in alerts:
                self._follow(alert, now)
            config = self._config()
            firing = [a for a in alerts if a.state == AlertState.FIRING]
            still = {a.fingerprint for a in firing}
            # A firing that ended never acts (and a new one has a new starts_at).
            self._ran = {k for k in self._ran if k[1] in still}
            self._seen = {k: v for k, v in self._seen.items() if k[1] in still}
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
            key = (name, alert.fingerprint, alert.starts_at or 0.0)
            if key in self._ran or not self._confirmed(key, runbook, now):
                continue
            self._ran.add(key)
            model = alert.labels.get("model", "")
            why_not = self._guardrails(name, runbook, model, now)
            for action in runbook.actions:
                if why_not is not None:
                    self._record(name, action.kind, "skipped", f"{why_not} [model={model}]",
                                 model, now)  # fmt: skip
                elif runbook.require_approval and not runbook.dry_run:
                    self._ask(name, runbook, action, alert, model, now)
                else:
                    self._submit(name, action, alert, model, firing, now,
                                 dry_run=runbook.dry_run)  # fmt: skip

    def _confirmed(self, key: tuple[str, str, float], runbook: RunbookConfig, now: float) -> bool:
        """Whether the alert has now been seen firing at ``confirm.failures`` evaluations
        at least ``confirm.interval`` apart."""
        count, last = self._seen.get(key, (0, 0.0))
        if count == 0 or now - last >= seconds(runbook.confirm.interval):
            count, last = count + 1, now
            self._seen[key] = (count, last)
        return count >= runbook.confirm.failures

    def _guardrails(self, name: str, runbook: RunbookConfig, model: str, now: float) -> str | None:
        """Why the runbook may not act on ``model`` now (None: it may). Actions in flight
        count as done."""
        recent = [o for o in self._store.actions(since=now - 3600.0, runbook=name)
                  if o.status == "ok"]  # fmt: skip
        times = [o.at for o in recent if _model_of(o) == model]
        times += self._in_flight.get((name, model), [])
        flying = sum(len(v) for (r, _), v in self._in_flight.items() if r == name)
        cooldown = seconds(runbook.cooldown)
        last = max(times, default=None)
        if last is not None and now - last < cooldown:
            return f"cooldown: last action {now - last:.0f} s ago"
        if len(recent) + flying >= runbook.max_per_hour:
            return f"at most {runbook.max_per_hour} actions an hour"
        return None

    def _submit(
        self, name: str, action: ActionConfig, alert: Alert, model: str,
        firing: Sequence[Alert], now: float, *, dry_run: bool, by: str = "",
    ) -> None:  # fmt: skip
        """Hand the action to the worker; it is in flight until its outcome is recorded."""
        healthy = _healthy(firing)
        flight = (name, model)
        if not dry_run:
            self._in_flight.setdefault(flight, []).append(now)

        def job() -> None:
            status, detail = self._execute(action, alert, healthy, dry_run=dry_run)
            suffix = f" (approved by {by})" if by else ""
            with self._lock:
                self._land(flight, now, dry_run)
                self._record(name, action.kind, status, f"{detail}{suffix} [model={model}]",
                             model, self._clock.now())  # fmt: skip

        self._run_later(job)

    def _execute(
        self, action: ActionConfig, alert: Alert, healthy: Callable[[str, str], bool],
        *, dry_run: bool,
    ) -> tuple[str, str]:  # fmt: skip
        return bounded(
            lambda: self._actions.run(
                action, alert, healthy=healthy, now=self._clock.now(), dry_run=dry_run
            ),
            self._timeout,
        )

    def _land(self, flight: tuple[str, str], at: float, dry_run: bool) -> None:
        if dry_run:
            return
        times = self._in_flight.get(flight, [])
        if at in times:
            times.remove(at)
        if not times:
            self._in_flight.pop(flight, None)

    def _ask(
        self, name: str, runbook: RunbookConfig, action: ActionConfig, alert: Alert,
        model: str, now: float,
    ) -> None:  # fmt: skip
        """Keep the action for a person, unless the same one waits already."""
        version = alert.labels.get("version", "")
        for waiting in self._pending(now):
            same = (waiting.runbook, waiting.model, waiting.action, waiting.alert.labels.get(
                "version", "")) == (name, model, action, version)  # fmt: skip
            if same:
                return
        approval = Approval(
            id=uuid.uuid4().hex[:12], runbook=name, action=action, alert=alert, model=model,
            requested_at=now, expires_at=now + seconds(runbook.approval_expires),
        )  # fmt: skip
        self._store.save_approval(approval)
        detail = f"{action.kind} needs a person's approval (approval {approval.id})"
        self._record(name, action.kind, "awaiting_approval", f"{detail} [model={model}]",
                     model, now)  # fmt: skip

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
        with self._lock:
            return self._pending(self._clock.now())

    def _pending(self, now: float) -> list[Approval]:
        waiting = []
        for approval in self._store.approvals(status="pending"):
            if now >= approval.expires_at:
                self._decide(approval, "expired", now, "", "not approved in time")
            else:
                waiting.append(approval)
        return waiting

    def approve(self, approval_id: str, *, by: str, firing: Sequence[Alert] = ()) -> ActionOutcome:
        """Run a waiting action now, as ``by`` decided; its outcome goes to the audit log.

        Re-checked first: the approval must still be pending and unexpired, the runbook
        still configured, its cooldown and ``max_per_hour`` must allow an action (one run
        by an earlier approval counts), and the version the alert named must still serve.
        A refusal is recorded and raised as :class:`ConflictError`.
        """
        with self._lock:
            now = self._clock.now()
            approval = self._approval(approval_id, now)
            config = self._config()
            runbook = config.runbooks.get(approval.runbook) if config is not None else None
            why_not = (
                f"runbook {approval.runbook!r} is no longer configured"
                if runbook is None
                else self._guardrails(approval.runbook, runbook, approval.model, now)
                or self._gone(approval)
            )
            if why_not is not None:
                self._decide(approval, "refused", now, by, why_not)
                self._record(approval.runbook, approval.action.kind, "skipped",
                             f"approval {approval.id} by {by} refused: {why_not} "
                             f"[model={approval.model}]", approval.model, now)  # fmt: skip
                raise ConflictError(
                    f"approval {approval.id} refused: {why_not}", field="approval_id"
                )
            self._decide(approval, "approved", now, by, "")
            flight = (approval.runbook, approval.model)
            self._in_flight.setdefault(flight, []).append(now)
        # Outside the lock, bounded: a hanging target holds this request, not the others.
        status, detail = self._execute(
            approval.action, approval.alert, _healthy(firing), dry_run=False
        )
        with self._lock:
            self._land(flight, now, dry_run=False)
            return self._record(
                approval.runbook, approval.action.kind, status,
                f"{detail} (approved by {by}) [model={approval.model}]", approval.model,
                self._clock.now(),
            )  # fmt: skip

    def reject(self, approval_id: str, *, by: str, reason: str = "") -> Approval:
        """Decline a waiting action: it never runs; the refusal is audited."""
        with self._lock:
            now = self._clock.now()
            approval = self._approval(approval_id, now)
            rejected = self._decide(approval, "rejected", now, by, reason)
            why = f": {reason}" if reason else ""
            self._record(approval.runbook, approval.action.kind, "rejected",
                         f"approval {approval.id} rejected by {by}{why} "
                         f"[model={approval.model}]", approval.model, now)  # fmt: skip
            return rejected

    def _approval(self, approval_id: str, now: float) -> Approval:
        """The pending approval ``approval_id``; ConflictError once decided or expired."""
        found = next((a for a in self._store.approvals() if a.id == approval_id), None)
        if found is None:
            raise NotFoundError(f"no approval {approval_id!r}")
        if found.status == "pending" and now >= found.expires_at:
            found = self._decide(found, "expired", now, "", "not approved in time")
        if found.status != "pending":
            by = f" by {found.decided_by}" if found.decided_by else ""
            detail = f" ({found.detail})" if found.detail else ""
            raise ConflictError(
                f"approval {approval_id} is {found.status}{by}{detail}; nothing was run",
                field="approval_id",
            )
        return found

    def _decide(
        self, approval: Approval, status: ApprovalStatus, now: float, by: str, detail: str
    ) -> Approval:
        decided = msgspec.structs.replace(
            approval, status=status, decided_at=now, decided_by=by or None, detail=detail
        )
        self._store.save_approval(decided)
        return decided

    def _gone(self, approval: Approval) -> str | None:
        """Why the action no longer applies: the failing version stopped serving."""
        version = approval.alert.labels.get("version")
        if not version or approval.action.kind not in ("rollback", "open_circuit"):
            return None
        serving = self._actions.serving(approval.model)
        if serving is not None and version not in serving:
            return f"{approval.model}/{version} is not serving any more"
        return None

    def acknowledge(self, incident_id: str, *, by: str) -> Incident:
        with self._lock:
            incident = self.get(incident_id)
            if incident.acknowledged_at is None:
                incident = msgspec.structs.replace(
                    incident, acknowledged_at=self._clock.now(), commander=incident.commander or by
                )
            return self._status(
                incident, "acknowledged", self._clock.now(), f"acknowledged by {by}"
            )

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


def _model_of(outcome: ActionOutcome) -> str:
    _, _, rest = outcome.detail.rpartition("[model=")
    return rest.rstrip("]")


def _healthy(firing: Sequence[Alert]) -> Callable[[str, str], bool]:
    """A version is healthy unless a critical alert of its own fires."""
    sick = {
        (a.labels.get("model", ""), a.labels.get("version", ""))
        for a in firing
        if a.severity == Severity.CRITICAL
    }
    return lambda model, version: (model, version) not in sick
