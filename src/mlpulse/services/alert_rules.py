"""Rule conditions over the evaluator's metric series: which label sets breach, now.

Each tick the engine hands every rule the newest point of every series (the store keeps
them in memory, so 10,000 series cost a dictionary walk) and gets back one
:class:`Observation` per label set: whether the condition holds and whether it has
cleared (which differs from "does not hold" when a rule has a ``resolve_value``).
A point speaks for its series only while it is fresh (:class:`Freshness`): how long
depends on how often the monitor that wrote it runs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from mlpulse.domain.default_monitors import default_monitor
from mlpulse.domain.monitoring import MonitorConfig
from mlpulse.domain.rules import RuleConfig, matches
from mlpulse.domain.series import MetricPoint
from mlpulse.domain.window import parse_duration
from mlpulse.ports import SeriesStore
from mlpulse.services.alert_templates import uses_drifted_columns

# A point older than this no longer speaks for its series (threshold, relative, anomaly),
# unless the monitor that writes it runs less often (see Freshness).
STALE_S: Final = 900.0
# Slack for a late run: a due monitor runs at the evaluator's next tick, and takes time.
STALE_MARGIN_S: Final = 60.0
# How long a streaming detection keeps a detection rule active without its own `for`.
DETECTION_HOLD_S: Final = 600.0
BASELINE_REFRESH_S: Final = 600.0

_OPS: Final[dict[str, Callable[[float, float], bool]]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def seconds(text: str) -> float:
    """A duration in seconds; ``0s`` / ``0m`` are zero.

    >>> seconds("0m"), seconds("90s")
    (0.0, 90.0)
    """
    return 0.0 if text.strip() in ("0", "0s", "0m", "0h") else parse_duration(text)


@dataclass(frozen=True, slots=True)
class Observation:
    """The condition of one rule for one label set at one tick."""

    labels: Mapping[str, str]
    value: float
    active: bool
    cleared: bool  # the condition is over (past resolve_value when there is one)
    onset: float | None = None  # when the condition began, if known better than "now"
    drifted: tuple[str, ...] = ()  # the drifted columns of the series' drift check


DRIFT_SCORE: Final = "mlpulse_drift_score"
_PER_COLUMN: Final = ("column", "method")


def _check_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The labels of a drift check: a column's score's without the column and method,
    which are those of the check's ``mlpulse_drift_share``."""
    return tuple(sorted((k, v) for k, v in labels.items() if k not in _PER_COLUMN))


def drifted_columns(
    points: Sequence[MetricPoint],
) -> dict[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """The columns each drift check found drifted (a ``warning`` or ``critical`` score;
    a severity of 1 or more when a point has no status), worst first, by the check's
    labels (:func:`_check_key`)."""
    found: dict[tuple[tuple[str, str], ...], list[tuple[float, str]]] = {}
    for p in points:
        column = p.labels.get("column")
        if p.name != DRIFT_SCORE or column is None:
            continue
        drifted = p.status in ("warning", "critical") or (p.status is None and p.value >= 1)
        if drifted:
            found.setdefault(_check_key(p.labels), []).append((p.value, column))
    return {
        key: tuple(c for _, c in sorted(cols, key=lambda vc: (-vc[0], vc[1])))
        for key, cols in found.items()
    }


def labels_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


class Freshness:
    """Whether the newest point of a series still speaks for it, by the monitor that wrote it.

    The point's ``monitor`` label names a monitor of ``monitors`` (the applied config's)
    or a default monitor of its ``model``. That monitor writes every ``every``, so its
    point holds for two runs and :data:`STALE_MARGIN_S` (one late or failed run does not
    resolve an alert): a drift monitor that runs hourly keeps its alerts firing between
    runs. Never less than :data:`STALE_S`, which every other point gets
    (``mlpulse_stream_change``, a monitor since removed): a series written every minute
    keeps the 15 minutes it had, which also covers an evaluator that ticks slowly.

    A ``performance`` point is dated at its tumbling window's start and rewritten while
    the window is open (the evaluator recomputes it every ``every``): its age counts from
    the window's end, so it holds through its window and for two runs after.

    What it finds per (model, monitor) is kept: make a new one when ``monitors`` change.
    """

    def __init__(self, monitors: Mapping[str, MonitorConfig]) -> None:
        self.monitors = monitors
        self._found: dict[tuple[str, str], tuple[float, float]] = {}

    def fresh(self, point: MetricPoint, now: float) -> bool:
        """Whether ``point`` holds at ``now`` (a NaN value never does)."""
        if math.isnan(point.value):
            return False
        delay, limit = self._limits(point.labels.get("model", ""), point.labels.get("monitor", ""))
        return now - (point.ts + delay) <= limit

    def _limits(self, model: str, name: str) -> tuple[float, float]:
        """(seconds from the point's time to its age's start, how old it may be)."""
        key = (model, name)
        found = self._found.get(key)
        if found is None:
            monitor = self.monitors.get(name) or default_monitor(model, name)
            found = (0.0, STALE_S)
            if monitor is not None:
                runs = 2 * parse_duration(monitor.every) + STALE_MARGIN_S
                delay = parse_duration(monitor.window) if monitor.check == "performance" else 0.0
                found = (delay, max(STALE_S, runs))
            self._found[key] = found
        return found


class RuleConditions:
    """Evaluates rule conditions; keeps per-series state (anomaly detectors, baselines)."""

    def __init__(self, series: SeriesStore, *, started_at: float) -> None:
        self._series = series
        self._started_at = started_at
        self._baselines: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, float]] = {}
        self._detectors: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
        self._fed: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._anomalous: dict[tuple[str, tuple[tuple[str, str], ...]], bool] = {}

    def observe(
        self,
        name: str,
        rule: RuleConfig,
        points: Sequence[MetricPoint],
        now: float,
        *,
        freshness: Freshness,
    ) -> list[Observation]:
        """One observation per matching series (``points``: the newest of each series
        of ``rule.series``; ``freshness``: when each stops holding)."""
        matching = [p for p in points if matches(p.labels, rule.match)]
        if rule.kind == "absent":
            return self._absent(rule, matching, now)
        if rule.kind == "detection":
            hold = seconds(rule.for_) or DETECTION_HOLD_S
            # A stream_change point's value is the seconds since the change's onset.
            return [
                Observation(p.labels, p.value, active := (now - p.ts <= hold), not active,
                            onset=p.ts - p.value if p.value > 0 else None)
                for p in matching
            ]  # fmt: skip
        found = []
        for point in matching:
            fresh = freshness.fresh(point, now)
            if rule.kind == "threshold":
                found.append(self._threshold(rule, point, fresh))
            elif rule.kind == "relative":
                found.append(self._relative(name, rule, point, fresh, now))
            else:
                found.append(self._anomaly(name, rule, point, fresh))
        if found and uses_drifted_columns(rule.annotations):
            drifted = drifted_columns(self._series.latest_points())
            found = [
                replace(o, drifted=drifted.get(_check_key(o.labels), ())) if o.active else o
                for o in found
            ]
        return found

    @staticmethod
    def _threshold(rule: RuleConfig, point: MetricPoint, fresh: bool) -> Observation:
        assert rule.op is not None and rule.value is not None
        breach = _OPS[rule.op]
        active = fresh and breach(point.value, rule.value)
        limit = rule.value if rule.resolve_value is None else rule.resolve_value
        cleared = not fresh or not breach(point.value, limit)
        return Observation(point.labels, point.value, active, cleared and not active)

    def _relative(
        self, name: str, rule: RuleConfig, point: MetricPoint, fresh: bool, now: float
    ) -> Observation:
        assert rule.op is not None and rule.ratio is not None
        baseline = rule.baseline_value
        if baseline is None:
            baseline = self._trailing_median(name, rule, point, now)
        if baseline is None or not fresh:
            return Observation(point.labels, point.value, False, True)
        active = _OPS[rule.op](point.value, rule.ratio * baseline)
        return Observation(point.labels, point.value, active, not active)

    def _trailing_median(
        self, name: str, rule: RuleConfig, point: MetricPoint, now: float
    ) -> float | None:
        """The median of the series over ``baseline_window`` before the newest point,
        recomputed every ten minutes."""
        key = (name, labels_key(point.labels))
        cached = self._baselines.get(key)
        if cached is not None and now - cached[0] < BASELINE_REFRESH_S:
            return cached[1]
        window = parse_duration(rule.baseline_window)
        history = self._series.query_points(
            point.name, matchers=dict(point.labels), start=point.ts - window, end=point.ts
        )
        values = [
            p.value for p in history if p.labels == point.labels and p.ts < point.ts
            and not math.isnan(p.value)
        ]  # fmt: skip
        if len(values) < 3:
            return None
        median = statistics.median(values)
        self._baselines[key] = (now, median)
        return median

    def _anomaly(self, name: str, rule: RuleConfig, point: MetricPoint, fresh: bool) -> Observation:
        """Each new point of the series goes to its own detector, once."""
        from mlpulse.core.anomaly import AnomalyDetector

        key = (name, labels_key(point.labels))
        detector = self._detectors.get(key)
        if detector is None:
            detector = self._detectors[key] = (
                AnomalyDetector()
                if rule.sensitivity is None
                else AnomalyDetector(sensitivity=rule.sensitivity)
            )
        last = self._fed.get(key)
        if last is None or point.ts > last:
            self._fed[key] = point.ts
            self._anomalous[key] = bool(detector.update(point.ts, point.value).is_anomaly)
        active = fresh and self._anomalous.get(key, False)
        return Observation(point.labels, point.value, active, not active)

    def _absent(
        self, rule: RuleConfig, matching: Sequence[MetricPoint], now: float
    ) -> list[Observation]:
        assert rule.absent_for is not None
        limit = parse_duration(rule.absent_for)
        if not matching:
            # No series at all: one alert on the matchers, once the engine has been up
            # long enough to know (not at every restart).
            active = now - self._started_at >= limit
            return [Observation(dict(rule.match), math.nan, active, not active)]
        return [
            Observation(p.labels, p.value, active := (now - p.ts >= limit), not active)
            for p in matching
        ]
