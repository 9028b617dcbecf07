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
    ARRIVALS_KEPT,
    BASELINE_HOLD_S,
    CANARY_CHANGE,
    STREAM_CHANGE,
    StreamDetectors,
    _ScoreSeconds,
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


def _score_block(start: float, scores: np.ndarray) -> PredictionBlock:
    n = len(scores)
    return PredictionBlock(
        model="recs",
        version="v1",
        request_id=[f"s-{start}-{i}" for i in range(n)],
        timestamp=[start + i / n for i in range(n)],
        score=scores.tolist(),
    )


@pytest.mark.parametrize("seed", range(5))
def test_a_score_shift_is_dated_at_its_change_point_not_before_the_detection(seed: int) -> None:
    # Scores around 0.3 for 200 s at 200/s, then around 0.4 from t = 1,200: ADWIN's cut
    # dates the change (it used to be dated one second before the detection).
    rng = np.random.default_rng(seed)
    store, clock = InMemorySeriesStore(), _Clock()
    detectors = StreamDetectors(store, clock)
    for second in range(1000, 1260):
        clock.t = float(second + 1) + 0.5  # the collector sees a second half a second late
        mean = 0.3 if second < 1200 else 0.4
        scores = np.clip(rng.normal(mean, 0.15, 200), 0.0, 1.0)
        detectors(AcceptedBatch(batch_id=str(second), received_at=clock.t,
                                predictions=[_score_block(float(second), scores)]))  # fmt: skip
    points = store.query_points(STREAM_CHANGE, matchers={"stream": "score"}, start=0, end=2e9)
    assert points, "the score shift was not detected"
    first = points[0]
    assert first.labels["detector"] == "adwin" and first.ts < 1220.0
    assert abs(first.ts - first.value - 1200.0) <= 1.0, (first.ts, first.value)


def test_score_seconds_date_the_kth_score_within_its_second() -> None:
    seconds = _ScoreSeconds()
    for t in [10.0, 10.2, 10.4, 10.6, 12.5, 12.7, 11.0]:  # the last one is late
        seconds.add(t, 0.5)
    assert [seconds.time_of(k) for k in (0, 2, 4, 5, 6)] == [10.0, 10.5, 12.0, 12 + 1 / 3,
                                                             12 + 2 / 3]  # fmt: skip
    assert seconds.time_of(7) is None  # not arrived yet
    old = _ScoreSeconds()
    for t in range(ARRIVALS_KEPT + 10):
        old.add(float(t), 0.5)
    assert old.time_of(9) is None and old.time_of(10) == 10.0  # older than the seconds kept
    assert old.change_point(9) is None


def test_score_seconds_change_point_is_where_the_new_level_began() -> None:
    seconds = _ScoreSeconds()
    for t in range(100):
        for i in range(10):
            seconds.add(t + i / 10, 0.3 if t < 95 else 0.6)
    # ADWIN kept the scores from t = 93 (two seconds too early): the shift was at 95.
    assert seconds.change_point(930) == 95.0
    down = _ScoreSeconds()
    for t in range(100):
        for i in range(10):
            down.add(t + i / 10, 0.6 if t < 95 else 0.3)
    assert down.change_point(930) == 95.0  # either way
    assert seconds.change_point(0) == 0.0  # nothing before the window: its start


@pytest.mark.parametrize("seed", range(3))
def test_a_healthy_canary_started_beside_its_champion_raises_no_error_alarm(seed: int) -> None:
    # v1 (180 calls/s) and a 10% canary v2 (20 calls/s) start together, both failing at a
    # healthy 0.5%: v2's test starts from the model's rate over v1's first second, often
    # 0 failures in 180. Started there, its reference sat below its true rate for good
    # (a block joins it only once the test is back at 0) and it raised a false alarm
    # within minutes; 20 minutes raise none.
    rng = np.random.default_rng(100 + seed)
    store, clock = InMemorySeriesStore(), _Clock()
    detectors = StreamDetectors(store, clock)
    for second in range(1000, 2200):
        clock.t = float(second + 1)
        blocks = [
            PredictionBlock(
                model="recs", version=version,
                request_id=[f"{version}-{second}-{i}" for i in range(n)],
                timestamp=[second + i / n for i in range(n)],
                error=["boom" if f else None for f in (rng.random(n) < 0.005).tolist()],
            )
            for version, n in (("v1", 180), ("v2", 20))
        ]  # fmt: skip
        detectors(AcceptedBatch(batch_id=str(second), received_at=clock.t, predictions=blocks))
    assert _detections(store, "v1") == [] and _detections(store, "v2") == []
