"""The onset of an incident's alert, estimated from the signal that fired.

* ``detection`` rules: the streaming detector's own change-point estimate, carried in
  the ``mlpulse_stream_change`` or ``mlpulse_canary_change`` point's value (seconds since
  the onset; the alert starts there, ``detector``); a value of 0 means the detector gave
  none, and the alert's time is kept (``alert``);
* ``threshold`` rules: where the series crossed the threshold (``crossing``, see
  :func:`mlpulse.core.onset.crossing_onset`);
* ``relative`` and ``anomaly`` rules: the shift in the series' level over its last
  :data:`CUSUM_POINTS` points (``cusum``, see :func:`mlpulse.core.onset.cusum_onset`);
* ``absent`` rules and alerts from elsewhere (Alertmanager): the time they report.

The estimate is never later than the alert's own ``active_since`` and never earlier
than :data:`LOOKBACK_S` before it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final, Protocol

from mlpulse.core.onset import crossing_onset, cusum_onset
from mlpulse.domain.alerts import Alert
from mlpulse.domain.rules import RuleConfig
from mlpulse.domain.series import MetricPoint

LOOKBACK_S: Final = 3 * 3600.0
CUSUM_POINTS: Final = 60
_OPS = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}


class SeriesReader(Protocol):
    def query_points(
        self, name: str, *, matchers: Mapping[str, str], start: float, end: float
    ) -> list[MetricPoint]: ...


def estimate_onset(
    alert: Alert, rule: RuleConfig | None, series: SeriesReader | None
) -> tuple[float, str]:
    """(onset, how it was estimated) for ``alert`` fired by ``rule`` (None: not ours)."""
    fallback = (alert.active_since, "alert")
    if rule is None:
        return alert.active_since, "reported"
    if rule.kind == "detection":
        if alert.value > 0:
            return alert.active_since, "detector"
        return fallback
    if series is None or rule.kind == "absent":
        return fallback
    end = alert.starts_at or alert.active_since
    points = _series_points(alert, rule, series, start=end - LOOKBACK_S, end=end)
    if not points:
        return fallback
    times = [p.ts for p in points]
    values = [p.value for p in points]
    onset: float | None = None
    if rule.kind == "threshold" and rule.op is not None and rule.value is not None:
        breach = _OPS[rule.op]
        onset = crossing_onset(times, [breach(float(v), float(rule.value)) for v in values])
        method = "crossing"
    else:
        onset = cusum_onset(times[-CUSUM_POINTS:], values[-CUSUM_POINTS:])
        method = "cusum"
    if onset is None or onset > alert.active_since:
        return fallback
    return max(onset, alert.active_since - LOOKBACK_S), method


def _series_points(
    alert: Alert, rule: RuleConfig, series: SeriesReader, *, start: float, end: float
) -> list[MetricPoint]:
    """The points of the one series that made ``alert``: labels all among the alert's."""
    labels = alert.labels
    matchers: dict[str, str] = {k: labels[k] for k in ("model", "version") if k in labels}
    found = series.query_points(rule.series, matchers=matchers, start=start, end=end)
    own = [
        p for p in found
        if all(labels.get(k) == v for k, v in p.labels.items()) and not math.isnan(p.value)
    ]  # fmt: skip
    return sorted(own, key=lambda p: p.ts)
