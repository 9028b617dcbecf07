"""Streaming change detection on the fast path: updated per event, a point at once.

Per (model, version) three detectors follow three streams:

* the error stream (1 for a failed prediction, else 0): the same one-sided block test
  as latency (:class:`~mlpulse.core.detectors.ExceedanceCUSUM` with the level fixed at
  0.5, so it counts failures) on quarter-second blocks, against a reference error rate
  it keeps up to date while the stream is quiet. A new version's test starts from the
  model's error rate so far (its other versions, weighed as up to ``PRIOR_EVENTS``
  events; a small sample pulled up, so that the test seldom starts below a healthy
  version's rate): a deployment that fails from its first request is a change against the
  model, where on its own stream it would look normal. A model's first version starts
  from a loose prior (``FIRST_ERROR_RATE``) that its own blocks soon replace. A 5% →
  30% change is found in three blocks (under a second); Page–Hinkley, used before,
  raised 51 false alarms a day at a healthy 2 % error rate and about 200 at 5 %;
* the score stream: ADWIN (scores live in [0, 1], the scale its bound assumes);
* the latency stream: :class:`~mlpulse.core.detectors.ExceedanceCUSUM`, one-sided
  (slower only) and robust to heavy tails: per second, the share of calls slower than
  the version's own p90 (learnt over its first 30 seconds) against that share's
  reference. About a false alarm a year per version at 200 requests/s on healthy
  lognormal latency; a 3× slowdown found in about 3 s (``bench/detector_false_alarms.py``).

A detection becomes the metric point ``mlpulse_stream_change`` (status ``warning``;
labels model, version, stream, detector) written straight away, without waiting for the
evaluator's next tick. The detector then restarts, as river's do.

Per model, :class:`~mlpulse.core.detectors.CanaryComparison` also compares every other
version with the **baseline** serving over the same seconds, on errors, latency and
scores, so a version slow or failing from its first request (which its own detectors
would learn as its normal) is caught within seconds: ``mlpulse_canary_change`` (labels
model, version, signal — ``errors``, ``latency``, ``score`` — and baseline). The
baseline is the longest-serving version with traffic in the last ``hold`` seconds (the
champion, in every usual set-up); a baseline replaced at 100 % stays the baseline for
those 5 minutes, so the version that replaced it is compared with it.

**Onset.** Every point's value is the seconds from the change's estimated onset to the
point's time (``onset = point.ts - point.value``), so alerts and incidents date a
failure from its start, not from its detection: Page's change-point estimate, the start
of the first block of the excursion that led to the detection (error, latency and canary
tests); for ADWIN (scores), which keeps the values it cannot tell from the newest, a
Page CUSUM over the per-second score means around the start of that window. A
point with no estimate has the value 0, and its alert keeps its own time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from math import floor, isfinite

from mlpulse.core.detectors import ADWIN, CanaryComparison, ExceedanceCUSUM
from mlpulse.domain.events import PredictionBlock, epoch_seconds
from mlpulse.domain.series import MetricPoint
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.ports import Clock, SeriesStore

STREAM_CHANGE = "mlpulse_stream_change"
CANARY_CHANGE = "mlpulse_canary_change"
PRIOR_EVENTS = 1000  # the weight of the model's error rate in a new version's test
MIN_PRIOR_EVENTS = 100  # fewer predictions of the model than this: no prior
BASELINE_HOLD_S = 300.0  # a baseline that stopped serving stays the baseline this long
SETTLE_S = 10.0  # while a model is this new (or a collector just started), pick again
ERROR_BLOCK_S = 0.25  # errors are tested four times a second (latency: once)
FIRST_ERROR_RATE = 0.1  # the prior of a model's first version: failures above ~15% flag
FIRST_ERROR_EVENTS = 200  # its weight, in events: the version's own traffic soon outweighs it
# Seconds with scores kept to date an ADWIN cut: ten minutes of a busy version (about
# 100 kB), longer for a quiet one; a cut dated further back has no estimate.
ARRIVALS_KEPT = 600
SCORE_LOOKBACK_S = 10.0  # the least history before ADWIN's kept window a change is sought in


def _error_test() -> ExceedanceCUSUM:
    # Four blocks a second: h = 13.5 (three capped blocks) keeps Lorden's bound at
    # e^13.5 blocks, 2.1 days; the reference rate's memory is ten minutes.
    return ExceedanceCUSUM(level=0.5, block=ERROR_BLOCK_S, warmup=20, memory=2400, threshold=13.5)


@dataclass(slots=True)
class _ScoreSeconds:
    """Per second that had scores (the last ``ARRIVALS_KEPT``): how many scores came
    before it, and their count and sum in it; what dates an ADWIN cut."""

    # [second, scores before it, scores in it, their sum]
    seconds: deque[list[float]] = field(default_factory=lambda: deque(maxlen=ARRIVALS_KEPT))
    count: int = 0

    def add(self, t: float, score: float) -> None:
        second = floor(t)
        if not self.seconds or second > self.seconds[-1][0]:
            self.seconds.append([second, self.count, 0, 0.0])
        newest = self.seconds[-1]  # a late score counts in the newest second
        newest[2] += 1
        newest[3] += score
        self.count += 1

    def time_of(self, k: int) -> float | None:
        """When the ``k``-th score (from 0) arrived, spread evenly over its second; None
        when it is older than the seconds kept."""
        if k >= self.count or not self.seconds or k < self.seconds[0][1]:
            return None
        for second, before, n, _ in reversed(self.seconds):
            if before <= k:
                return second + (k - before) / n
        return None

    def change_point(self, k: int) -> float | None:
        """The onset of the shift ADWIN found when it kept the scores from the ``k``-th on.

        The kept window starts at or before the change (it holds every score ADWIN could
        not tell from the newest), often by several seconds. Between the level of the
        seconds before the window (as long as the window lasts, at least
        ``SCORE_LOOKBACK_S``) and the newest second's, a two-sided Page CUSUM over the
        seconds since then dates the change: the start of its last excursion (Page 1954).
        A least-squares split of the per-second means misplaced a change detected a
        second after it by up to 24 s (a shift of 0.1 at 200 scores a second, 30 runs;
        this: 0 s), since so short a new level barely moves it. The window's start when
        there is nothing before it; None when it is older than kept.
        """
        start = self.time_of(k)
        if start is None:
            return None
        since = floor(start - max(self.seconds[-1][0] + 1.0 - start, SCORE_LOOKBACK_S))
        rows = [r for r in self.seconds if r[0] >= since]
        before = [r for r in rows if r[0] + 1.0 <= start]
        if not before:
            return start
        old = sum(r[3] for r in before) / sum(r[2] for r in before)
        newest = rows[-1]
        new = newest[3] / newest[2]
        sign, middle = (1.0 if new > old else -1.0), (old + new) / 2.0
        statistic, onset = 0.0, None
        for second, _, n, total in rows:
            statistic = max(0.0, statistic + sign * (total - n * middle))
            if statistic == 0.0:
                onset = None
            elif onset is None:
                onset = second
        return start if onset is None else float(onset)


@dataclass(slots=True)
class _Streams:
    errors: ExceedanceCUSUM = field(default_factory=_error_test)
    score: ADWIN = field(default_factory=ADWIN)
    score_seconds: _ScoreSeconds = field(default_factory=_ScoreSeconds)
    latency: ExceedanceCUSUM = field(default_factory=ExceedanceCUSUM)


@dataclass(slots=True)
class _Canary:
    """One model's comparison, and what picks its baseline."""

    comparison: CanaryComparison = field(
        default_factory=lambda: CanaryComparison(hold=BASELINE_HOLD_S)
    )
    baseline: str | None = None
    started: float | None = None
    first_seen: dict[str, float] = field(default_factory=dict)
    last_seen: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def role(self, version: str, t: float, calls: int) -> str | None:
        """Note that ``version`` served at ``t``; the model's baseline version now."""
        self.first_seen.setdefault(version, t)
        self.last_seen[version] = max(t, self.last_seen.get(version, t))
        self.calls[version] = self.calls.get(version, 0) + calls
        self.started = t if self.started is None else min(self.started, t)
        current = self.baseline
        settling = t - self.started < SETTLE_S
        if current is None or settling or self.last_seen[current] < t - BASELINE_HOLD_S:
            serving = [v for v, seen in self.last_seen.items() if seen >= t - BASELINE_HOLD_S]
            oldest = min(self.first_seen[v] for v in serving)
            # Versions first seen within SETTLE_S of the oldest are as old (after a
            # collector restart every version is "new"): the busiest of them.
            tied = [v for v in serving if self.first_seen[v] <= oldest + SETTLE_S]
            chosen = max(tied, key=lambda v: (self.calls[v], v))
            if chosen != current:
                self.comparison.reset()
                self.baseline = chosen
        return self.baseline


def _times(block: PredictionBlock, received_at: float) -> list[float]:
    stamps = block.timestamp
    if stamps is None:
        return [received_at] * len(block)
    return [received_at if s is None else epoch_seconds(s) for s in stamps]


class StreamDetectors:
    """Called with every committed batch (from the aggregator thread)."""

    def __init__(
        self,
        store: SeriesStore,
        clock: Clock,
        *,
        on_point: Callable[[MetricPoint], None] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self.on_point = on_point
        self._streams: dict[tuple[str, str], _Streams] = {}
        self._canaries: dict[str, _Canary] = {}
        self._model_errors: dict[str, list[int]] = {}  # model -> [predictions, failures]
        self.detections = 0

    def _new_streams(self, model: str) -> _Streams:
        streams = _Streams()
        seen = self._model_errors.get(model)
        if seen is not None and seen[0] >= MIN_PRIOR_EVENTS:
            # The model's rate pulled up as its sample's size warrants (two failures and
            # two successes added; Agresti & Coull 1998). A reference above the version's
            # true rate is learnt down; one below it stays (blocks join the reference only
            # once the test is back at 0) and drifts to a false alarm: a canary started
            # beside its champion from 0 failures in its first 180 calls (healthy: 0.5 %)
            # raised one after 4-7 minutes in 4 of 6 ten-minute runs through a collector.
            rate = (seen[1] + 2) / (seen[0] + 4)
            streams.errors.start_from(rate, min(seen[0], PRIOR_EVENTS))
        else:
            streams.errors.start_from(FIRST_ERROR_RATE, FIRST_ERROR_EVENTS)
        return streams

    def __call__(self, batch: AcceptedBatch) -> None:
        found: list[MetricPoint] = []
        for block in batch.predictions:
            if len(block) == 0:
                continue
            times = _times(block, batch.received_at)
            found.extend(self._streams_of(block, times))
            found.extend(self._canary_of(block, times))
        if found:
            self.detections += len(found)
            self._store.append_points(found)
            if self.on_point is not None:
                for point in found:
                    self.on_point(point)

    def _streams_of(self, block: PredictionBlock, times: list[float]) -> list[MetricPoint]:
        key = (block.model, block.version)
        streams = self._streams.get(key)
        if streams is None:
            streams = self._streams[key] = self._new_streams(block.model)
        onsets: dict[str, float | None] = {}
        errors = block.error
        error_test = streams.errors
        for i in range(len(block)):
            failed = errors is not None and errors[i] is not None
            if error_test.update(1.0 if failed else 0.0, times[i]):
                onsets["error_rate"] = error_test.change_point
        seen = self._model_errors.setdefault(block.model, [0, 0])
        seen[0] += len(block)
        seen[1] += 0 if errors is None else len(errors) - errors.count(None)
        if block.score is not None:
            adwin, seconds = streams.score, streams.score_seconds
            for i, score in enumerate(block.score):
                if score is None or not isfinite(score):
                    continue  # ADWIN drops it too: the seconds count what ADWIN counts
                seconds.add(times[i], score)
                if adwin.update(score):
                    onsets["score"] = seconds.change_point(adwin.n - adwin.width)
        if block.latency_ms is not None:
            latency = streams.latency
            for i, value in enumerate(block.latency_ms):
                if value is not None and latency.update(value, times[i]):
                    onsets["latency_ms"] = latency.change_point
        detectors = {
            "error_rate": "exceedance_cusum",
            "score": "adwin",
            "latency_ms": "exceedance_cusum",
        }
        labels = {"model": block.model, "version": block.version}
        return [
            self._point(STREAM_CHANGE, {**labels, "stream": stream, "detector": detectors[stream]},
                        onset)
            for stream, onset in sorted(onsets.items())
        ]  # fmt: skip

    def _canary_of(self, block: PredictionBlock, times: list[float]) -> list[MetricPoint]:
        canary = self._canaries.get(block.model)
        if canary is None:
            canary = self._canaries[block.model] = _Canary()
        version = block.version
        baseline = canary.role(version, times[0], len(block))
        comparison = canary.comparison
        errors = block.error
        changes = comparison.update_many(
            times,
            candidate=None if version == baseline else version,
            latency=block.latency_ms,
            failed=None if errors is None else [e is not None for e in errors],
            score=block.score,
        )
        return [
            self._point(CANARY_CHANGE, {"model": block.model, "version": change.candidate,
                                        "signal": change.signal, "baseline": baseline or ""},
                        change.onset)
            for change in changes
        ]  # fmt: skip

    def _point(self, name: str, labels: dict[str, str], onset: float | None) -> MetricPoint:
        now = self._clock.now()
        # The value is the seconds since the change's estimated onset: a detection rule
        # dates its alert's onset back by this much (0: no estimate, the alert's own time).
        value = 0.0 if onset is None else max(now - onset, 0.0)
        return MetricPoint(ts=now, name=name, labels=labels, value=value, status="warning")
