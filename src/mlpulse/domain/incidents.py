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

A runbook, declared in ``mlpulse.yaml``, runs actions for matching alerts with
guardrails: a cooldown, at most ``max_per_hour`` automatic actions, a dry-run mode, and
optional human approval.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec

from mlpulse.domain.events import Name

IncidentStatus: TypeAlias = Literal["triggered", "acknowledged", "mitigated", "resolved"]
EntryKind: TypeAlias = Literal["alert", "notification", "action", "deployment", "note", "status"]
ActionKind: TypeAlias = Literal[
    "rollback", "shift_traffic", "open_circuit", "pause_experiment", "webhook", "notify"
]

__all__ = [
    "ActionConfig",
    "ActionOutcome",
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

    * ``rollback``: to the last version that was healthy by the monitors (``to`` forces one);
    * ``shift_traffic``: set ``weights`` (version → percent);
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


class RunbookConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Actions for the firing alerts matching ``match``, with guardrails."""

    match: dict[Name, str]
    actions: list[ActionConfig]
    cooldown: str = "10m"
    max_per_hour: int = 3
    dry_run: bool = False
    require_approval: bool = False
    # Acts on alerts received from outside (Alertmanager's webhook) only when true.
    external: bool = False


class ActionOutcome(msgspec.Struct, frozen=True, omit_defaults=True):
    """What an action did: ``ok``, ``skipped`` (a guardrail), ``failed``, ``dry_run`` or
    ``awaiting_approval``; ``detail`` says why or what."""

    runbook: str
    action: ActionKind
    status: str
    detail: str
    at: float
    incident: str | None = None
