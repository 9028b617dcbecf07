"""Runbooks: when a matching firing alert makes them act, and the approvals they wait for.

:class:`RunbookRunner` belongs to the incident service (it shares its lock and records
through it); see :mod:`mlpulse.services.incidents` for the whole behaviour. What it keeps:

* **confirmation** — per (runbook, alert fingerprint, firing start), how many
  evaluations saw it firing; a firing that ends is forgotten (a new one starts at 0);
* **guardrails** — cooldown and ``max_per_hour`` from the audit log, where an action in
  flight (decided, not yet recorded) counts as done, so a slow action cannot be doubled;
* **actions** — handed to ``run_later`` (the collector's worker) and bounded by
  ``action_timeout_s``; their outcome is recorded once known;
* **approvals** — persisted in the store, expiring, rejectable; approving re-checks the
  guardrails and that the failing version still serves, and refuses a stale one.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec

from mlpulse.domain.alerts import Alert, Severity
from mlpulse.domain.incidents import (
    ActionConfig,
    ActionKind,
    ActionOutcome,
    Approval,
    ApprovalStatus,
    RunbookConfig,
)
from mlpulse.domain.monitoring import Config
from mlpulse.errors import ConflictError, NotFoundError
from mlpulse.ports import Clock
from mlpulse.services.action_worker import bounded
from mlpulse.services.alert_rules import seconds
from mlpulse.services.runbook_actions import RunbookActions

# (runbook, action kind, status, detail, model, at) -> the outcome as recorded
Record = Callable[[str, ActionKind, str, str, str, float], ActionOutcome]


class RunbookStore(Protocol):
    def actions(self, *, since: float = 0.0, runbook: str | None = None) -> list[ActionOutcome]: ...

    def save_approval(self, approval: Approval) -> None: ...

    def approvals(self, *, status: str | None = None) -> list[Approval]: ...


class RunbookRunner:
    def __init__(
        self,
        store: RunbookStore,
        clock: Clock,
        config: Callable[[], Config | None],
        actions: RunbookActions,
        *,
        record: Record,
        lock: threading.RLock,
        run_later: Callable[[Callable[[], None]], None],
        action_timeout_s: float,
    ) -> None:
        self._store = store
        self._clock = clock
        self._config = config
        self._actions = actions
        self._record = record
        self._lock = lock
        self._run_later = run_later
        self._timeout = action_timeout_s
        self._ran: set[tuple[str, str, float]] = set()  # (runbook, fingerprint, starts_at)
        # Confirmation: (runbook, fingerprint, starts_at) -> (evaluations seen, last counted).
        self._seen: dict[tuple[str, str, float], tuple[int, float]] = {}
        # Actions decided and not yet recorded: (runbook, model) -> when decided.
        self._in_flight: dict[tuple[str, str], list[float]] = {}

    def forget_ended(self, firing: set[str]) -> None:
        """Only the fingerprints in ``firing`` still fire: a firing that ended never acts
        (and a new one has a new start)."""
        self._ran = {k for k in self._ran if k[1] in firing}
        self._seen = {k: v for k, v in self._seen.items() if k[1] in firing}

    def fire(
        self, name: str, runbook: RunbookConfig, alert: Alert, firing: Sequence[Alert],
        now: float,
    ) -> None:  # fmt: skip
        """``alert`` matches ``runbook`` and fires: act once it is confirmed (once per firing)."""
        key = (name, alert.fingerprint, alert.starts_at or 0.0)
        if key in self._ran or not self._confirmed(key, runbook, now):
            return
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
                self._submit(name, action, alert, model, firing, now, dry_run=runbook.dry_run)

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
        firing: Sequence[Alert], now: float, *, dry_run: bool,
    ) -> None:  # fmt: skip
        """Hand the action to the worker; it is in flight until its outcome is recorded."""
        healthy = _healthy(firing)
        flight = (name, model)
        if not dry_run:
            self._in_flight.setdefault(flight, []).append(now)

        def job() -> None:
            status, detail = self._execute(action, alert, healthy, dry_run=dry_run)
            with self._lock:
                self._land(flight, now, dry_run)
                self._record(name, action.kind, status, f"{detail} [model={model}]", model,
                             self._clock.now())  # fmt: skip

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
