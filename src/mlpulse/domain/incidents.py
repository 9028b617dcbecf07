"""Incidents and runbooks: what critical alerts open, and what is done about them.

An incident groups the related alerts of one model (one open incident per model): it
has a severity, a status (``triggered`` → ``acknowledged`` → ``mitigated`` →
``resolved``), a commander, and a timeline of alerts, notifications, actions,
deployments and notes. Its times are measured from the *onset* — when the first of
its alerts' conditions began to hold:

* time to detect: onset → the incident opened (the rules' ``for``, the evaluator tick);
* time to acknowledge: opened → acknowledged;
* time to recover (MTTR): onset → mitigated (an action restored service, e.g. a rollback),
  or → resolved when nothing mitigated it first;
* time to resolve: onset → resolved (every alert resolved).

The onset is estimated from the signal that fired (``onset_method`` says how: the
streaming detector's change point, the start of the threshold crossing, a CUSUM change
point of the series, or the alert's own time when nothing better is known).

A runbook, declared in ``mlpulse.yaml``, runs actions for matching alerts with
guardrails: confirmation over consecutive failing evaluations (``confirm``), a cooldown,
at most ``max_per_hour`` automatic actions, a dry-run mode, and optional human approval
(persisted, expiring after ``approval_expires``, rejectable, re-checked when approved).

A ``rollback`` acts on the version that failed (the alert's ``version`` label): a failing
challenger or shadow is taken out of traffic (archived, its weight to the champion); the
champion is rolled back only when it is the version that failed. An alert without a
``version`` label rolls back only a model whose champion is its one serving version: with
several, the failing one cannot be told apart and the action is skipped, saying so.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec

from mlpulse.domain.alerts import Alert
from mlpulse.domain.events import Name

IncidentStatus: TypeAlias = Literal["triggered", "acknowledged", "mitigated", "resolved"]
OnsetMethod: TypeAlias = Literal["detector", "crossing", "cusum", "alert", "reported"]
ApprovalStatus: TypeAlias = Literal["pending", "approved", "rejected", "expired", "refused"]
EntryKind: TypeAlias = Literal["alert", "notification", "action", "deployment", "note", "status"]
ActionKind: TypeAlias = Literal[
    "rollback", "shift_traffic", "open_circuit", "pause_experiment", "webhook", "notify"
]

__all__ = [
    "ActionConfig",
    "ActionOutcome",
    "Approval",
    "ConfirmConfig",
    "Incident",
    "RunbookConfig",
    "TimelineEntry",
]


class TimelineEntry(msgspec.Struct, frozen=True, omit_defaults=True):
    at: float
    kind: EntryKind
    text: str
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class Incident(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    title: str
    model: str
    severity: str
    status: IncidentStatus
    onset_at: float
    opened_at: float
    updated_at: float
    alerts: list[str] = msgspec.field(default_factory=list)  # fingerprints
    commander: str | None = None
    acknowledged_at: float | None = None
    mitigated_at: float | None = None
    resolved_at: float | None = None
    timeline: list[TimelineEntry] = msgspec.field(default_factory=list)
    # How onset_at was estimated (see OnsetMethod); "" for incidents recorded before.
    onset_method: str = ""

    @property
    def times(self) -> dict[str, float | None]:
        """Seconds to detect, acknowledge, recover and resolve (None until known)."""
        recovered = self.mitigated_at or self.resolved_at

        def since(start: float, end: float | None) -> float | None:
            return None if end is None else max(0.0, end - start)

        return {
            "time_to_detect": since(self.onset_at, self.opened_at),
            "time_to_acknowledge": since(self.opened_at, self.acknowledged_at),
            "time_to_recover": since(self.onset_at, recovered),
            "time_to_resolve": since(self.onset_at, self.resolved_at),
        }


class ActionConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One runbook action. ``model`` defaults to the alert's ``model`` label.

    * ``rollback``: take the failing version out (see the module's docstring); when that
      is the champion, to the last version that was healthy by the monitors (``to``
      forces one);
    * ``shift_traffic``: set ``weights`` (version → percent; required);
    * ``open_circuit``: take the alert's ``version`` out of rotation (weight 0, champion
      keeps the rest);
    * ``pause_experiment``: stop ``experiment`` (its units go back to the control);
    * ``webhook``: POST JSON to ``url`` (``template``: ``airflow``, ``dagster``,
      ``kubeflow`` or ``plain``; ``target`` is the DAG, job or pipeline to run);
    * ``notify``: a notification to ``receiver``.
    """

    kind: ActionKind
    model: Name | None = None
    to: Name | None = None
    weights: dict[Name, int] = msgspec.field(default_factory=dict)
    experiment: Name | None = None
    url: str | None = None
    template: Literal["plain", "airflow", "dagster", "kubeflow"] = "plain"
    target: str | None = None
    receiver: Name | None = None


class ConfirmConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """When a firing alert is confirmed, like Flagger's ``threshold`` / Argo's ``failureLimit``:
    after it was seen firing at ``failures`` consecutive evaluations at least ``interval``
    apart (the default, 2 and 1 s, acts once it is still firing a second later; an alert
    that resolves in between starts again). ``failures: 1`` acts on the first sight.
    Set ``interval`` to the rule's evaluation period (the monitor's ``every``) to count
    distinct evaluations of a threshold rule.
    """

    failures: int = 2
    interval: str = "1s"


class RunbookConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Actions for the firing alerts matching ``match``, with guardrails."""

    match: dict[Name, str]
    actions: list[ActionConfig]
    cooldown: str = "10m"
    max_per_hour: int = 3
    dry_run: bool = False
    require_approval: bool = False
    approval_expires: str = "1h"
    confirm: ConfirmConfig = msgspec.field(default_factory=ConfirmConfig)
    # Acts on alerts received from outside (Alertmanager's webhook) only when true.
    external: bool = False


class Approval(msgspec.Struct, frozen=True, omit_defaults=True):
    """A runbook action held for a person: ``pending`` until approved (it ran), rejected,
    expired (``expires_at`` passed) or refused (re-checked when approved, a guardrail or
    the failing version's state said no; ``detail`` says which)."""

    id: str
    runbook: str
    action: ActionConfig
    alert: Alert
    model: str
    requested_at: float
    expires_at: float
    status: ApprovalStatus = "pending"
    decided_at: float | None = None
    decided_by: str | None = None
    detail: str = ""


class ActionOutcome(msgspec.Struct, frozen=True, omit_defaults=True):
    """What an action did: ``ok``, ``skipped`` (a guardrail), ``failed``, ``dry_run`` or
    ``awaiting_approval``; ``detail`` says why or what."""

    runbook: str
    action: ActionKind
    status: str
    detail: str
    at: float
    incident: str | None = None
