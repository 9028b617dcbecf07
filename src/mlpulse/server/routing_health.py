"""Which model versions are unhealthy, for the routing tables the collector serves.

A version is unhealthy while a critical alert labelled with its ``model`` and ``version``
fires. The firing alerts are read from the alert engine (its state, not the store). A
request for a table reads them afresh (a serving process that starts just after an alert
fired must see it); a held long-poll looks again each ``max_age`` seconds through a
reading shared by every poll, so a version that turns unhealthy reaches routers within
about that long whatever the number of routers polling.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from mlpulse.domain.alerts import Alert, AlertState, Severity
from mlpulse.domain.registry import RoutingTable, with_health

MAX_AGE_S: Final = 0.5

Firing = Mapping[tuple[str, str], Sequence[str]]
"""(model, version) → the rules of its firing critical alerts."""


def unhealthy_versions(alerts: Sequence[Alert]) -> dict[tuple[str, str], list[str]]:
    """The (model, version) pairs with a firing critical alert, and those alerts' rules."""
    found: dict[tuple[str, str], list[str]] = {}
    for alert in alerts:
        if alert.state is not AlertState.FIRING or alert.severity is not Severity.CRITICAL:
            continue
        model, version = alert.labels.get("model"), alert.labels.get("version")
        if model and version:
            rules = found.setdefault((model, version), [])
            if alert.rule not in rules:
                rules.append(alert.rule)
    return found


class RoutingHealth:
    """The unhealthy versions of every model, cached for ``max_age`` seconds.

    ``alerts`` returns the alert engine's alerts (firing ones at least), or None when
    the collector runs no alert engine (then every version is healthy).
    """

    def __init__(
        self,
        alerts: Callable[[], Sequence[Alert]] | None,
        *,
        max_age: float = MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._alerts = alerts
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._firing: dict[tuple[str, str], list[str]] = {}
        self._read_at = float("-inf")

    def firing(self, *, max_age: float | None = None) -> Firing:
        """(model, version) → rules of its firing critical alerts, at most ``max_age``
        seconds old (default: the instance's)."""
        age = self.max_age if max_age is None else max_age
        if self._alerts is None or self._clock() - self._read_at < age:
            return self._firing
        # One reader at a time; the others answer with what is known rather than queue
        # behind it (the engine's lock may be held by a long tick).
        if not self._lock.acquire(blocking=False):
            return self._firing
        try:
            self._firing = unhealthy_versions(self._alerts())
            self._read_at = self._clock()
        finally:
            self._lock.release()
        return self._firing

    def attach(self, table: RoutingTable, *, max_age: float | None = None) -> RoutingTable:
        """``table`` with the health of each of its versions (see :meth:`firing`)."""
        firing = self.firing(max_age=max_age)
        return with_health(
            table, {v: rules for (m, v), rules in firing.items() if m == table.model}
        )
