"""The alert lifecycle: ``pending`` → ``firing`` → ``resolved``, one alert per fingerprint.

Rules (Prometheus semantics, plus hysteresis):

* a condition that starts to hold makes the alert ``pending``; held for the rule's
  ``for``, it turns ``firing`` (at once when ``for`` is zero);
* a pending alert whose condition has cleared is dropped (it never fired: nobody
  hears of it); inside the hysteresis band it stays pending;
* a firing alert resolves only once its condition has *cleared* (past
  ``resolve_value`` when the rule has one) and stayed clear for ``keep_firing_for``
  — a series hovering at its threshold makes one alert, not one per crossing;
* a resolved alert whose condition holds again starts a new pending period under the
  same fingerprint;
* a firing alert of a rule that no longer observes its series (the series is gone, or
  the rule was removed) counts as cleared.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import msgspec

from mlpulse.domain.alerts import Alert, AlertState, Severity, fingerprint
from mlpulse.domain.rules import RuleConfig
from mlpulse.services.alert_rules import Observation, seconds
from mlpulse.services.alert_templates import render

EXTERNAL_PREFIX = "alertmanager:"  # rules of alerts another system decides


class AlertBook:
    """The alerts the engine knows, changed by observations; reports what changed."""

    def __init__(self, alerts: Iterable[Alert] = ()) -> None:
        self._alerts: dict[str, Alert] = {a.fingerprint: a for a in alerts}
        self._clear_since: dict[str, float] = {}
        self._changed: dict[str, Alert] = {}
        self._seen: set[str] = set()
        self._identities: dict[tuple[object, ...], tuple[str, dict[str, str]]] = {}

    def __iter__(self) -> Iterator[Alert]:
        return iter(self._alerts.values())

    def get(self, fp: str) -> Alert | None:
        return self._alerts.get(fp)

    @property
    def active(self) -> list[Alert]:
        """Pending and firing alerts."""
        return [a for a in self._alerts.values() if a.state != AlertState.RESOLVED]

    def _set(self, alert: Alert) -> None:
        self._alerts[alert.fingerprint] = alert
        self._changed[alert.fingerprint] = alert

    def take_changes(self) -> list[Alert]:
        """The alerts changed since the last call (to persist), and forget the rest of
        this tick's bookkeeping."""
        changed = list(self._changed.values())
        self._changed.clear()
        self._seen.clear()
        return changed

    def _identity(
        self, rule_name: str, rule: RuleConfig, series: Mapping[str, str]
    ) -> tuple[str, dict[str, str]]:
        """The alert's fingerprint and labels for a series (hashed once per series: at
        10,000 series a tick would otherwise spend most of its time hashing)."""
        key = (rule_name, rule.severity, tuple(sorted(series.items())))
        found = self._identities.get(key)
        if found is None:
            if len(self._identities) > 200_000:
                self._identities.clear()
            labels = {**series, **rule.labels, "alertname": rule_name, "severity": rule.severity}
            found = self._identities[key] = (fingerprint(rule_name, labels), labels)
        return found

    def observe(self, rule_name: str, rule: RuleConfig, obs: Observation, now: float) -> None:
        fp, labels = self._identity(rule_name, rule, obs.labels)
        self._seen.add(fp)
        alert = self._alerts.get(fp)
        if alert is None and not obs.active:
            return  # the common case: a healthy series with no alert
        if obs.active:
            self._clear_since.pop(fp, None)
            if alert is None or alert.state == AlertState.RESOLVED:
                alert = Alert(
                    fingerprint=fp, rule=rule_name, severity=Severity(rule.severity),
                    state=AlertState.PENDING, labels=labels,
                    annotations=render(rule.annotations, labels, obs.value, drifted=obs.drifted),
                    value=obs.value, active_since=min(now, obs.onset or now), updated_at=now,
                )  # fmt: skip
                self._set(alert)
            if alert.state == AlertState.PENDING and now - alert.active_since >= seconds(rule.for_):
                self._set(
                    msgspec.structs.replace(
                        alert,
                        state=AlertState.FIRING,
                        starts_at=now,
                        value=obs.value,
                        annotations=render(
                            rule.annotations, labels, obs.value, drifted=obs.drifted
                        ),
                        updated_at=now,
                    )
                )
            elif alert.value != obs.value and alert.state == AlertState.FIRING:
                # The value moves: kept in memory for the API, not worth a write per tick.
                self._alerts[fp] = msgspec.structs.replace(alert, value=obs.value)
            return
        if alert is None or alert.state == AlertState.RESOLVED:
            return
        if alert.state == AlertState.PENDING:
            if obs.cleared:  # between resolve_value and value, a pending alert waits on
                self._set(msgspec.structs.replace(alert, state=AlertState.RESOLVED, updated_at=now))
            return
        self._clear(alert, rule, now, cleared=obs.cleared, value=obs.value)

    def _clear(
        self, alert: Alert, rule: RuleConfig | None, now: float, *, cleared: bool, value: float
    ) -> None:
        fp = alert.fingerprint
        if not cleared:
            self._clear_since.pop(fp, None)  # between resolve_value and value: keep firing
            return
        since = self._clear_since.setdefault(fp, now)
        hold = seconds(rule.keep_firing_for) if rule is not None else 0.0
        if now - since >= hold:
            self._clear_since.pop(fp, None)
            self._set(
                msgspec.structs.replace(
                    alert, state=AlertState.RESOLVED, ends_at=now, value=value, updated_at=now
                )
            )

    def unobserved(self, rules: Mapping[str, RuleConfig], now: float) -> None:
        """Alerts not observed this tick: their series is gone or their rule removed."""
        for alert in list(self._alerts.values()):
            if alert.fingerprint in self._seen or alert.state == AlertState.RESOLVED:
                continue
            if alert.rule.startswith(EXTERNAL_PREFIX):
                continue  # Alertmanager decides when its alerts resolve
            rule = rules.get(alert.rule)
            if alert.state == AlertState.PENDING:
                self._set(msgspec.structs.replace(alert, state=AlertState.RESOLVED, updated_at=now))
            else:
                self._clear(alert, rule, now, cleared=True, value=alert.value)

    def put(self, alert: Alert) -> None:
        """An alert whose state another system decides (see :mod:`.alertmanager`)."""
        known = self._alerts.get(alert.fingerprint)
        if known is not None and known.state == AlertState.FIRING:
            # Alertmanager re-sends a group every group_interval: the same episode, so it
            # keeps its start and whoever acknowledged it here (escalation stays stopped).
            alert = msgspec.structs.replace(
                alert,
                starts_at=known.starts_at if alert.starts_at else alert.starts_at,
                acknowledged_at=alert.acknowledged_at or known.acknowledged_at,
                acknowledged_by=alert.acknowledged_by or known.acknowledged_by,
            )
        self._set(alert)

    def acknowledge(self, fp: str, *, by: str, now: float) -> Alert | None:
        alert = self._alerts.get(fp)
        if alert is None:
            return None
        self._set(
            msgspec.structs.replace(alert, acknowledged_at=now, acknowledged_by=by, updated_at=now)
        )
        return self._alerts[fp]

    def resolve(self, fp: str, *, now: float) -> Alert | None:
        """Resolve by hand; the alert fires again if its condition still holds next tick."""
        alert = self._alerts.get(fp)
        if alert is None or alert.state == AlertState.RESOLVED:
            return alert
        self._set(
            msgspec.structs.replace(alert, state=AlertState.RESOLVED, ends_at=now, updated_at=now)
        )
        return self._alerts[fp]

    def forget_resolved_before(self, cutoff: float) -> None:
        """Drop resolved alerts last changed before ``cutoff`` from memory."""
        for fp, alert in list(self._alerts.items()):
            if alert.state == AlertState.RESOLVED and alert.updated_at < cutoff:
                del self._alerts[fp]
