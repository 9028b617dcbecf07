"""ExceedanceCUSUM and BinomialCUSUM: latency detection that is one-sided and robust to heavy tails.

Latency streams are lognormal (sigma 1 unless said) at about 200 calls a second, fed
a second at a time (``update_many``), with seeded generators.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray

from mlpulse.core.detectors import BinomialCUSUM, ExceedanceCUSUM
from mlpulse.errors import ParameterError

Change = Callable[[NDArray[np.float64], np.random.Generator], NDArray[np.float64]]


def _alarms(
    seed: int,
    seconds: int,
    *,
    change_at: int | None = None,
    change: Change | None = None,
    rate: float = 200.0,
    sigma: float = 1.0,
    detector: ExceedanceCUSUM | None = None,
) -> list[tuple[int, float | None]]:
    """(second, change point) of every alarm over ``seconds`` of simulated traffic."""
    rng = np.random.default_rng(seed)
    detector = detector or ExceedanceCUSUM()
    found = []
    for t in range(seconds):
        values = rng.lognormal(np.log(20.0), sigma, rng.poisson(rate))
        if change is not None and change_at is not None and t >= change_at:
            values = change(values, rng)
        if detector.update_many(values, float(t)):
            found.append((t, detector.change_point))
    return found  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_exceedance_cusum_finds_a_3x_slowdown_within_5_s(seed: int) -> None:
    found = _alarms(seed, 200, change_at=100, change=lambda x, _: 3.0 * x)
    assert found, "no alarm"
    second, onset = found[0]
    assert 100 < second <= 105
    assert onset is not None and abs(onset - 100) <= 1.0


@pytest.mark.parametrize("seed", range(3))
def test_exceedance_cusum_is_silent_when_the_stream_gets_twice_as_fast(seed: int) -> None:
    assert _alarms(seed, 1200, change_at=100, change=lambda x, _: x / 2.0) == []


def test_exceedance_cusum_is_silent_when_0_2_percent_of_calls_are_20x_slower() -> None:
    def slow_few(values: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.float64]:
        return np.where(rng.random(len(values)) < 0.002, 20.0 * values, values)

    assert _alarms(7, 3600, change_at=60, change=slow_few) == []


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_exceedance_cusum_is_silent_on_healthy_heavy_tailed_latency(sigma: float) -> None:
    assert _alarms(11, 3 * 3600, sigma=sigma) == []


def test_exceedance_cusum_finds_a_slowdown_at_low_traffic_in_longer_blocks() -> None:
    # 5 calls a second: a block waits for its 20 calls, so it spans 4 seconds.
    found = _alarms(3, 900, rate=5.0, change_at=600, change=lambda x, _: 3.0 * x)
    assert found and 600 < found[0][0] <= 640


def test_exceedance_cusum_golden_stream_with_known_change_points() -> None:
    # 10 values a second cycling 1.0..1.9: the level is the warm-up's p90 (1.81) and one
    # value in ten exceeds it. At 60 s the values triple (7 in 10 exceed); the detector
    # restarts after its alarm, learns the tripled stream as its normal over 10 blocks,
    # and at 150 s the values triple again. Faster stretches (100-110 s, 200-300 s) are
    # no change.
    detector = ExceedanceCUSUM(warmup=10, min_count=5)
    factor = {range(0, 60): 1.0, range(60, 100): 3.0, range(100, 110): 0.5, range(110, 150): 3.0,
              range(150, 200): 9.0, range(200, 300): 0.1}  # fmt: skip
    alarms = []
    for i in range(3000):
        t = i / 10
        f = next(v for r, v in factor.items() if int(t) in r)
        if detector.update(1.0 + (i % 10) / 10 * f, t):
            alarms.append((t, detector.change_point))
    # After the restart blocks start at 64.1 s (the value at 64.0 closed the last one), so
    # the second change point is the block start 150.1 s, a value after the change.
    assert alarms == [(64.0, 60.0), (154.1, 150.1)]


def test_exceedance_cusum_update_many_is_update_for_each_value() -> None:
    rng = np.random.default_rng(5)
    one, many = ExceedanceCUSUM(warmup=5), ExceedanceCUSUM(warmup=5)
    alarms_one, alarms_many = [], []
    for t in range(300):
        values = rng.lognormal(0.0, 1.0, rng.poisson(50)) * (4.0 if 100 <= t < 150 else 1.0)
        alarms_one.append(any([one.update(float(x), float(t)) for x in values]))
        alarms_many.append(many.update_many(values, float(t)))
        assert (one.n, one.level, one.rate, one.statistic) == (
            many.n, many.level, many.rate, many.statistic,
        )  # fmt: skip
    assert alarms_one == alarms_many and any(alarms_many)


def test_exceedance_cusum_warmup_sample_stays_bounded_at_high_traffic() -> None:
    detector = ExceedanceCUSUM(warmup=3)
    rng = np.random.default_rng(2)
    for t in range(3):
        detector.update_many(rng.lognormal(0.0, 1.0, 50_000), float(t))
    assert len(detector._sample) <= 1 << 16  # the bound on memory is the point
    detector.update(1.0, 3.0)
    assert detector.level is not None and abs(detector.level - np.exp(1.2816)) < 0.05
    assert detector.rate is not None and abs(detector.rate - 0.1) < 0.002


def test_exceedance_cusum_with_a_prior_finds_errors_from_the_first_block() -> None:
    detector = ExceedanceCUSUM(level=0.5)
    detector.start_from(0.01, 1000)
    found = [t for t in range(10) if detector.update_many(np.ones(200), float(t))]
    assert found == [3] and detector.change_point == 0.0


def test_exceedance_cusum_drops_non_finite_values_and_times() -> None:
    detector = ExceedanceCUSUM()
    assert not detector.update(float("nan"), 1.0)
    assert not detector.update(1.0, float("inf"))
    assert not detector.update_many([float("nan")], 1.0)
    assert detector.n == 0


def test_exceedance_cusum_reset_returns_to_the_initial_state() -> None:
    detector = ExceedanceCUSUM(warmup=2)
    _alarms(1, 100, change_at=50, change=lambda x, _: 5.0 * x, detector=detector)
    detector.reset()
    assert (detector.n, detector.warm, detector.level, detector.rate) == (0, False, None, None)
    assert (detector.statistic, detector.onset, detector.change_point) == (0.0, None, None)


def test_binomial_cusum_needs_three_full_blocks_and_never_signals_a_fall() -> None:
    detector = BinomialCUSUM()
    assert [detector.update(200, 200, rate=0.1, t=t) for t in range(3)] == [False, False, True]
    detector = BinomialCUSUM()
    assert not any(detector.update(0, 200, rate=0.1, t=t) for t in range(1000))
    assert detector.statistic == 0.0 and detector.onset is None


def test_binomial_cusum_without_restart_signals_once_per_excursion() -> None:
    detector = BinomialCUSUM(restart=False)
    bad = [detector.update(100, 200, rate=0.1, t=t) for t in range(20)]
    assert bad.count(True) == 1 and detector.onset == 0.0
    back = [detector.update(0, 200, rate=0.1, t=t) for t in range(20, 21)]
    assert back == [False] and detector.statistic == 0.0  # held at h + cap: drains at once
    again = [detector.update(100, 200, rate=0.1, t=t) for t in range(21, 30)]
    assert again.count(True) == 1 and detector.onset == 21.0


@pytest.mark.parametrize("n", [2, 20, 200, 5000])
def test_binomial_cusum_is_silent_at_its_reference_rate(n: int) -> None:
    # Lorden's bound: at least e^12 (162,754) blocks between false alarms on average.
    rng = np.random.default_rng(n)
    counts = rng.binomial(n, 0.1, 100_000).tolist()
    detector = BinomialCUSUM()
    assert not any(detector.update(k, n, rate=0.1, t=float(t)) for t, k in enumerate(counts))


BAD = [
    (ExceedanceCUSUM, {"quantile": 1.0}, "The 'quantile' parameter of ExceedanceCUSUM must be a float in (0, 1). Got 1.0 instead."),  # noqa: E501
    (ExceedanceCUSUM, {"level": float("nan")}, "The 'level' parameter of ExceedanceCUSUM must be a finite float or None. Got nan instead."),  # noqa: E501
    (ExceedanceCUSUM, {"block": 0.0}, "The 'block' parameter of ExceedanceCUSUM must be a float in (0, inf). Got 0.0 instead."),  # noqa: E501
    (ExceedanceCUSUM, {"warmup": 0}, "The 'warmup' parameter of ExceedanceCUSUM must be an int in [1, inf). Got 0 instead."),  # noqa: E501
    (BinomialCUSUM, {"tolerance": 0.5}, "The 'tolerance' parameter of BinomialCUSUM must be a float in [1, inf). Got 0.5 instead."),  # noqa: E501
    (BinomialCUSUM, {"ratio": 1.2}, "The 'ratio' parameter of BinomialCUSUM must be a float above tolerance=1.5. Got 1.2 instead."),  # noqa: E501
    (BinomialCUSUM, {"min_rate": 0.5}, "The 'min_rate' parameter of BinomialCUSUM must be a float in (0, 0.5). Got 0.5 instead."),  # noqa: E501
    (BinomialCUSUM, {"restart": 1}, "The 'restart' parameter of BinomialCUSUM must be a bool. Got 1 instead."),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize(("owner", "kwargs", "message"), BAD)
def test_detector_rejects_bad_parameters_with_one_message_format(
    owner: type, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ParameterError) as info:
        owner(**kwargs)
    assert str(info.value) == message
