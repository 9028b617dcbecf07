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
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import msgspec

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
    """The group's key: its receiver and its group labels, never the route's position.

    Adding or reordering routes must not rename a group: the key is the receiver's
    ``dedup_key`` (PagerDuty incident, Opsgenie alias), and a renamed group would orphan
    the incident it opened. Two routes sending the same labels to the same receiver
    therefore share one group (and one incident), which is what the receiver would show.
    """
    group_labels = {name: labels.get(name, "") for name in route.group_by}
    named = sorted(group_labels.items())
    text = "|".join([route.receiver, *(f"{k}={v}" for k, v in named)])
    return hashlib.sha256(text.encode()).hexdigest()[:24], group_labels


def _left(alert: Alert | None, now: float) -> Alert | None:
    """The alert as it is reported to a group it left (resolved, went back to pending,
    moved to another group): resolved, so the receiver closes what it opened."""
    if alert is None:
        return None
    if alert.state == AlertState.RESOLVED and alert.starts_at is not None:
        return alert
    return msgspec.structs.replace(
        alert, state=AlertState.RESOLVED, ends_at=alert.ends_at or now,
        starts_at=alert.starts_at or alert.active_since,
    )  # fmt: skip


@dataclass(slots=True)
class Dispatch:
    """What a dispatch step decided: notifications to queue, groups to save or drop."""

    notifications: list[Notification]
    groups: list[GroupState]
    dropped: list[str]


@dataclass(slots=True)
class _Members:
    route: Route
    group_labels: dict[str, str]
    alerts: list[Alert] = field(default_factory=list)
    muted: set[str] = field(default_factory=set)  # firing but muted: not news either way


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
    """Group the alerts that fired (and those resolved lately) and decide what to send.

    A group that told its receiver an alert fires tells it when that alert stops firing,
    however it stops: resolved, back to pending (its condition cleared and returned
    before the group's next send), forgotten, or moved to another group by a new route.
    """
    every = list(alerts)
    known = {a.fingerprint: a for a in every}
    relevant = [
        a for a in every
        if a.starts_at is not None
        and (a.state == AlertState.FIRING or (a.ends_at or 0.0) >= now - RESOLVED_KEPT_S)
    ]  # fmt: skip
    firing = [a for a in relevant if a.state == AlertState.FIRING]
    members: dict[str, _Members] = {}
    for alert in relevant:
        silent = muted(alert, firing, silences, inhibit, now) is not None
        keys = set()
        for route in routes_for(alert.labels, root):
            key, group_labels = _group_key(route, alert.labels)
            if key in keys:
                continue  # two routes to the same receiver and labels: one group, once
            keys.add(key)
            group = members.setdefault(key, _Members(route, group_labels))
            if not silent:
                group.alerts.append(alert)
            elif alert.state == AlertState.FIRING:
                group.muted.add(alert.fingerprint)
    out = Dispatch([], [], [])
    for key, left in groups.items():  # groups whose alerts all left: one last word
        if key in members:
            continue
        if not any(s == AlertState.FIRING.value for s in left.sent.values()):
            out.dropped.append(key)
        else:
            route = Route(left.route, left.receiver, tuple(left.group_labels), 0.0, 0.0,
                          DEFAULT_REPEAT_INTERVAL, None)  # fmt: skip
            members[key] = _Members(route, dict(left.group_labels))
    for key, group in members.items():
        route, group_labels, grouped = group.route, group.group_labels, group.alerts
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
        present = {a.fingerprint for a in grouped}
        for fp, was in sorted(state.sent.items()):
            if was == AlertState.FIRING.value and fp not in present and fp not in group.muted:
                gone = _left(known.get(fp), now)
                if gone is not None:
                    grouped.append(gone)
        current = {a.fingerprint: a.state.value for a in grouped}
        current.update(dict.fromkeys(group.muted, AlertState.FIRING.value))
        still_firing = any(a.state == AlertState.FIRING for a in grouped) or bool(group.muted)
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
        if grouped:
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


def acknowledgements(
    alerts: Iterable[Alert],
    groups: Mapping[str, GroupState],
    fp: str,
    *,
    receivers: Collection[str],
    now: float,
    external_url: str = "",
) -> list[Notification]:
    """The ``acknowledge`` notifications owed once alert ``fp`` is acknowledged: one per
    group (of the ``receivers`` given: those that can show an acknowledgement) that told
    its receiver ``fp`` fires, once every alert that group reported firing is
    acknowledged (a paging service acknowledges the whole incident)."""
    known = {a.fingerprint: a for a in alerts}
    found = []
    for key, state in groups.items():
        if state.receiver not in receivers or state.sent.get(fp) != AlertState.FIRING.value:
            continue
        active = [
            known[f] for f, s in sorted(state.sent.items())
            if s == AlertState.FIRING.value and f in known
            and known[f].state == AlertState.FIRING
        ]  # fmt: skip
        if not active or any(a.acknowledged_at is None for a in active):
            continue
        route = Route(state.route, state.receiver, tuple(state.group_labels), 0.0, 0.0,
                      DEFAULT_REPEAT_INTERVAL, None)  # fmt: skip
        notification = _notification(key, route, state.group_labels, active, now, external_url)
        found.append(msgspec.structs.replace(notification, action="acknowledge"))
    return found
