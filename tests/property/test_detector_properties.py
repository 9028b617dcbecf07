"""Properties every streaming change detector keeps, for any stream."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpulse.core.detectors import (
    ADWIN,
    CUSUM,
    DDM,
    BinomialCUSUM,
    ExceedanceCUSUM,
    PageHinkley,
    StreamingDetector,
)

BOUND = 1e6
finite = st.floats(-BOUND, BOUND, allow_nan=False, allow_infinity=False)
outcomes = st.sampled_from([0.0, 1.0])

# Small thresholds so that random streams do trigger detections (and restarts).
NUMERIC: dict[str, Callable[[], StreamingDetector]] = {
    "PageHinkley": lambda: PageHinkley(min_instances=3, delta=0.0, threshold=1.0),
    "PageHinkley-defaults": PageHinkley,
    "ADWIN": lambda: ADWIN(clock=1, min_window_length=2, grace_period=4),
    "CUSUM": lambda: CUSUM(warmup=3, threshold=1.0),
}
ALL: dict[str, Callable[[], StreamingDetector]] = {
    **NUMERIC,
    "DDM": lambda: DDM(min_num_instances=5, warning_level=1.0, drift_level=1.5),
}
RESTARTING = {"PageHinkley", "PageHinkley-defaults", "CUSUM", "DDM"}

fast = settings(max_examples=60, deadline=None)


def stream_for(name: str) -> st.SearchStrategy[list[float]]:
    return st.lists(outcomes if name == "DDM" else finite, max_size=200)


@pytest.mark.parametrize("name", sorted(ALL))
@fast
@given(data=st.data(), length=st.integers(1, 300))
def test_detector_never_alarms_on_a_constant_stream(
    name: str, data: st.DataObject, length: int
) -> None:
    value = data.draw(outcomes if name == "DDM" else finite)
    detector = ALL[name]()
    assert not any(detector.update(value) for _ in range(length))
    assert detector.n == length


@pytest.mark.parametrize("name", sorted(ALL))
@fast
@given(data=st.data())
def test_detector_n_counts_updates_since_it_last_started(name: str, data: st.DataObject) -> None:
    # Each step is a value, or None for reset().
    value = outcomes if name == "DDM" else finite
    steps = data.draw(st.lists(st.one_of(value, st.none()), max_size=200))
    detector, expected, restart = ALL[name](), 0, False
    for step in steps:
        if step is None:
            detector.reset()
            expected, restart = 0, False
            continue
        if restart:
            expected = 0
        detected = detector.update(step)
        expected += 1
        restart = detected and name in RESTARTING
        assert detector.n == expected


def _run_segments(detector: StreamingDetector, stream: list[float]) -> list[float]:
    """Update with each value; return the values since the detector last restarted."""
    segment: list[float] = []
    restart = False
    for x in stream:
        if restart:
            segment = []
        restart = detector.update(x)
        segment.append(x)
    return segment


@pytest.mark.parametrize("name", ["PageHinkley", "PageHinkley-defaults", "CUSUM"])
@fast
@given(stream=st.lists(finite, min_size=1, max_size=200))
def test_estimate_is_the_running_mean(name: str, stream: list[float]) -> None:
    detector = NUMERIC[name]()
    segment = _run_segments(detector, stream)
    scale = max(abs(x) for x in segment)
    assert math.isclose(
        detector.estimate, math.fsum(segment) / len(segment), rel_tol=1e-9, abs_tol=1e-9 * scale
    )


@fast
@given(stream=st.lists(outcomes, min_size=1, max_size=200))
def test_ddm_estimate_is_the_error_rate_since_it_last_started(stream: list[float]) -> None:
    detector = ALL["DDM"]()
    segment = _run_segments(detector, stream)
    assert detector.estimate == sum(segment) / len(segment)


# A stretch near 0 then one near 10, so that the window is cut.
shifted = st.tuples(
    st.lists(st.floats(-1.0, 1.0), max_size=100), st.lists(st.floats(9.0, 10.0), max_size=100)
).map(lambda parts: parts[0] + parts[1])


@fast
@given(stream=st.one_of(stream_for("ADWIN"), shifted))
def test_adwin_window_never_exceeds_n_and_is_the_latest_values(stream: list[float]) -> None:
    detector = ADWIN(clock=1, min_window_length=2, grace_period=4)  # as in NUMERIC
    for i, x in enumerate(stream):
        detector.update(x)
        assert 1 <= detector.width <= detector.n == i + 1
    if stream:
        window = np.asarray(stream[len(stream) - detector.width :], dtype=np.float64)
        scale = float(np.max(np.abs(window)))
        assert math.isclose(
            detector.estimate, float(window.mean()), rel_tol=1e-9, abs_tol=1e-9 * scale
        )
        assert detector.variance >= 0.0


@fast
@given(
    value=finite,
    length=st.integers(1, 400),
    per_second=st.integers(1, 50),
    warmup=st.integers(1, 5),
)
def test_exceedance_cusum_never_alarms_on_a_constant_stream(
    value: float, length: int, per_second: int, warmup: int
) -> None:
    detector = ExceedanceCUSUM(warmup=warmup, min_count=1)
    assert not any(detector.update(value, i / per_second) for i in range(length))
    assert detector.n == length and detector.statistic == 0.0


@fast
@given(
    blocks=st.lists(st.tuples(st.integers(0, 500), st.integers(1, 500)), max_size=100),
    rate=st.floats(0.0, 0.99),
)
def test_binomial_cusum_never_alarms_at_or_below_its_reference_share(
    blocks: list[tuple[int, int]], rate: float
) -> None:
    # A block whose share of events is at most the reference rate only adds evidence
    # against a rise: the statistic stays at 0.
    detector = BinomialCUSUM()
    for t, (count, n) in enumerate(blocks):
        count = min(count, int(n * max(rate, detector_min_rate)))
        assert not detector.update(count, n, rate=rate, t=float(t))
        assert detector.statistic == 0.0


detector_min_rate = 0.001  # BinomialCUSUM's default: a reference below it is taken as it
