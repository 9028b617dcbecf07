"""Streaming detection: a new version's error stream is tested against its model's past."""

from __future__ import annotations

import numpy as np

from mlpulse.domain.events import PredictionBlock
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.services.stream_detection import STREAM_CHANGE, StreamDetectors
from mlpulse.testing.fakes import InMemorySeriesStore


class _Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def now(self) -> float:
        return self.t


def _block(version: str, failed: np.ndarray, start: float) -> PredictionBlock:
    n = len(failed)
    return PredictionBlock(
        model="recs",
        version=version,
        request_id=[f"{version}-{start}-{i}" for i in range(n)],
        timestamp=[start + i * 0.01 for i in range(n)],
        error=["boom" if f else None for f in failed.tolist()],
    )


def _detections(store: InMemorySeriesStore, version: str) -> list[float]:
    points = store.query_points(
        STREAM_CHANGE, matchers={"version": version, "stream": "error_rate"}, start=0, end=2e9
    )
    return [p.value for p in points]


def _run(detectors: StreamDetectors, version: str, failed: np.ndarray, start: float) -> None:
    for i in range(0, len(failed), 100):  # batches of 100 events
        block = _block(version, failed[i : i + 100], start + i * 0.01)
        detectors(AcceptedBatch(batch_id=f"{version}{i}", received_at=start, predictions=[block]))


def test_a_version_failing_from_its_first_request_is_detected_against_the_model() -> None:
    rng = np.random.default_rng(3)
    store, clock = InMemorySeriesStore(), _Clock()
    detectors = StreamDetectors(store, clock)
    _run(detectors, "v1", rng.random(20_000) < 0.002, 1_000.0)
    assert _detections(store, "v1") == []
    _run(detectors, "v2", rng.random(1_000) < 0.30, 2_000.0)  # broken from the start
    assert len(_detections(store, "v2")) >= 1


def test_a_new_version_as_good_as_the_old_one_raises_nothing() -> None:
    rng = np.random.default_rng(4)
    store, clock = InMemorySeriesStore(), _Clock()
    detectors = StreamDetectors(store, clock)
    _run(detectors, "v1", rng.random(20_000) < 0.01, 1_000.0)
    _run(detectors, "v2", rng.random(20_000) < 0.01, 2_000.0)
    assert _detections(store, "v2") == []


def test_without_a_model_past_a_version_failing_from_the_start_looks_normal() -> None:
    # The reason for the prior: on its own stream a constant 30% is no change.
    rng = np.random.default_rng(5)
    store, clock = InMemorySeriesStore(), _Clock()
    detectors = StreamDetectors(store, clock)
    _run(detectors, "v2", rng.random(1_000) < 0.30, 2_000.0)
    assert _detections(store, "v2") == []
