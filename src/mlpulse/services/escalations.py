"""Escalation: page people step by step while an alert fires unacknowledged.

A route with an ``escalation_policy`` pages, for each of its firing alerts, the policy's
steps in turn (:func:`mlpulse.domain.escalation.due_pages`): the on-call of a schedule
at the moment of the page, named users (through their receiver), team channels. Paging
stops once the alert is acknowledged or resolved.

Each page is its own incident at the receiver: its ``dedup_key`` names the alert's
episode (when it began to fire), the step, the cycle and the target, so a repeat to the
same person pages again instead of being dropped by PagerDuty as a duplicate of the
open incident, and the next episode after a resolve pages afresh. Its id is made the
same way, so the outbox refuses a page twice, across restarts too. Every page sent is
later acknowledged (when someone acknowledges the alert) and resolved (when the alert
stops firing), each once: ids ``<page>-ack`` and ``<page>-resolve``. Which pages were
sent is read from the policy's plan (the pages due before the acknowledgement or the
resolve), so it survives a restart without a table of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from mlpulse.domain.alerts import Alert, AlertState, Notification
from mlpulse.domain.escalation import EscalationPolicy, Page, due_pages, escalation_plan
from mlpulse.domain.monitoring import Config
from mlpulse.domain.oncall_config import policies_from_config, schedules_from_config
from mlpulse.domain.schedules import Schedule
from mlpulse.errors import InvalidInputError
from mlpulse.services.alert_dispatch import routes_for

log = logging.getLogger("mlpulse.escalation")


@dataclass(slots=True)
class _Episode:
    """One firing period of one alert that a policy pages for."""

    alert: Alert
    policies: tuple[str, ...]
    sent: set[tuple[str, int, int]]  # (policy, step, repeat)
    acknowledged: bool = False


class Escalations:
    def __init__(self, *, external_url: str = "") -> None:
        self._external_url = external_url
        self._parsed_for: Config | None = None
        self._schedules: dict[str, Schedule] = {}
        self._policies: dict[str, EscalationPolicy] = {}
        self._open: dict[str, _Episode] = {}

    def _parse(self, config: Config) -> None:
        if config is self._parsed_for:
            return
        self._parsed_for = config
        try:
            self._schedules = schedules_from_config(config.schedules)
            self._policies = policies_from_config(config.escalation_policies, self._schedules)
        except InvalidInputError as exc:  # the config was validated on apply; log if not
            log.error("escalation policies unusable: %s", exc)
            self._schedules, self._policies = {}, {}

    def pages(
        self, config: Config | None, alerts: Iterable[Alert], now: float
    ) -> list[Notification]:
        """The page notifications due at ``now``, and the acknowledgements and resolves
        of pages sent earlier."""
        if config is None or config.route is None or not config.escalation_policies:
            return []
        self._parse(config)
        found: list[Notification] = []
        for alert in alerts:
            episode = self._open.get(alert.fingerprint)
            if episode is not None and (
                alert.state != AlertState.FIRING or alert.starts_at != episode.alert.starts_at
            ):  # it stopped firing (or fired anew): close the episode that paged
                found += self._close(config, episode, alert, now)
                del self._open[alert.fingerprint]
                episode = None
            if alert.state != AlertState.FIRING or alert.starts_at is None:
                continue
            if episode is None:
                names = tuple(
                    dict.fromkeys(
                        r.escalation_policy
                        for r in routes_for(alert.labels, config.route)
                        if r.escalation_policy in self._policies
                    )
                )
                if not names:
                    continue
                episode = self._open[alert.fingerprint] = _Episode(alert, names, set())
            episode.alert = alert
            found += self._due(config, episode, now)
            if alert.acknowledged_at is not None and not episode.acknowledged:
                episode.acknowledged = True
                found += self._follow_up(config, episode, now, "acknowledge", now)
        return found

    def _due(self, config: Config, episode: _Episode, now: float) -> list[Notification]:
        alert, found = episode.alert, []
        for name in episode.policies:
            policy = self._policies[name]
            sent = {(step, repeat) for p, step, repeat in episode.sent if p == name}
            for page in due_pages(
                policy, self._schedules, triggered_at=alert.starts_at or now, now=now,
                acknowledged_at=alert.acknowledged_at, already_sent=sent,
            ):  # fmt: skip
                episode.sent.add((name, page.step_index, page.repeat))
                for target, receiver in _targets(page, config):
                    found.append(
                        _page(alert, name, page, target, receiver, now, self._external_url)
                    )
                if page.unstaffed:
                    log.warning("escalation %s: nobody on call in %s", name,
                                ", ".join(page.unstaffed))  # fmt: skip
        return found

    def _close(
        self, config: Config, episode: _Episode, alert: Alert, now: float
    ) -> list[Notification]:
        ended = alert.ends_at if alert.ends_at is not None else now
        resolved = msgspec.structs.replace(
            episode.alert, state=AlertState.RESOLVED, ends_at=ended, updated_at=now
        )
        episode.alert = resolved
        return self._follow_up(config, episode, now, "resolve", min(ended, now))

    def _follow_up(
        self, config: Config, episode: _Episode, now: float, what: str, until: float
    ) -> list[Notification]:
        """``what`` (acknowledge, resolve) for every page sent before ``until``."""
        alert, found = episode.alert, []
        acked = alert.acknowledged_at
        stop = until if acked is None else min(until, acked)
        for name in episode.policies:
            policy = self._policies.get(name)
            if policy is None or alert.starts_at is None:
                continue
            for page in escalation_plan(policy, self._schedules, triggered_at=alert.starts_at):
                sent = (name, page.step_index, page.repeat) in episode.sent
                if not sent and page.at.timestamp() >= stop:
                    continue  # never due: due_pages stops at the acknowledgement
                for target, receiver in _targets(page, config):
                    base = _page(alert, name, page, target, receiver, now, self._external_url)
                    found.append(
                        msgspec.structs.replace(
                            base,
                            id=f"{base.id}-{what}",
                            status="resolved" if what == "resolve" else "firing",
                            action="acknowledge" if what == "acknowledge" else "notify",
                            title=("[RESOLVED] " if what == "resolve" else "[ACKNOWLEDGED] ")
                            + base.title,
                        )
                    )
        return found


def _targets(page: Page, config: Config) -> list[tuple[str, str]]:
    """(target, receiver) of each user and channel a page goes to."""
    targets = [(u, config.users[u].receiver) for u in page.users if u in config.users]
    return targets + [(c, c) for c in page.channels]


def _page(
    alert: Alert,
    policy: str,
    page: Page,
    target: str,
    receiver: str,
    now: float,
    external_url: str,
) -> Notification:
    episode = int(alert.starts_at or alert.active_since)
    name = f"{alert.fingerprint}-{episode}-{page.step_index}-{page.repeat}-{target}"
    return Notification(
        id=f"page-{name}",
        receiver=receiver,
        dedup_key=f"mlpulse-page-{name}",
        status="firing",
        severity=alert.severity,
        group_labels={"alertname": alert.labels.get("alertname", alert.rule)},
        common_labels=dict(alert.labels),
        alerts=[alert],
        title=f"[{policy} step {page.step_index + 1}] {alert.labels.get('alertname', alert.rule)}"
        + (f" for {target}" if target else ""),
        created_at=now,
        external_url=external_url,
    )
