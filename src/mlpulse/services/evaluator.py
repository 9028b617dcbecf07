"""The evaluator: every tick, each due monitor's checks on merged windows → metric points.

Monitors come from :func:`~mlpulse.domain.default_monitors.default_monitors` for every
model that has sent traffic, replaced or extended by the applied ``mlpulse.yaml``
(a monitor of the same name wins). A monitor runs when its ``every`` has passed since
its last run, once per version (or for its one ``version``) and, with ``segment_by``,
once per segment value.

Windows: drift, quality, traffic and estimated performance read the last ``window``
of minute profiles (sliding; the point's time is the tick). Realised performance uses
tumbling windows aligned to ``window`` (the point's time is the window's start) and
recomputes every window whose predictions received labels since that monitor last ran
(per monitor, version and process), so a late label changes the value of the window it
belongs to at any cadence.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np

from mlpulse.core.performance import CBPE
from mlpulse.core.profiles.window import WindowProfile
from mlpulse.domain.default_monitors import default_monitors
from mlpulse.domain.monitoring import DEFAULT_POSITIVE_CLASS, Config, ModelConfig, MonitorConfig
from mlpulse.domain.series import LabelledRows, MetricPoint, StoredReference
from mlpulse.domain.window import parse_duration
from mlpulse.ports import Clock, LabelStore, MetadataStore, SeriesStore
from mlpulse.services import monitor_checks as checks
from mlpulse.services.window_reader import WindowReader
from mlpulse.services.windows import MINUTE

log = logging.getLogger("mlpulse.evaluator")

CBPE_REFIT_S = 3600.0
CBPE_HISTORY_S = 7 * 86400.0
CBPE_MIN_ROWS = 100
# Labels are read again from this long before a performance monitor's last run: a batch
# stamped before the run may commit after its read (a window recomputed twice is cheap).
LABEL_COMMIT_SLACK_S = 60.0
# A new reference upload is picked up within this many seconds.
REFERENCE_RECHECK_S = 300.0


@dataclass(slots=True)
class TickReport:
    """What one tick did: monitors run (per version and segment), points written, failures."""

    runs: int = 0
    points: int = 0
    failures: list[str] = field(default_factory=list)


def _segment_labels(segment: str, keys: Sequence[str]) -> tuple[tuple[str, str], ...]:
    tags = json.loads(segment) if segment else {}
    return tuple((key, str(tags.get(key, ""))) for key in keys)


def _grouped(
    segments: Mapping[str, WindowProfile], keys: Sequence[str]
) -> dict[tuple[tuple[str, str], ...], WindowProfile]:
    """The window's profile per value of the ``segment_by`` tags (one group without)."""
    groups: dict[tuple[tuple[str, str], ...], list[WindowProfile]] = {}
    for segment, profile in segments.items():
        groups.setdefault(_segment_labels(segment, keys), []).append(profile)
    return {
        labels: parts[0] if len(parts) == 1 else WindowProfile.merge_all(parts)
        for labels, parts in groups.items()
    }


# Segment tags compared side by side without being asked: real-time against batch
# inference (``mode``), staging against production (``environment``).
SIDE_BY_SIDE_TAGS = ("mode", "environment")


Group = tuple[Sequence[str], tuple[tuple[str, str], ...], WindowProfile]


def _side_by_side(segments: Mapping[str, WindowProfile]) -> list[Group]:
    """One group per value of each side-by-side tag the window's segments carry."""
    found: list[Group] = []
    for tag in SIDE_BY_SIDE_TAGS:
        for segment, profile in _grouped(segments, [tag]).items():
            if segment[0][1]:  # rows without the tag are in the overall group only
                found.append(((tag,), segment, profile))
    return found


def _subset(rows: LabelledRows, keep: list[int]) -> LabelledRows:
    def pick(values: list[object]) -> list[object]:
        return [values[i] for i in keep]

    return LabelledRows(
        ts=[rows.ts[i] for i in keep],
        version=[rows.version[i] for i in keep],
        request_id=[rows.request_id[i] for i in keep],
        prediction=pick(rows.prediction),
        score=[rows.score[i] for i in keep],
        probabilities=[rows.probabilities[i] for i in keep],
        segment=[rows.segment[i] for i in keep],
        label=pick(rows.label),
        total=rows.total,
    )


class Evaluator:
    """Runs the monitors. ``config()`` returns the applied ``mlpulse.yaml`` (or None)."""

    def __init__(
        self,
        *,
        series: SeriesStore,
        labels: LabelStore,
        metadata: MetadataStore,
        clock: Clock,
        config: Callable[[], Config | None] = lambda: None,
    ) -> None:
        self._series = series
        self._labels = labels
        self._metadata = metadata
        self._clock = clock
        self._config = config
        self._last_run: dict[tuple[str, str, str], float] = {}
        # (monitor, model, version) → the tick its labels were last read at.
        self._labels_checked: dict[tuple[str, str, str], float] = {}
        self._labels_read: dict[tuple[str, str, str], float] = {}  # this tick's, until written
        self._estimators: dict[tuple[str, str], tuple[float, CBPE | None]] = {}
        self._windows = WindowReader(series)
        self._references: dict[tuple[str, str, float], WindowProfile] = {}
        self._stored: dict[tuple[str, str], tuple[float, StoredReference | None]] = {}

    def monitors(self) -> dict[str, MonitorConfig]:
        """Every monitor in force: defaults per model, then the applied file's."""
        config = self._config()
        found: dict[str, MonitorConfig] = {}
        for info in self._metadata.list_models():
            model_config = config.models.get(info.model) if config else None
            task = model_config.task if model_config else None
            schema = {name: str(kind) for name, kind in info.schema.items()}
            found.update(default_monitors(info.model, task=task, columns=schema))
        if config is not None:
            found.update(config.monitors)
        return found

    def tick(self, now: float | None = None) -> TickReport:
        now = self._clock.now() if now is None else now
        report = TickReport()
        self._windows.new_tick(now)
        self._labels_read.clear()
        pending: list[MetricPoint] = []
        config = self._config()
        versions = {
            info.model: [v.version for v in info.versions] for info in self._metadata.list_models()
        }
        for name, monitor in sorted(self.monitors().items()):
            model_config = config.models.get(monitor.model) if config else None
            for version in (
                [monitor.version] if monitor.version else versions.get(monitor.model, [])
            ):
                key = (name, monitor.model, version)
                if self._last_run.get(key, -math.inf) + parse_duration(monitor.every) > now:
                    continue
                self._last_run[key] = now
                try:
                    points = self._run(name, monitor, model_config, version, now)
                except Exception as exc:  # a loop boundary: one monitor must not stop the rest
                    log.exception("monitor %s (%s/%s) failed", name, monitor.model, version)
                    report.failures.append(f"{name} {monitor.model}/{version}: {exc}")
                    continue
                report.runs += 1
                pending += points
        # One write per tick (a transaction each costs more than the points in it).
        if pending:
            self._series.append_points(pending)
            report.points = len(pending)
        # Labels count as read once the points made of them are stored.
        self._labels_checked.update(self._labels_read)
        self._labels_read.clear()
        return report

    # ------------------------------------------------------------------ one monitor

    def _run(
        self,
        name: str,
        monitor: MonitorConfig,
        model_config: ModelConfig | None,
        version: str,
        now: float,
    ) -> list[MetricPoint]:
        base = {"model": monitor.model, "version": version, "monitor": name}
        if monitor.check == "performance":
            return self._performance(
                (name, monitor.model, version), base, monitor, model_config, now
            )
        window = parse_duration(monitor.window)
        end = math.floor(now / MINUTE) * MINUTE  # whole minutes: the open one is not stored
        segments = self._windows.window(monitor.model, version, start=end - window, end=end)
        points: list[MetricPoint] = []
        groups: list[Group] = [
            (monitor.segment_by, segment, current)
            for segment, current in _grouped(segments, monitor.segment_by).items()
        ]
        if not monitor.segment_by:
            groups += _side_by_side(segments)
        for keys, segment, current in groups:
            labels = {**base, **dict(segment)}
            if current.requests == 0:
                continue
            if monitor.check in ("latency", "throughput", "errors"):
                points += checks.traffic_points(now, labels, monitor, current, window)
            elif monitor.check == "estimated_performance":
                estimator = self._estimator(monitor.model, version, model_config, now)
                if estimator is not None:
                    points += checks.estimated_points(now, labels, monitor, current, estimator)
            else:
                reference = self._reference(monitor, version, keys, segment, end, window)
                if monitor.check == "quality":
                    features = reference.features if reference is not None else None
                    points += checks.quality_points(
                        now, labels, monitor, features, current.features
                    )
                elif reference is not None and monitor.check == "drift":
                    points += checks.drift_points(
                        now, labels, monitor, reference.features, current.features
                    )
                elif reference is not None:  # prediction_drift
                    points += checks.drift_points(
                        now, labels, monitor, reference.outputs, current.outputs,
                        name="mlpulse_prediction_drift",
                    )  # fmt: skip
        return points

    def _reference(
        self,
        monitor: MonitorConfig,
        version: str,
        keys: Sequence[str],
        segment: tuple[tuple[str, str], ...],
        now: float,
        window: float,
    ) -> WindowProfile | None:
        if monitor.compare_to != "previous_window":
            stored = self._stored_reference(monitor.model, version, now)
            if stored is not None:
                # Decoded once per stored reference (a new upload has a new created_at).
                key = (stored.model, stored.version, stored.created_at)
                decoded = self._references.get(key)
                if decoded is None:
                    decoded = self._references[key] = WindowProfile.from_bytes(stored.profile)
                return decoded
            if monitor.compare_to == "reference":
                return None  # asked for a reference that is not there yet
        segments = self._windows.window(
            monitor.model, version, start=now - 2 * window, end=now - window
        )
        previous = _grouped(segments, keys).get(segment)
        return previous if previous is not None and previous.requests else None

    def _stored_reference(self, model: str, version: str, now: float) -> StoredReference | None:
        """The stored reference, looked up at most once a minute per (model, version)."""
        key = (model, version)
        cached = self._stored.get(key)
        if cached is None or now - cached[0] >= REFERENCE_RECHECK_S:
            cached = self._stored[key] = (now, self._series.get_reference(model, version))
        return cached[1]

    def _performance(
        self,
        key: tuple[str, str, str],
        base: Mapping[str, str],
        monitor: MonitorConfig,
        model_config: ModelConfig | None,
        now: float,
    ) -> list[MetricPoint]:
        if model_config is None or model_config.task is None:
            return []  # the metrics depend on the task: nothing to compute without it
        _, model, version = key
        window = parse_duration(monitor.window)
        starts = {math.floor(now / window) * window}
        # Windows whose predictions got labels since this monitor last read them (since
        # ever, on its first run in this process), so late labels update the window they
        # belong to. Marked per monitor and only when it runs: a tick that skips it (its
        # ``every`` not yet passed) must not swallow the labels that came in between.
        since = self._labels_checked.get(key, 0.0)
        late = self._labels.labelled_since(model, since=since, window=window)
        starts.update(start for label_version, start in late if label_version == version)
        points: list[MetricPoint] = []
        for start in sorted(starts):
            rows = self._labels.labelled_predictions(
                model, start=start, end=start + window, version=version
            )
            groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
            for i, segment in enumerate(rows.segment):
                groups.setdefault(_segment_labels(segment, monitor.segment_by), []).append(i)
            if not groups:
                groups[_segment_labels("", monitor.segment_by)] = []
            for segment_labels, keep in groups.items():
                part = rows if len(keep) == len(rows) else _subset(rows, keep)
                points += checks.performance_points(
                    start,
                    {**base, **dict(segment_labels), "window": monitor.window},
                    monitor,
                    part,
                    task=model_config.task,
                    positive_class=model_config.positive_class or DEFAULT_POSITIVE_CLASS,
                )
        self._labels_read[key] = now - LABEL_COMMIT_SLACK_S  # once the windows are done
        return points

    def _estimator(
        self, model: str, version: str, model_config: ModelConfig | None, now: float
    ) -> CBPE | None:
        """A CBPE calibrated on the reference's sample, else on the last week's labels."""
        if model_config is None or model_config.task != "binary_classification":
            return None
        cached = self._estimators.get((model, version))
        if cached is not None and cached[0] + CBPE_REFIT_S > now:
            return cached[1]
        scores: list[float] = []
        labels: list[object] = []
        stored = self._series.get_reference(model, version)
        if stored is not None and stored.sample:
            sample = msgspec.msgpack.decode(stored.sample)
            scores, labels = sample.get("score") or [], sample.get("label") or []
        if len(scores) < CBPE_MIN_ROWS:
            rows = self._labels.labelled_predictions(
                model, start=now - CBPE_HISTORY_S, end=now, version=version
            )
            kept = [(s, y) for s, y in zip(rows.score, rows.label, strict=True) if s is not None]
            scores, labels = [s for s, _ in kept], [y for _, y in kept]
        estimator = None
        if len(scores) >= CBPE_MIN_ROWS:
            positive = model_config.positive_class or DEFAULT_POSITIVE_CLASS
            truth = np.asarray([label == positive for label in checks.labels_as_text(labels)])
            if 0 < truth.sum() < truth.size:
                estimator = CBPE().fit(np.asarray(scores, dtype=np.float64), truth.astype(int))
        self._estimators[(model, version)] = (now, estimator)
        return estimator
