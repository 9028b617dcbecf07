"""From alerts to notifications: routing tree, grouping, silences and inhibition.

Alertmanager's semantics, which on-call engineers already know:

* routing — an alert walks down the tree to the first matching child (``continue``
  lets it try the next siblings too); the node gives the receiver and grouping;
* grouping — alerts of a route with the same ``group_by`` label values form one group
  and one notification: the first after ``group_wait`` (so alerts firing together
  arrive together), then at most one per ``group_interval`` while the group changes,
  and a reminder every ``repeat_interval`` while it fires unchanged; a group whose alerts
  have all resolved sends one resolved notification and is closed;
* silences mute matching alerts; inhibition mutes the targets of a firing source.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from mlpulse.domain.alerts import (
    Alert,
    AlertState,
    GroupState,
    Notification,
    Severity,
    Silence,
)
from mlpulse.domain.rules import DEFAULT_GROUP_BY, InhibitRule, RouteConfig, matches
from mlpulse.services.alert_rules import seconds

DEFAULT_GROUP_WAIT: Final = 30.0
DEFAULT_GROUP_INTERVAL: Final = 300.0
DEFAULT_REPEAT_INTERVAL: Final = 4 * 3600.0
# A resolved alert is still part of its group's next notification for this long.
RESOLVED_KEPT_S: Final = 3600.0


@dataclass(frozen=True, slots=True)
class Route:
    """A routing tree node with its inherited settings resolved."""

    id: str
    receiver: str
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float
    escalation_policy: str | None


def _seconds(text: str | None, default: float) -> float:
    return default if text is None else seconds(text)


def routes_for(labels: Mapping[str, str], root: RouteConfig) -> list[Route]:
    """The routes an alert with ``labels`` goes to (at least the root's)."""

    def settle(node: RouteConfig, parent: Route, path: str) -> Route:
        return Route(
            id=path,
            receiver=node.receiver or parent.receiver,
            group_by=tuple(node.group_by) if node.group_by is not None else parent.group_by,
            group_wait=_seconds(node.group_wait, parent.group_wait),
            group_interval=_seconds(node.group_interval, parent.group_interval),
            repeat_interval=_seconds(node.repeat_interval, parent.repeat_interval),
            escalation_policy=node.escalation_policy or parent.escalation_policy,
        )

    def walk(node: RouteConfig, here: Route) -> list[Route]:
        found: list[Route] = []
        for i, child in enumerate(node.routes):
            if not matches(dict(labels), child.match):
                continue
            found += walk(child, settle(child, here, f"{here.id}.{i}"))
            if not child.continue_:
                break
        return found or [here]

    base = Route("root", "", DEFAULT_GROUP_BY, DEFAULT_GROUP_WAIT, DEFAULT_GROUP_INTERVAL,
                 DEFAULT_REPEAT_INTERVAL, None)  # fmt: skip
    return walk(root, settle(root, base, "root"))


def muted(
    alert: Alert,
    firing: Sequence[Alert],
    silences: Sequence[Silence],
    inhibit: Sequence[InhibitRule],
    now: float,
) -> str | None:
    """Why ``alert`` is muted ("silenced by <id>", "inhibited by <fingerprint>"), or None."""
    for silence in silences:
        if silence.mutes(alert.labels, now):
            return f"silenced by {silence.id}"
    for rule in inhibit:
        if not matches(alert.labels, rule.target_match):
            continue
        for source in firing:
            if (
                source.fingerprint != alert.fingerprint
                and matches(source.labels, rule.source_match)
                and all(source.labels.get(k, "") == alert.labels.get(k, "") for k in rule.equal)
            ):
                return f"inhibited by {source.fingerprint}"
    return None


def _group_key(route: Route, labels: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    group_labels = {name: labels.get(name, "") for name in route.group_by}
    text = "|".join([route.id, route.receiver, *(f"{k}={v}" for k, v in group_labels.items())])
    return hashlib.sha256(text.encode()).hexdigest()[:24], group_labels


@dataclass(slots=True)
class Dispatch:
    """What a dispatch step decided: notifications to queue, groups to save or drop."""

    notifications: list[Notification]
    groups: list[GroupState]
    dropped: list[str]


def dispatch(
    alerts: Iterable[Alert],
    groups: Mapping[str, GroupState],
    *,
    root: RouteConfig,
    silences: Sequence[Silence],
    inhibit: Sequence[InhibitRule],
    now: float,
    external_url: str = "",
) -> Dispatch:
    """Group the alerts that fired (and those resolved lately) and decide what to send."""
    relevant = [
        a for a in alerts
        if a.starts_at is not None
        and (a.state == AlertState.FIRING or (a.ends_at or 0.0) >= now - RESOLVED_KEPT_S)
    ]  # fmt: skip
    firing = [a for a in relevant if a.state == AlertState.FIRING]
    members: dict[str, tuple[Route, dict[str, str], list[Alert]]] = {}
    for alert in relevant:
        if muted(alert, firing, silences, inhibit, now) is not None:
            continue
        for route in routes_for(alert.labels, root):
            key, group_labels = _group_key(route, alert.labels)
            members.setdefault(key, (route, group_labels, []))[2].append(alert)
    out = Dispatch([], [], [])
    for key, (route, group_labels, grouped) in members.items():
        state = groups.get(key)
        if state is None:
            if not any(a.state == AlertState.FIRING for a in grouped):
                continue  # only resolved alerts and never notified: nothing to say
            state = GroupState(
                key=key, route=route.id, receiver=route.receiver, group_labels=group_labels,
                created_at=now, next_flush_at=now + route.group_wait,
            )  # fmt: skip
            out.groups.append(state)
        if now < state.next_flush_at:
            continue
        current = {a.fingerprint: a.state.value for a in grouped}
        still_firing = any(a.state == AlertState.FIRING for a in grouped)
        sent_firing = {fp for fp, s in state.sent.items() if s == AlertState.FIRING.value}
        now_firing = {fp for fp, s in current.items() if s == AlertState.FIRING.value}
        changed = now_firing != sent_firing  # an alert began or stopped firing
        reminder = (
            still_firing
            and state.last_sent_at is not None
            and now - state.last_sent_at >= route.repeat_interval
        )
        if not (changed or reminder):
            continue
        out.notifications.append(
            _notification(key, route, group_labels, grouped, now, external_url)
        )
        if still_firing:
            out.groups.append(
                GroupState(
                    key=key,
                    route=route.id,
                    receiver=route.receiver,
                    group_labels=group_labels,
                    created_at=state.created_at,
                    next_flush_at=now + route.group_interval,
                    last_sent_at=now,
                    sent=current,
                )
            )
        else:
            out.dropped.append(key)
    # Groups whose alerts all went away (muted, forgotten) without a resolved message.
    for key in groups:
        if key not in members and key not in out.dropped:
            out.dropped.append(key)
    return out


def _notification(
    key: str,
    route: Route,
    group_labels: dict[str, str],
    alerts: list[Alert],
    now: float,
    external_url: str,
) -> Notification:
    firing = [a for a in alerts if a.state == AlertState.FIRING]
    shown = firing or alerts
    common = dict(shown[0].labels)
    for alert in shown[1:]:
        common = {k: v for k, v in common.items() if alert.labels.get(k) == v}
    severity = max((Severity(a.severity) for a in shown), key=lambda s: s.rank)
    name = common.get("alertname") or shown[0].rule
    where = ", ".join(f"{k}={v}" for k, v in group_labels.items() if v and k != "alertname")
    title = f"{name}" + (f" ({where})" if where else "")
    return Notification(
        id=uuid.uuid4().hex,
        receiver=route.receiver,
        dedup_key=f"mlpulse-{key}",
        status="firing" if firing else "resolved",
        severity=severity,
        group_labels=group_labels,
        common_labels=common,
        alerts=sorted(alerts, key=lambda a: (a.state != AlertState.FIRING, a.fingerprint)),
        title=title,
        created_at=now,
        external_url=external_url,
    )
