"""CanaryComparison: a new version against the baseline serving over the same seconds.

Traffic is simulated at 200 calls a second on simulated time, lognormal latency (sigma 1),
split between the baseline and a candidate; seeded generators.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlpulse.core.detectors import CanaryChange, CanaryComparison
from mlpulse.errors import ParameterError


def _run(
    seed: int,
    seconds: float,
    *,
    share: float,
    slow: float = 1.0,
    errors: float = 0.005,
    candidate_errors: float | None = None,
    candidate_from: float = 0.0,
    baseline_until: float = float("inf"),
    sigma: float = 1.0,
    comparison: CanaryComparison | None = None,
) -> list[CanaryChange]:
    """Calls at 200/s from t = 1,000, failing at ``errors``; after ``candidate_from`` a
    ``share`` of them go to v2 (latency times ``slow``, failing at ``candidate_errors``);
    after ``baseline_until`` all do."""
    rng = np.random.default_rng(seed)
    comparison = comparison or CanaryComparison()
    n = int(seconds * 200)
    times = 1000.0 + np.sort(rng.uniform(0.0, seconds, n))
    latency = rng.lognormal(np.log(20.0), sigma, n)
    to_candidate = rng.random(n) < share
    draws = rng.random(n)
    fails = draws < errors
    candidate_fails = draws < (errors if candidate_errors is None else candidate_errors)
    found: list[CanaryChange] = []
    for t, x, canary, failed, candidate_failed in zip(
        times.tolist(),
        latency.tolist(),
        to_candidate.tolist(),
        fails.tolist(),
        candidate_fails.tolist(),
        strict=True,
    ):
        if t - 1000.0 >= candidate_from and (canary or t - 1000.0 >= baseline_until):
            found += comparison.update_candidate("v2", t, latency=slow * x, failed=candidate_failed)
        else:
            found += comparison.update_baseline(t, latency=x, failed=failed)
    return found  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("share", [0.1, 0.5])
def test_canary_slow_from_its_first_request_is_found_within_5_s(seed: int, share: float) -> None:
    found = _run(seed, 60.0, share=share, slow=3.0, candidate_from=30.0)
    assert [(c.candidate, c.signal) for c in found] == [("v2", "latency")]
    assert found[0].at + 1.0 - 1030.0 <= 5.0  # the block that tipped it has ended
    assert abs(found[0].onset - 1030.0) <= 1.0


def test_version_replacing_the_baseline_at_100_percent_is_compared_with_it() -> None:
    found = _run(1, 60.0, share=0.0, slow=3.0, candidate_from=30.0, baseline_until=30.0)
    assert [(c.signal, c.onset) for c in found] == [("latency", 1030.0)]
    assert found[0].at + 1.0 - 1030.0 <= 5.0


def test_canary_failing_from_its_first_request_is_found_within_5_s() -> None:
    found = _run(2, 60.0, share=0.1, candidate_errors=0.2, candidate_from=30.0)
    assert [(c.signal, c.onset) for c in found] == [("errors", 1030.0)]
    assert found[0].at + 1.0 - 1030.0 <= 5.0


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_healthy_heavy_tailed_canary_raises_nothing(sigma: float) -> None:
    # An hour of a 10% canary with the champion's distribution (and its 0.5% errors).
    assert _run(4, 3600.0, share=0.1, sigma=sigma) == []


def test_faster_canary_raises_nothing() -> None:
    assert _run(5, 600.0, share=0.5, slow=0.3, candidate_from=10.0) == []


def test_canary_whose_scores_shift_is_found() -> None:
    comparison = CanaryComparison()
    rng = np.random.default_rng(6)
    found = []
    for i in range(12_000):
        t = i / 200
        if i % 4 or t < 20:
            found += comparison.update_baseline(t, score=float(rng.beta(2, 5)))
        else:
            found += comparison.update_candidate("v2", t, score=float(rng.beta(5, 2)))
    assert [(c.signal, c.onset) for c in found] == [("score", 20.0)]


def test_baseline_gone_longer_than_hold_leaves_candidates_untested() -> None:
    comparison = CanaryComparison(hold=10.0)
    for i in range(6000):  # the baseline for 30 s, then nothing for 30 s
        comparison.update_baseline(i / 200, latency=10.0 + i % 7)
    found = []
    for i in range(12_000, 24_000):  # then only a version three times slower
        found += comparison.update_candidate("v2", i / 200, latency=30.0 + 3 * (i % 7))
    assert found == []
    assert comparison.statistic("v2", "latency") == 0.0


def test_canary_without_enough_baseline_calls_is_not_tested() -> None:
    comparison = CanaryComparison(min_reference=10_000)
    assert _run(8, 30.0, share=0.5, slow=5.0, comparison=comparison) == []


def test_canary_forget_drops_a_candidate() -> None:
    comparison = CanaryComparison()
    _run(9, 20.0, share=0.5, slow=2.0, comparison=comparison)
    assert comparison.candidates == ["v2"]
    comparison.forget("v2")
    assert comparison.candidates == []


def test_canary_rejects_bad_parameters_with_one_message_format() -> None:
    with pytest.raises(ParameterError) as info:
        CanaryComparison(quantile=0.5)
    assert str(info.value) == (
        "The 'quantile' parameter of CanaryComparison must be a float in (0.5, 1). Got 0.5 instead."
    )
    with pytest.raises(ParameterError, match="'threshold' parameter of BinomialCUSUM"):
        CanaryComparison(threshold=-1.0)


def test_canary_update_many_is_one_update_per_call() -> None:
    rng = np.random.default_rng(10)
    one, many = CanaryComparison(), CanaryComparison()
    found_one, found_many = [], []
    for second in range(60):
        for version, n in (("v1", 90), ("v2", 10)):
            times = (second + np.sort(rng.random(n))).tolist()
            latency = (rng.lognormal(0.0, 1.0, n) * (3.0 if version == "v2" else 1.0)).tolist()
            latency[0] = None  # a call without a latency
            failed = (rng.random(n) < 0.01).tolist()
            candidate = None if version == "v1" else version
            found_many += many.update_many(times, candidate=candidate, latency=latency,
                                           failed=failed)  # fmt: skip
            for t, x, f in zip(times, latency, failed, strict=True):
                if candidate is None:
                    found_one += one.update_baseline(t, latency=x, failed=f)
                else:
                    found_one += one.update_candidate(candidate, t, latency=x, failed=f)
            assert one.statistic("v2", "latency") == many.statistic("v2", "latency")
    assert found_one == found_many and [c.signal for c in found_many] == ["latency"]
