"""Alerting as code: rules, receivers, the routing tree and inhibition, in ``mlpulse.yaml``.

::

    rules:
      drift-amount:
        kind: threshold
        series: mlpulse_drift_score
        match: {column: amount}
        op: ">="
        value: 1                    # severity: 1 = the warning threshold, 2 = critical
        resolve_value: 0.8          # hysteresis: resolves only below 0.8
        for: 10m
        severity: warning
        annotations:
          summary: "{{ $labels.model }}: amount drifted ({{ $value }})"
          runbook_url: https://runbooks.example/drift
      auc-drop:
        kind: relative              # below 95% of the trailing 7-day median
        series: mlpulse_performance
        match: {metric: roc_auc}
        op: "<"
        ratio: 0.95
        baseline_window: 7d
        severity: critical
    receivers:
      oncall: {kind: pagerduty, settings: {routing_key: "${PD_KEY}"}}
      team: {kind: slack, settings: {url: "${SLACK_WEBHOOK}"}}
    route:
      receiver: team
      group_by: [alertname, model]
      routes:
        - match: {severity: critical}
          receiver: oncall
    inhibit_rules:
      - source_match: {severity: critical}
        target_match: {severity: warning}
        equal: [model]

Rule kinds: ``threshold`` (value against a number, with optional hysteresis),
``relative`` (value against ``ratio`` × a baseline: the trailing median of the same
series over ``baseline_window``, or a fixed ``baseline_value``), ``anomaly`` (a robust
seasonal baseline, :mod:`mlpulse.core.anomaly`, with ``sensitivity``), ``absent`` (no
point for ``absent_for``) and ``detection`` (a streaming detector fired).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, TypeAlias

import msgspec

from mlpulse.domain.events import FiniteFloat, Name

RuleKind: TypeAlias = Literal["threshold", "relative", "anomaly", "absent", "detection"]
Op: TypeAlias = Literal[">", ">=", "<", "<="]
SeverityName: TypeAlias = Literal["info", "warning", "critical"]
ReceiverKind: TypeAlias = Literal["slack", "pagerduty", "opsgenie", "webhook", "email"]
Duration = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]

RULE_KINDS: Final = ("threshold", "relative", "anomaly", "absent", "detection")
DEFAULT_GROUP_BY: Final = ("alertname", "model")


class RuleConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One alert rule over one metric series (see the module docstring)."""

    kind: RuleKind
    series: Name
    match: dict[Name, str] = msgspec.field(default_factory=dict)
    op: Op | None = None
    value: FiniteFloat | None = None
    resolve_value: FiniteFloat | None = None
    ratio: FiniteFloat | None = None
    baseline_window: Duration = "7d"
    baseline_value: FiniteFloat | None = None
    sensitivity: FiniteFloat | None = None
    absent_for: Duration | None = None
    for_: Duration = msgspec.field(default="0m", name="for")
    # Once firing, the alert resolves only after the condition has been clear this long
    # (and, with resolve_value, past that value): a series hovering at its threshold
    # makes one alert, not one per crossing.
    keep_firing_for: Duration = "5m"
    severity: SeverityName = "warning"
    labels: dict[Name, str] = msgspec.field(default_factory=dict)
    annotations: dict[Name, str] = msgspec.field(default_factory=dict)


class ReceiverConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Where notifications go: a notifier kind and its settings (URLs, keys, addresses).

    A setting written ``${NAME}`` is read from the collector's environment variable
    ``NAME`` when the receiver is built, so secrets stay out of the file.
    """

    kind: ReceiverKind
    settings: dict[Name, Any] = msgspec.field(default_factory=dict)
    send_resolved: bool = True


class RouteConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A node of the routing tree (Alertmanager semantics).

    An alert enters at the root and goes down to the first child whose ``match`` (exact
    label values) it satisfies, recursively; ``continue`` lets it also try the next
    siblings. A node without ``receiver`` inherits its parent's, as do the grouping
    settings. ``escalation_policy`` pages people step by step while alerts of this
    route fire unacknowledged.
    """

    receiver: Name | None = None
    match: dict[Name, str] = msgspec.field(default_factory=dict)
    group_by: list[Name] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    continue_: bool = msgspec.field(default=False, name="continue")
    escalation_policy: Name | None = None
    routes: list[RouteConfig] = msgspec.field(default_factory=list)
    # Root only: where a notification goes when its receiver refused it for good.
    dead_letter_receiver: Name | None = None


class UserConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A person escalation policies page: the receiver that reaches them (their pager,
    their e-mail address)."""

    receiver: Name


class InhibitRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """While an alert matching ``source_match`` fires, alerts matching ``target_match``
    with the same values of the ``equal`` labels are muted."""

    source_match: dict[Name, str]
    target_match: dict[Name, str]
    equal: list[Name] = msgspec.field(default_factory=list)


def matches(labels: dict[str, str], matchers: dict[str, str]) -> bool:
    """Whether ``labels`` has every matcher's value (an empty value matches an absent label).

    >>> matches({"model": "fraud", "severity": "critical"}, {"severity": "critical"})
    True
    >>> matches({"model": "fraud"}, {"env": ""}), matches({"model": "fraud"}, {"model": "x"})
    (True, False)
    """
    return all(labels.get(key, "") == value for key, value in matchers.items())


__all__ = [
    "DEFAULT_GROUP_BY",
    "RULE_KINDS",
    "InhibitRule",
    "ReceiverConfig",
    "RouteConfig",
    "RuleConfig",
    "UserConfig",
    "matches",
]
