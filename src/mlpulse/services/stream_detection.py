"""Streaming change detection on the fast path: updated per event, a point at once.

Per (model, version) three detectors follow three streams:

* the error stream (1 for a failed prediction, else 0): Page–Hinkley, upward changes
  only (more errors), with river's defaults — on a 5% → 30% error-rate change it
  signals after about 220 events (median), i.e. within a quarter second at 1,000/s.
  A new version's test starts from the model's error rate so far (its other versions,
  weighed as up to ``PRIOR_EVENTS`` events): a deployment that fails from its first
  request is a change against the model, where on its own stream it would look normal;
* the score stream: ADWIN (scores live in [0, 1], the scale its bound assumes);
* the latency stream: two-sided CUSUM, whose target and spread are learnt from the
  first 200 values, so it needs no unit.

A detection becomes the metric point ``mlpulse_stream_change`` (status ``warning``;
labels model, version, stream, detector) written straight away, without waiting for the
evaluator's next tick. Its value is the seconds since the change's estimated onset (for
the error stream: the last event at which the Page–Hinkley sum was at its minimum; 1
otherwise), so alerts and incidents date the failure from its start, not from its
detection. The detector then restarts, as river's do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mlpulse.core.detectors import ADWIN, CUSUM, PageHinkley
from mlpulse.domain.events import epoch_seconds
from mlpulse.domain.series import MetricPoint
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.ports import Clock, SeriesStore

STREAM_CHANGE = "mlpulse_stream_change"
PRIOR_EVENTS = 1000  # the weight of the model's error rate in a new version's test
MIN_PRIOR_EVENTS = 100  # fewer predictions of the model than this: no prior


@dataclass(slots=True)
class _Streams:
    errors: PageHinkley = field(default_factory=lambda: PageHinkley(mode="up"))
    score: ADWIN = field(default_factory=ADWIN)
    latency: CUSUM = field(default_factory=CUSUM)
    quiet_at: float = 0.0  # the last event at which the error statistic was at its minimum


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
        self._model_errors: dict[str, list[int]] = {}  # model -> [predictions, failures]
        self.detections = 0

    def _new_streams(self, model: str) -> _Streams:
        streams = _Streams()
        seen = self._model_errors.get(model)
        if seen is not None and seen[0] >= MIN_PRIOR_EVENTS:
            streams.errors.start_from(seen[1] / seen[0], min(seen[0], PRIOR_EVENTS))
        return streams

    def __call__(self, batch: AcceptedBatch) -> None:
        found: list[MetricPoint] = []
        onsets: dict[tuple[str, str], float] = {}
        for block in batch.predictions:
            key = (block.model, block.version)
            streams = self._streams.get(key)
            if streams is None:
                streams = self._streams[key] = self._new_streams(block.model)
            changed: set[tuple[str, str]] = set()
            errors = block.error
            page_hinkley = streams.errors
            stamps = block.timestamp
            for i in range(len(block)):
                failed = errors is not None and errors[i] is not None
                if page_hinkley.update(1.0 if failed else 0.0):
                    changed.add(("error_rate", "page_hinkley"))
                    if streams.quiet_at > 0.0:
                        onsets[key] = streams.quiet_at
                elif page_hinkley.statistic <= 0.0:
                    # The cumulative sum is at its minimum: the change, if one comes,
                    # starts after this event (Page 1954's change-point estimate).
                    t = None if stamps is None else stamps[i]
                    streams.quiet_at = batch.received_at if t is None else epoch_seconds(t)
            seen = self._model_errors.setdefault(block.model, [0, 0])
            seen[0] += len(block)
            seen[1] += 0 if errors is None else len(errors) - errors.count(None)
            if block.score is not None:
                update_score = streams.score.update
                for score in block.score:
                    if score is not None and update_score(score):
                        changed.add(("score", "adwin"))
            if block.latency_ms is not None:
                update_latency = streams.latency.update
                for latency in block.latency_ms:
                    if latency is not None and update_latency(latency):
                        changed.add(("latency_ms", "cusum"))
            now = self._clock.now()
            found.extend(
                MetricPoint(
                    ts=now,
                    name=STREAM_CHANGE,
                    labels={
                        "model": block.model,
                        "version": block.version,
                        "stream": stream,
                        "detector": detector,
                    },
                    # Seconds since the estimated onset of the change (1 when unknown): a
                    # detection rule dates its alert's onset back by this much.
                    value=max(now - onsets[key], 0.0)
                    if stream == "error_rate" and key in onsets
                    else 1.0,
                    status="warning",
                )
                for stream, detector in sorted(changed)
            )
        if found:
            self.detections += len(found)
            self._store.append_points(found)
            if self.on_point is not None:
                for point in found:
                    self.on_point(point)
