"""Streaming change detectors: one contract for all, then each on its golden streams.

The contract runs every detector on the same seeded streams:

* standard-normal values (detectors that read any number), 10,000 per seed, stationary,
  and with a mean shift of one standard deviation, up or down, at value 1,000;
* a 0/1 error stream (every detector), 10,000 per seed at a 5 % error rate, and with
  the rate rising from 5 % to 30 % at outcome 1,000.

Each case documents the configuration it uses, its false-alarm rate and its detection
delays, measured over seeds 0–199 when the bounds were set. The tests use seeds 0–19:
at most one of them may alarm on a stationary stream, and every one must find the
change within the case's bound and without an alarm before it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from numpy.typing import NDArray

from mlpulse.core.detectors import ADWIN, CUSUM, DDM, PageHinkley, StreamingDetector
from mlpulse.errors import ParameterError

SEEDS = range(20)
N_STATIONARY = 10_000
CHANGE_AT = 1_000


@dataclass(frozen=True)
class Case:
    """A detector configured for the contract's streams, with its measured behaviour."""

    name: str
    binary: Callable[[], StreamingDetector]
    """Configured for the 0/1 error stream."""
    max_delay_binary: int
    numeric: Callable[[], StreamingDetector] | None = None
    """Configured for standard-normal data; None for detectors that read only 0/1."""
    max_delay_numeric: int = 0

    def __str__(self) -> str:
        return self.name


CASES = [
    # Defaults on 0/1: 0/200 seeds alarmed; delay median 217, max 295.
    # delta=0.5, threshold=15, alpha=1 on N(0, 1): 0/200 alarmed; delay median 28 up and
    # 27 down, max 74.
    Case(
        "PageHinkley",
        binary=PageHinkley,
        max_delay_binary=400,
        numeric=lambda: PageHinkley(delta=0.5, threshold=15.0, alpha=1.0),
        max_delay_numeric=120,
    ),
    # Defaults: 0/200 alarmed on 0/1 and 1/200 on N(0, 1); delays median 87 (max 151)
    # on 0/1 and 55 (max 87) on N(0, 1): the first check of the 32-update clock after
    # enough evidence.
    Case("ADWIN", binary=ADWIN, max_delay_binary=250, numeric=ADWIN, max_delay_numeric=150),
    # Defaults on N(0, 1): 0/200 alarmed; delay median 27 up and 25 down, max 91. The
    # defaults alarm on most 0/1 streams (see the CUSUM docstring): warmup=500,
    # threshold=40 there, 0/200 alarmed; delay median 55, max 187.
    Case(
        "CUSUM",
        binary=lambda: CUSUM(warmup=500, threshold=40.0),
        max_delay_binary=300,
        numeric=CUSUM,
        max_delay_numeric=120,
    ),
    # The defaults alarm on 117 of 200 stationary streams (see the DDM docstring);
    # min_num_instances=300, drift_level=6: 1/200 alarmed; delay median 162, max 393.
    Case(
        "DDM",
        binary=lambda: DDM(min_num_instances=300, drift_level=6.0),
        max_delay_binary=500,
    ),
]
NUMERIC_CASES = [case for case in CASES if case.numeric is not None]


def _numeric(case: Case) -> StreamingDetector:
    assert case.numeric is not None
    return case.numeric()


def gaussian(seed: int, n: int, *, shift: float = 0.0) -> list[float]:
    values = np.random.default_rng(seed).normal(0.0, 1.0, n)
    values[CHANGE_AT:] += shift
    return [float(x) for x in values]


def errors(seed: int, n: int, *, after: float = 0.05) -> list[float]:
    rates = np.where(np.arange(n) < CHANGE_AT, 0.05, after)
    outcomes: NDArray[np.bool_] = np.random.default_rng(seed).random(n) < rates
    return [float(x) for x in outcomes]


def detections(detector: StreamingDetector, stream: list[float]) -> list[int]:
    return [i for i, x in enumerate(stream) if detector.update(x)]


def delay(detector: StreamingDetector, stream: list[float]) -> int | None:
    """Values from the change to the first detection; None if none, -1 if one came early."""
    for i, x in enumerate(stream):
        if detector.update(x):
            return i - CHANGE_AT if i >= CHANGE_AT else -1
    return None


# The contract ----------------------------------------------------------------------------


def test_detectors_public_api_is_pinned() -> None:
    import mlpulse.core.detectors as detectors

    assert detectors.__all__ == [
        "ADWIN",
        "CUSUM",
        "DDM",
        "BinomialCUSUM",
        "CanaryChange",
        "CanaryComparison",
        "ExceedanceCUSUM",
        "PageHinkley",
        "StreamingDetector",
    ]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_detector_follows_the_streaming_detector_protocol(case: Case) -> None:
    detector = case.binary()
    assert isinstance(detector, StreamingDetector)
    assert (detector.drift_detected, detector.n, detector.estimate) == (False, 0, 0.0)


@pytest.mark.parametrize("value", [0.0, 1.0, -3.25, 1e6])
@pytest.mark.parametrize("case", NUMERIC_CASES, ids=str)
def test_detector_is_silent_on_a_constant_stream(case: Case, value: float) -> None:
    for detector in (_numeric(case), case.binary()):
        assert detections(detector, [value] * 5_000) == []
        assert detector.n == 5_000
        assert detector.estimate == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_ddm_is_silent_on_a_constant_stream(value: float) -> None:
    for detector in (DDM(), DDM(min_num_instances=300, drift_level=6.0)):
        assert detections(detector, [value] * 5_000) == []
        assert (detector.n, detector.estimate) == (5_000, value)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_detector_is_silent_on_a_stationary_error_stream(case: Case) -> None:
    alarmed = [seed for seed in SEEDS if detections(case.binary(), errors(seed, N_STATIONARY))]
    assert len(alarmed) <= 1, alarmed


@pytest.mark.parametrize("case", NUMERIC_CASES, ids=str)
def test_detector_is_silent_on_a_stationary_gaussian_stream(case: Case) -> None:
    alarmed = [seed for seed in SEEDS if detections(_numeric(case), gaussian(seed, N_STATIONARY))]
    assert len(alarmed) <= 1, alarmed


@pytest.mark.parametrize("case", CASES, ids=str)
def test_detector_signals_drift_when_the_error_rate_rises(case: Case) -> None:
    delays = [delay(case.binary(), errors(seed, 2 * CHANGE_AT, after=0.30)) for seed in SEEDS]
    assert all(d is not None and 0 <= d <= case.max_delay_binary for d in delays), delays


@pytest.mark.parametrize("shift", [1.0, -1.0], ids=["up", "down"])
@pytest.mark.parametrize("case", NUMERIC_CASES, ids=str)
def test_detector_signals_drift_when_the_mean_shifts(case: Case, shift: float) -> None:
    delays = [delay(_numeric(case), gaussian(seed, 2 * CHANGE_AT, shift=shift)) for seed in SEEDS]
    assert all(d is not None and 0 <= d <= case.max_delay_numeric for d in delays), delays


@pytest.mark.parametrize("case", CASES, ids=str)
def test_detector_update_returns_drift_detected(case: Case) -> None:
    detector = case.binary()
    returned = []
    for x in errors(0, 3_000, after=0.6):
        returned.append(detector.update(x))
        assert detector.drift_detected is returned[-1]
    assert any(returned)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_detector_reset_returns_to_the_initial_state(case: Case) -> None:
    stream = errors(3, 3_000, after=0.6)
    used, fresh = case.binary(), case.binary()
    detections(used, stream)
    used.reset()
    assert (used.drift_detected, used.n, used.estimate) == (False, 0, 0.0)
    assert repr(used) == repr(fresh)
    found = detections(used, stream)
    assert found == detections(fresh, stream)
    assert found
    assert (used.n, used.estimate) == (fresh.n, fresh.estimate)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_detector_drops_nan(case: Case) -> None:
    detector = case.binary()
    detections(detector, [0.0, 1.0, 0.0])
    before = (detector.n, detector.estimate)
    assert detector.update(math.nan) is False
    assert (detector.n, detector.estimate) == before


@pytest.mark.parametrize("value", [math.inf, -math.inf])
@pytest.mark.parametrize("case", NUMERIC_CASES, ids=str)
def test_detector_drops_infinity(case: Case, value: float) -> None:
    detector = _numeric(case)
    detections(detector, [0.0, 1.0, 0.0])
    assert detector.update(value) is False
    assert detector.n == 3
    assert detector.estimate == pytest.approx(1 / 3)


BAD_PARAMETERS = [
    (PageHinkley, {"delta": -1.0}, "The 'delta' parameter of PageHinkley must be a float in [0, inf). Got -1.0 instead."),  # noqa: E501
    (PageHinkley, {"threshold": 0.0}, "The 'threshold' parameter of PageHinkley must be a float in (0, inf). Got 0.0 instead."),  # noqa: E501
    (PageHinkley, {"alpha": 1.5}, "The 'alpha' parameter of PageHinkley must be a float in (0, 1]. Got 1.5 instead."),  # noqa: E501
    (PageHinkley, {"min_instances": 0}, "The 'min_instances' parameter of PageHinkley must be an int in [1, inf). Got 0 instead."),  # noqa: E501
    (PageHinkley, {"min_instances": 2.5}, "The 'min_instances' parameter of PageHinkley must be an int in [1, inf). Got 2.5 instead."),  # noqa: E501
    (PageHinkley, {"mode": "sideways"}, "The 'mode' parameter of PageHinkley must be one of 'up', 'down', 'both'. Got 'sideways' instead."),  # noqa: E501
    (ADWIN, {"delta": 1.0}, "The 'delta' parameter of ADWIN must be a float in (0, 1). Got 1.0 instead."),  # noqa: E501
    (ADWIN, {"delta": math.nan}, "The 'delta' parameter of ADWIN must be a float in (0, 1). Got nan instead."),  # noqa: E501
    (ADWIN, {"clock": 0}, "The 'clock' parameter of ADWIN must be an int in [1, inf). Got 0 instead."),  # noqa: E501
    (ADWIN, {"max_buckets": 1}, "The 'max_buckets' parameter of ADWIN must be an int in [2, inf). Got 1 instead."),  # noqa: E501
    (ADWIN, {"min_window_length": True}, "The 'min_window_length' parameter of ADWIN must be an int in [1, inf). Got True instead."),  # noqa: E501
    (ADWIN, {"grace_period": -3}, "The 'grace_period' parameter of ADWIN must be an int in [1, inf). Got -3 instead."),  # noqa: E501
    (DDM, {"min_num_instances": 0}, "The 'min_num_instances' parameter of DDM must be an int in [1, inf). Got 0 instead."),  # noqa: E501
    (DDM, {"warning_level": 0.0}, "The 'warning_level' parameter of DDM must be a float in (0, inf). Got 0.0 instead."),  # noqa: E501
    (DDM, {"drift_level": 1.5}, "The 'drift_level' parameter of DDM must be a float in [2, inf). Got 1.5 instead."),  # noqa: E501
    (CUSUM, {"warmup": 1}, "The 'warmup' parameter of CUSUM must be an int in [2, inf). Got 1 instead."),  # noqa: E501
    (CUSUM, {"slack": -0.5}, "The 'slack' parameter of CUSUM must be a float in [0, inf). Got -0.5 instead."),  # noqa: E501
    (CUSUM, {"threshold": "5"}, "The 'threshold' parameter of CUSUM must be a float in (0, inf). Got '5' instead."),  # noqa: E501
    (CUSUM, {"target": math.inf}, "The 'target' parameter of CUSUM must be a float in (-inf, inf). Got inf instead."),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize(("cls", "kwargs", "message"), BAD_PARAMETERS)
def test_detector_rejects_a_bad_parameter(
    cls: Callable[..., StreamingDetector], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ParameterError) as info:
        cls(**kwargs)
    assert str(info.value) == message


# Page–Hinkley ------------------------------------------------------------------------------


def golden_gaussian() -> tuple[list[float], list[int]]:
    """Standard-normal noise on the means 0, 2, 0, -2, 500 values each (seed 7)."""
    noise = np.random.default_rng(7).normal(0.0, 1.0, 2_000)
    means = np.repeat([0.0, 2.0, 0.0, -2.0], 500)
    return [float(x) for x in noise + means], [500, 1_000, 1_500]


def test_page_hinkley_finds_each_change_of_the_golden_stream() -> None:
    stream, changes = golden_gaussian()
    found = detections(PageHinkley(delta=0.5, threshold=15.0, alpha=1.0), stream)
    assert found == [512, 1013, 1518]
    assert all(0 <= f - c <= 25 for f, c in zip(found, changes, strict=True))


def test_page_hinkley_signals_drift_when_mean_shifts_up_only_in_mode_up() -> None:
    stream, _ = golden_gaussian()
    up = detections(PageHinkley(delta=0.5, threshold=15.0, alpha=1.0, mode="up"), stream)
    down = detections(PageHinkley(delta=0.5, threshold=15.0, alpha=1.0, mode="down"), stream)
    assert up == [512]
    assert down == [1022, 1517]


def test_page_hinkley_statistic_is_the_distance_from_the_running_minimum() -> None:
    detector = PageHinkley(delta=0.0, threshold=100.0, alpha=1.0, mode="up")
    for x in [0.0, 0.0, 3.0]:
        detector.update(x)
    # mean 1: deviations -0, -0, +2 (the running mean moves first, as in river)
    assert detector.statistic == pytest.approx(2.0)
    assert detector.mode == "up"


def test_page_hinkley_waits_for_min_instances() -> None:
    stream = [0.0] * 5 + [100.0] * 5
    assert detections(PageHinkley(threshold=1.0, min_instances=8), stream) == [7]
    assert detections(PageHinkley(threshold=1.0, min_instances=1), stream) == [5]


# ADWIN ---------------------------------------------------------------------------------------


def test_adwin_finds_each_change_of_the_golden_stream() -> None:
    stream, changes = golden_gaussian()
    found = detections(ADWIN(), stream)
    # A change is often cut twice: the first cut keeps the old values whose
    # difference from the new ones is not yet significant.
    assert found == [543, 607, 1023, 1055, 1535, 1567]
    assert [min(f for f in found if f >= c) - c for c in changes] == [43, 23, 35]


def test_adwin_window_mean_and_variance_match_numpy_on_the_window() -> None:
    stream, _ = golden_gaussian()
    detector = ADWIN()
    for i, x in enumerate(stream):
        detector.update(x)
        window = np.asarray(stream[i + 1 - detector.width : i + 1])
        assert detector.estimate == pytest.approx(window.mean(), abs=1e-9)
        assert detector.variance == pytest.approx(window.var(), rel=1e-9, abs=1e-9)


def test_adwin_shrinks_the_window_to_the_values_after_a_change() -> None:
    detector = ADWIN()
    stream = gaussian(0, 2 * CHANGE_AT, shift=3.0)
    first = next(i for i, x in enumerate(stream) if detector.update(x))
    assert (first, detector.width) == (1_023, 40)  # 24 new values and 16 old ones
    assert detector.n == first + 1


def test_adwin_memory_grows_with_the_log_of_the_window() -> None:
    detector = ADWIN()
    detections(detector, gaussian(1, 50_000))
    assert detector.width == 50_000
    # max_buckets + 1 per row at most, one row per power of two.
    assert detector.n_buckets <= 6 * (math.log2(detector.width) + 1)


def test_adwin_checks_only_on_its_clock() -> None:
    stream = [0.0] * 100 + [1.0] * 100
    assert all(i % 32 == 31 for i in detections(ADWIN(), stream))
    assert detections(ADWIN(clock=1), stream)[0] < detections(ADWIN(), stream)[0]


# DDM -----------------------------------------------------------------------------------------


def test_ddm_warns_before_it_signals_drift_when_the_error_rate_rises() -> None:
    detector = DDM()
    stream = ([0] * 9 + [1]) * 30 + [0, 1] * 50
    warnings, found = [], []
    for i, x in enumerate(stream):
        if detector.update(x):
            found.append(i)
        elif detector.warning_detected:
            warnings.append(i)
    assert found == [325]
    assert warnings and 300 <= warnings[0] < 325


def test_ddm_ignores_the_first_error_after_a_run_of_successes() -> None:
    # With p_min = s_min = 0 recorded over the first 40 successes, river and MOA
    # call the first error a change.
    assert detections(DDM(), [0.0] * 40 + [1.0] + [0.0] * 40) == []


def test_ddm_finds_the_rise_of_golden_error_streams() -> None:
    # The rate rises from 5 % to 30 % at outcome 1,000. The defaults also alarm on
    # the stable stretch of seeds 1 and 2 (see the DDM docstring).
    tuned = [
        detections(DDM(min_num_instances=300, drift_level=6.0), errors(seed, 3_000, after=0.3))
        for seed in range(3)
    ]
    defaults = [detections(DDM(), errors(seed, 3_000, after=0.3)) for seed in range(3)]
    assert tuned == [[1109], [1186], [1137]]
    assert defaults == [[1017], [263, 1029, 1072], [84, 471, 1015]]


def test_ddm_estimate_is_the_error_rate_and_accepts_bools() -> None:
    detector = DDM()
    for x in [True, False, False, True]:
        detector.update(x)
    assert (detector.n, detector.estimate) == (4, 0.5)


def test_ddm_rejects_an_outcome_that_is_not_0_or_1() -> None:
    with pytest.raises(ParameterError, match=r"'x' parameter of DDM.update must be 0 or 1"):
        DDM().update(0.5)


# CUSUM ---------------------------------------------------------------------------------------


def test_cusum_finds_each_change_of_the_golden_stream() -> None:
    stream, changes = golden_gaussian()
    found = detections(CUSUM(), stream)
    # Each detection restarts the warm-up (200 values), over before the next change.
    assert found == [510, 1012, 1518]
    assert all(0 <= f - c <= 25 for f, c in zip(found, changes, strict=True))


def test_cusum_learns_its_target_and_scale_from_the_warmup() -> None:
    detector = CUSUM(warmup=4)
    for x in [1.0, 2.0, 3.0]:
        detector.update(x)
    assert (detector.target, detector.std, detector.statistic) == (None, None, 0.0)
    detector.update(4.0)
    assert detector.target == 2.5
    assert detector.std == pytest.approx(np.std([1.0, 2.0, 3.0, 4.0], ddof=1))


def test_cusum_signals_drift_against_a_given_target() -> None:
    stream = gaussian(4, 300)
    detector = CUSUM(target=1.0, warmup=50)
    # The data sit one standard deviation below the target: found soon after warm-up.
    assert 50 <= detections(detector, stream)[0] <= 100
    assert detections(CUSUM(target=0.0, warmup=50), stream) == []


def test_cusum_extends_a_warmup_without_spread() -> None:
    detector = CUSUM(warmup=10)
    detections(detector, [5.0] * 100)
    assert detector.target is None
    detector.update(6.0)
    assert detector.target == pytest.approx(506 / 101)
    assert detections(detector, [5.0] * 50 + [9.0]) == [50]
