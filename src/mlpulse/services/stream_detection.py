"""Streaming change detection on the fast path: updated per event, a point at once.

Per (model, version) three detectors follow three streams:

* the error stream (1 for a failed prediction, else 0): Page–Hinkley, upward changes
  only (more errors), with river's defaults — on a 5% → 30% error-rate change it
  signals after about 220 events (median), i.e. within a quarter second at 1,000/s;
* the score stream: ADWIN (scores live in [0, 1], the scale its bound assumes);
* the latency stream: two-sided CUSUM, whose target and spread are learnt from the
  first 200 values, so it needs no unit.

A detection becomes the metric point ``mlpulse_stream_change`` (value 1, status
``warning``; labels model, version, stream, detector) written straight away, without
waiting for the evaluator's next tick. The detector then restarts, as river's do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mlpulse.core.detectors import ADWIN, CUSUM, PageHinkley
from mlpulse.domain.series import MetricPoint
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.ports import Clock, SeriesStore

STREAM_CHANGE = "mlpulse_stream_change"


@dataclass(slots=True)
class _Streams:
    errors: PageHinkley = field(default_factory=lambda: PageHinkley(mode="up"))
    score: ADWIN = field(default_factory=ADWIN)
    latency: CUSUM = field(default_factory=CUSUM)


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
        self.detections = 0

    def __call__(self, batch: AcceptedBatch) -> None:
        found: list[MetricPoint] = []
        for block in batch.predictions:
            key = (block.model, block.version)
            streams = self._streams.get(key)
            if streams is None:
                streams = self._streams[key] = _Streams()
            changed: set[tuple[str, str]] = set()
            errors = block.error
            update_errors = streams.errors.update
            if errors is None:
                for _ in range(len(block)):
                    if update_errors(0.0):
                        changed.add(("error_rate", "page_hinkley"))
            else:
                for error in errors:
                    if update_errors(0.0 if error is None else 1.0):
                        changed.add(("error_rate", "page_hinkley"))
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
                    value=1.0,
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
