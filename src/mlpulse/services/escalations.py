"""Escalation: page people step by step while an alert fires unacknowledged.

A route with an ``escalation_policy`` pages, for each of its firing alerts, the policy's
steps in turn (:func:`mlpulse.domain.escalation.due_pages`): the on-call of a schedule
at the moment of the page, named users (through their receiver), team channels. Paging
stops once the alert is acknowledged or resolved. Each page is a notification with an
id made of the alert, the step, the cycle and the target, so the outbox refuses a page
twice, across restarts too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from mlpulse.domain.alerts import Alert, AlertState, Notification
from mlpulse.domain.escalation import EscalationPolicy, due_pages
from mlpulse.domain.monitoring import Config
from mlpulse.domain.oncall_config import policies_from_config, schedules_from_config
from mlpulse.domain.schedules import Schedule
from mlpulse.errors import InvalidInputError
from mlpulse.services.alert_dispatch import routes_for

log = logging.getLogger("mlpulse.escalation")


class Escalations:
    def __init__(self) -> None:
        self._parsed_for: Config | None = None
        self._schedules: dict[str, Schedule] = {}
        self._policies: dict[str, EscalationPolicy] = {}
        self._sent: dict[str, set[tuple[int, int]]] = {}

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
        """The page notifications due at ``now``."""
        if config is None or config.route is None or not config.escalation_policies:
            return []
        self._parse(config)
        found: list[Notification] = []
        for alert in alerts:
            if alert.state != AlertState.FIRING or alert.starts_at is None:
                self._sent.pop(alert.fingerprint, None)
                continue
            for route in routes_for(alert.labels, config.route):
                policy = self._policies.get(route.escalation_policy or "")
                if policy is None:
                    continue
                sent = self._sent.setdefault(alert.fingerprint, set())
                for page in due_pages(
                    policy, self._schedules, triggered_at=alert.starts_at, now=now,
                    acknowledged_at=alert.acknowledged_at, already_sent=sent,
                ):  # fmt: skip
                    sent.add(page.key)
                    targets = [
                        (u, config.users[u].receiver) for u in page.users if u in config.users
                    ]
                    targets += [(c, c) for c in page.channels]
                    for target, receiver in targets:
                        found.append(_page(alert, policy.name, page.step_index, page.repeat,
                                           target, receiver, now))  # fmt: skip
                    if page.unstaffed:
                        log.warning("escalation %s: nobody on call in %s", policy.name,
                                    ", ".join(page.unstaffed))  # fmt: skip
        return found


def _page(
    alert: Alert, policy: str, step: int, repeat: int, target: str, receiver: str, now: float
) -> Notification:
    return Notification(
        id=f"page-{alert.fingerprint}-{step}-{repeat}-{target}",
        receiver=receiver,
        dedup_key=f"mlpulse-page-{alert.fingerprint}-{target}",
        status="firing",
        severity=alert.severity,
        group_labels={"alertname": alert.labels.get("alertname", alert.rule)},
        common_labels=dict(alert.labels),
        alerts=[alert],
        title=f"[{policy} step {step + 1}] {alert.labels.get('alertname', alert.rule)}"
        + (f" for {target}" if target else ""),
        created_at=now,
    )
