"""Streaming detection: a new version's error stream is tested against its model's past."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlpulse.adapters.store.sqlite_alerts import SQLiteAlertStore
from mlpulse.domain.events import PredictionBlock
from mlpulse.domain.monitoring import Config
from mlpulse.domain.rules import ReceiverConfig, RouteConfig, RuleConfig
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.services.alert_engine import AlertEngine
from mlpulse.services.stream_detection import (
    BASELINE_HOLD_S,
    CANARY_CHANGE,
    STREAM_CHANGE,
    StreamDetectors,
)
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


def test_a_first_version_failing_from_its_first_request_is_detected_against_a_loose_prior() -> None:
    # With no past of the model, a version starts from a 10% error rate that its own
    # traffic soon replaces: failing at 30% from the start is a change against it.
    rng = np.random.default_rng(5)
    store, clock = InMemorySeriesStore(), _Clock()
    detectors = StreamDetectors(store, clock)
    _run(detectors, "v2", rng.random(1_000) < 0.30, 2_000.0)
    assert len(_detections(store, "v2")) == 1


def test_a_first_version_with_a_high_but_steady_error_rate_raises_nothing() -> None:
    rng = np.random.default_rng(6)
    store, clock = InMemorySeriesStore(), _Clock()
    detectors = StreamDetectors(store, clock)
    _run(detectors, "v1", rng.random(100_000) < 0.05, 2_000.0)  # 1,000 s at 100/s
    assert _detections(store, "v1") == []


def _latency_block(
    version: str, start: float, latency: np.ndarray, model: str = "recs"
) -> PredictionBlock:
    n = len(latency)
    return PredictionBlock(
        model=model,
        version=version,
        request_id=[f"{version}-{start}-{i}" for i in range(n)],
        timestamp=[start + i / n for i in range(n)],
        latency_ms=latency.tolist(),
    )


def _serve(
    detectors: StreamDetectors,
    clock: _Clock,
    seconds: range,
    split: dict[str, float],
    rng: np.random.Generator,
    slow: dict[str, float] | None = None,
) -> None:
    """One batch a simulated second at 200 calls/s, split between versions; lognormal."""
    for second in seconds:
        clock.t = float(second + 1)
        factor = slow or {}
        blocks = [
            _latency_block(v, float(second),
                           rng.lognormal(np.log(20), 1.0, int(200 * share)) * factor.get(v, 1.0))
            for v, share in split.items() if share > 0
        ]  # fmt: skip
        detectors(AcceptedBatch(batch_id=str(second), received_at=clock.t, predictions=blocks))


def _canary_points(store: InMemorySeriesStore) -> list[tuple[float, float, dict[str, str]]]:
    points = store.query_points(CANARY_CHANGE, matchers={}, start=0, end=2e9)
    return [(p.ts, p.ts - p.value, p.labels) for p in points]


@pytest.mark.parametrize("share", [0.1, 1.0])
def test_a_deploy_slow_from_its_first_request_is_flagged_against_the_champion_within_5_s(
    share: float,
) -> None:
    # v2 three times slower from its first request at t = 1,060, as a 10% canary or
    # replacing v1 at 100%; its own latency detector is still in its warm-up.
    rng = np.random.default_rng(21)
    store, clock = InMemorySeriesStore(), _Clock()
    detectors = StreamDetectors(store, clock)
    _serve(detectors, clock, range(1000, 1060), {"v1": 1.0}, rng)
    _serve(detectors, clock, range(1060, 1070), {"v1": 1.0 - share, "v2": share}, rng,
           slow={"v2": 3.0})  # fmt: skip
    found = _canary_points(store)
    assert [labels for _, _, labels in found] == [
        {"model": "recs", "version": "v2", "signal": "latency", "baseline": "v1"}
    ]
    detected_at, onset, _ = found[0]
    assert detected_at - 1060.0 <= 5.0
    assert abs(onset - 1060.0) <= 1.0  # the point's value dates the onset back


def test_a_healthy_heavy_tailed_canary_raises_nothing() -> None:
    rng = np.random.default_rng(22)
    store, clock = InMemorySeriesStore(), _Clock()
    detectors = StreamDetectors(store, clock)
    _serve(detectors, clock, range(1000, 1060), {"v1": 1.0}, rng)
    _serve(detectors, clock, range(1060, 2860), {"v1": 0.9, "v2": 0.1}, rng)  # 30 minutes
    assert _canary_points(store) == []
    assert store.query_points(STREAM_CHANGE, matchers={}, start=0, end=2e9) == []


def test_a_latency_regression_gives_a_one_sided_detection_with_its_onset() -> None:
    rng = np.random.default_rng(23)
    store, clock = InMemorySeriesStore(), _Clock()
    detectors = StreamDetectors(store, clock)
    _serve(detectors, clock, range(1000, 1200), {"v1": 1.0}, rng)
    _serve(detectors, clock, range(1200, 1400), {"v1": 1.0}, rng, slow={"v1": 0.5})  # faster
    _serve(detectors, clock, range(1400, 1410), {"v1": 1.0}, rng, slow={"v1": 3.0})  # 3x slower
    points = store.query_points(STREAM_CHANGE, matchers={}, start=0, end=2e9)
    assert [p.labels for p in points] == [
        {"model": "recs", "version": "v1", "stream": "latency_ms", "detector": "exceedance_cusum"}
    ]
    assert points[0].ts - 1400.0 <= 5.0 and abs(points[0].ts - points[0].value - 1400.0) <= 1.0


def test_a_detection_rule_on_canary_changes_fires_for_the_canary_dated_at_its_onset(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(24)
    series, clock = InMemorySeriesStore(), _Clock()
    detectors = StreamDetectors(series, clock)
    rule = RuleConfig(kind="detection", series=CANARY_CHANGE, match={"signal": "latency"},
                      severity="critical")  # fmt: skip
    config = Config(
        version=1, rules={"canary-worse": rule},
        receivers={"team": ReceiverConfig(kind="webhook", settings={"url": "http://x"})},
        route=RouteConfig(receiver="team"),
    )  # fmt: skip
    store = SQLiteAlertStore(tmp_path / "alerts.sqlite")
    engine = AlertEngine(series=series, store=store, clock=clock, config=lambda: config)
    _serve(detectors, clock, range(1000, 1060), {"v1": 1.0}, rng)
    _serve(detectors, clock, range(1060, 1070), {"v1": 0.9, "v2": 0.1}, rng, slow={"v2": 3.0})
    engine.tick()
    (alert,) = engine.alerts()
    assert alert.labels["version"] == "v2" and alert.labels["baseline"] == "v1"
    assert abs(alert.active_since - 1060.0) <= 1.0
    store.close()


def test_the_version_that_replaced_the_baseline_becomes_the_baseline_after_the_hold() -> None:
    # v1 serves, v2 replaces it at 100% (compared with v1 for BASELINE_HOLD_S), then a
    # v3 canary three times slower than v2 is compared with v2.
    rng = np.random.default_rng(25)
    store, clock = InMemorySeriesStore(), _Clock()
    detectors = StreamDetectors(store, clock)
    _serve(detectors, clock, range(1000, 1060), {"v1": 1.0}, rng)
    _serve(detectors, clock, range(1060, 1060 + int(BASELINE_HOLD_S) + 60), {"v2": 1.0}, rng)
    assert _canary_points(store) == []  # v2 is as fast as v1
    start = 1120 + int(BASELINE_HOLD_S)
    _serve(detectors, clock, range(start, start + 10), {"v2": 0.75, "v3": 0.25}, rng,
           slow={"v3": 3.0})  # fmt: skip
    assert [labels for _, _, labels in _canary_points(store)] == [
        {"model": "recs", "version": "v3", "signal": "latency", "baseline": "v2"}
    ]
