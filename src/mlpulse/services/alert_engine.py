"""The alert engine: rules → alert states → groups → the durable outbox, every tick.

One tick reads the newest point of every series (in memory), evaluates every rule,
moves alerts through their lifecycle, decides the notifications, and writes alert
states, group states and notifications in one transaction. The outbox worker delivers
them. The engine is cheap enough to tick every second and is also woken when a
streaming detector writes a point, so a breach reaches the outbox within a tick.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import msgspec

from mlpulse.domain.alerts import Alert, AlertState, Notification, Silence
from mlpulse.domain.monitoring import Config
from mlpulse.domain.rules import RuleConfig
from mlpulse.domain.series import MetricPoint
from mlpulse.errors import InvalidInputError, NotFoundError
from mlpulse.ports import AlertStore, Clock, SeriesStore
from mlpulse.services.alert_book import AlertBook
from mlpulse.services.alert_dispatch import acknowledgements, dispatch
from mlpulse.services.alert_rules import Freshness, RuleConditions
from mlpulse.services.escalations import Escalations

log = logging.getLogger("mlpulse.alerts")

# Resolved alerts stay in memory (and in the API) this long.
RESOLVED_MEMORY_S = 24 * 3600.0
# Receivers that show an acknowledgement (the rest are not sent one).
ACKNOWLEDGING_KINDS = frozenset({"pagerduty", "opsgenie"})


def _paging_receivers(config: Config) -> set[str]:
    return {name for name, r in config.receivers.items() if r.kind in ACKNOWLEDGING_KINDS}


def _for_receivers(notifications: list[Notification], config: Config) -> list[Notification]:
    """``notifications`` without the acknowledgements to receivers that cannot show one."""
    paging = _paging_receivers(config)
    return [n for n in notifications if n.action != "acknowledge" or n.receiver in paging]


@dataclass(slots=True)
class AlertTickReport:
    rules: int = 0
    series: int = 0
    changed: int = 0
    notifications: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


class AlertEngine:
    """Evaluates the applied config's rules; ``config()`` returns it (or None)."""

    def __init__(
        self,
        *,
        series: SeriesStore,
        store: AlertStore,
        clock: Clock,
        config: Callable[[], Config | None],
        external_url: str = "",
        on_queued: Callable[[], None] | None = None,
        on_alerts: Callable[[list[Alert], float], None] | None = None,
    ) -> None:
        self._series = series
        self._store = store
        self._clock = clock
        self._config = config
        self._external_url = external_url
        self._on_queued = on_queued
        self.on_alerts = on_alerts  # incidents and runbooks follow every tick
        now = clock.now()
        self._conditions = RuleConditions(series, started_at=now)
        self._freshness = Freshness({})
        self._book = AlertBook(store.alerts(include_resolved_since=now - RESOLVED_MEMORY_S))
        self._groups = {g.key: g for g in store.groups()}
        self._escalations = Escalations(external_url=external_url)
        self._lock = threading.RLock()  # ticks and API calls (ack, silence) take turns

    def reload(self) -> None:
        """Read the alert and group states from the store again: a replica that has just
        become the leader goes on from what the previous leader stored."""
        with self._lock:
            now = self._clock.now()
            self._book = AlertBook(
                self._store.alerts(include_resolved_since=now - RESOLVED_MEMORY_S)
            )
            self._groups = {g.key: g for g in self._store.groups()}

    # -- the tick --------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> AlertTickReport:
        started = time.perf_counter()
        with self._lock:
            now = self._clock.now() if now is None else now
            config = self._config()
            rules: Mapping[str, RuleConfig] = config.rules if config else {}
            report = AlertTickReport(rules=len(rules))
            by_name: dict[str, list[MetricPoint]] = {}
            wanted = {rule.series for rule in rules.values()}
            for point in self._series.latest_points():
                if point.name in wanted:
                    by_name.setdefault(point.name, []).append(point)
            monitors = config.monitors if config else {}
            if self._freshness.monitors is not monitors:  # kept while the config is the same
                self._freshness = Freshness(monitors)
            for name, rule in rules.items():
                points = by_name.get(rule.series, [])
                report.series += len(points)
                try:
                    for observation in self._conditions.observe(
                        name, rule, points, now, freshness=self._freshness
                    ):
                        self._book.observe(name, rule, observation, now)
                except Exception as exc:  # a loop boundary: one rule must not stop the rest
                    log.exception("rule %s failed", name)
                    report.failures.append(f"{name}: {exc}")
            self._book.unobserved(rules, now)
            self._book.forget_resolved_before(now - RESOLVED_MEMORY_S)
            report.notifications = self._flush(config, now, report)
        report.seconds = time.perf_counter() - started
        return report

    def _flush(self, config: Config | None, now: float, report: AlertTickReport) -> int:
        changed = self._book.take_changes()
        report.changed = len(changed)
        if self.on_alerts is not None:
            seen = {a.fingerprint: a for a in changed}
            seen.update((a.fingerprint, a) for a in self._book.active)
            try:
                self.on_alerts(list(seen.values()), now)
            except Exception as exc:  # incidents must not stop alerting
                log.exception("incident handling failed")
                report.failures.append(f"incidents: {exc}")
        route = config.route if config else None
        notifications, groups, dropped = [], [], []
        if config is not None and route is not None:  # without a route: kept, not sent
            decided = dispatch(
                self._book, self._groups, root=route, silences=self._store.silences(),
                inhibit=config.inhibit_rules, now=now,
                external_url=self._external_url,
            )  # fmt: skip
            notifications, groups, dropped = (
                decided.notifications, decided.groups, decided.dropped
            )  # fmt: skip
            pages = self._escalations.pages(config, self._book, now)
            notifications += _for_receivers(pages, config)
        if changed or notifications or groups or dropped:
            self._store.commit(
                alerts=changed, groups=groups, dropped_groups=dropped,
                notifications=notifications, now=now,
            )  # fmt: skip
            for group in groups:
                self._groups[group.key] = group
            for key in dropped:
                self._groups.pop(key, None)
        if notifications and self._on_queued is not None:
            self._on_queued()
        return len(notifications)

    # -- what people do --------------------------------------------------------------------

    def alerts(self, *, state: str | None = None) -> list[Alert]:
        with self._lock:
            found = list(self._book)
        if state is not None:
            found = [a for a in found if a.state.value == state]
        return sorted(found, key=lambda a: (a.state != AlertState.FIRING, -a.updated_at))

    def acknowledge(self, fp: str, *, by: str) -> Alert:
        """Acknowledge an alert: escalation stops, and PagerDuty and Opsgenie hear of it
        now (not with the group's next reminder, hours later)."""
        with self._lock:
            now = self._clock.now()
            alert = self._book.acknowledge(fp, by=by, now=now)
            if alert is None:
                raise NotFoundError(f"no alert with fingerprint {fp!r}")
            config = self._config()
            notifications: list[Notification] = []
            if config is not None and alert.state == AlertState.FIRING:
                notifications = acknowledgements(
                    self._book, self._groups, fp, receivers=_paging_receivers(config), now=now,
                    external_url=self._external_url,
                )  # fmt: skip
                notifications += _for_receivers(
                    self._escalations.pages(config, [alert], now), config
                )
            self._store.commit(alerts=self._book.take_changes(), notifications=notifications,
                               now=now)  # fmt: skip
        if notifications and self._on_queued is not None:
            self._on_queued()
        return alert

    def resolve(self, fp: str, *, by: str) -> Alert:
        with self._lock:
            now = self._clock.now()
            alert = self._book.resolve(fp, now=now)
            if alert is None:
                raise NotFoundError(f"no alert with fingerprint {fp!r}")
            log.info("alert %s resolved by %s", fp, by)
            self._store.commit(alerts=self._book.take_changes(), now=now)
            return alert

    def external(self, alerts: list[Alert]) -> None:
        """Alerts decided elsewhere (Alertmanager): kept as given, routed at the next tick."""
        with self._lock:
            for alert in alerts:
                self._book.put(alert)
            self._store.commit(alerts=self._book.take_changes(), now=self._clock.now())

    def silence(
        self,
        matchers: Mapping[str, str],
        *,
        starts_at: float | None,
        ends_at: float,
        created_by: str,
        comment: str,
    ) -> Silence:
        now = self._clock.now()
        start = now if starts_at is None else starts_at
        if not matchers:
            raise InvalidInputError("a silence needs at least one matcher", field="matchers")
        if ends_at <= start:
            raise InvalidInputError("ends_at must be after starts_at", field="ends_at")
        silence = Silence(
            id=uuid.uuid4().hex[:12], matchers=dict(matchers), starts_at=start, ends_at=ends_at,
            created_by=created_by, comment=comment, created_at=now,
        )  # fmt: skip
        self._store.save_silence(silence)
        return silence

    def expire_silence(self, silence_id: str) -> Silence:
        now = self._clock.now()
        for silence in self._store.silences():
            if silence.id == silence_id:
                expired = msgspec.structs.replace(silence, ends_at=min(silence.ends_at, now))
                self._store.save_silence(expired)
                return expired
        raise NotFoundError(f"no silence with id {silence_id!r}")
