"""The client-side circuit breaker: closed → open → half-open, on a fake clock."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mlpulse.errors import ParameterError
from mlpulse.sdk.circuit import CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: FakeClock, **options: Any) -> CircuitBreaker:
    settings: dict[str, Any] = {"window_s": 30.0, "min_calls": 20, "open_s": 30.0}
    return CircuitBreaker(clock=clock, **(settings | options))


def test_circuit_trips_at_half_errors_once_the_window_holds_min_calls() -> None:
    clock = FakeClock()
    cb = breaker(clock)
    moves = []
    for i in range(20):
        clock.now += 0.5  # 10 s in all: within the 30 s window
        assert cb.state == "closed" and cb.allow()
        moves.append(cb.record(ok=i % 2 == 0))
    assert moves[-1] == ("closed", "open")
    assert moves[:-1] == [None] * 19
    assert cb.state == "open" and not cb.allow()


def test_circuit_stays_closed_below_min_calls_or_below_the_error_rate() -> None:
    clock = FakeClock()
    cb = breaker(clock)
    for _ in range(19):
        cb.record(ok=False)
    assert cb.state == "closed"  # every call failed, but too few to judge
    cb.reset()
    for i in range(100):
        cb.record(ok=i % 3 != 0)  # a third fail
    assert cb.state == "closed"


def test_circuit_forgets_failures_that_left_the_window() -> None:
    clock = FakeClock()
    cb = breaker(clock)
    for _ in range(15):
        cb.record(ok=False)
    clock.now += 31.0  # those failures are out of the window now
    for _ in range(15):
        cb.record(ok=True)
    for _ in range(5):
        cb.record(ok=False)
    assert cb.state == "closed"
    assert cb.failure_share == pytest.approx(5 / 20)


def test_circuit_trips_on_latency_when_the_slow_share_reaches_the_rate() -> None:
    clock = FakeClock()
    cb = breaker(clock, latency_ms=200.0, error_rate=0.1)
    for _ in range(18):
        cb.record(ok=True, latency_ms=50.0)
    cb.record(ok=True, latency_ms=None)  # no latency: never slow
    assert cb.record(ok=True, latency_ms=900.0) is None  # 1 slow in 20: 5% < 10%
    cb.record(ok=True, latency_ms=900.0)  # 2 in 21: 9.5%
    assert cb.record(ok=True, latency_ms=901.0) == ("closed", "open")  # 3 in 22


def test_circuit_half_open_lets_probes_through_and_closes_when_all_succeed() -> None:
    clock = FakeClock()
    cb = breaker(clock, half_open_calls=3)
    for _ in range(20):
        cb.record(ok=False)
    clock.now += 29.0
    assert cb.state == "open" and not cb.allow()
    clock.now += 1.0
    assert cb.state == "half_open"
    assert [cb.allow() for _ in range(4)] == [True, True, True, False]
    assert cb.record(ok=True) is None
    assert cb.record(ok=True) is None
    assert cb.record(ok=True) == ("half_open", "closed")
    assert cb.state == "closed" and cb.allow()
    assert cb.failure_share == 0.0  # a fresh window after recovery


def test_circuit_half_open_failure_opens_it_again() -> None:
    clock = FakeClock()
    cb = breaker(clock, half_open_calls=3)
    for _ in range(20):
        cb.record(ok=False)
    clock.now += 30.0
    assert cb.allow()
    assert cb.record(ok=True) is None
    assert cb.record(ok=False) == ("half_open", "open")
    assert cb.state == "open" and not cb.allow()
    clock.now += 30.0
    assert cb.state == "half_open"


def test_circuit_ignores_late_results_while_open() -> None:
    clock = FakeClock()
    cb = breaker(clock, min_calls=1)
    assert cb.record(ok=False) == ("closed", "open")
    assert cb.record(ok=True) is None
    assert cb.state == "open"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("window_s", 0.0),
        ("window_s", float("nan")),
        ("min_calls", 0),
        ("min_calls", 2.5),
        ("error_rate", 0.0),
        ("error_rate", 1.5),
        ("latency_ms", -1.0),
        ("open_s", True),
        ("half_open_calls", 0),
        ("clock", 3.0),
    ],
)
def test_circuit_rejects_bad_parameters_in_the_house_format(name: str, value: object) -> None:
    with pytest.raises(ParameterError, match=rf"The '{name}' parameter of CircuitBreaker must be"):
        CircuitBreaker(**{name: value})


def test_circuit_counts_every_call_from_many_threads() -> None:
    cb = CircuitBreaker(min_calls=1_000_000, window_s=3600.0)
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for i in range(5000):
            cb.allow()
            cb.record(ok=i % 4 != 0, latency_ms=1.0)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cb.state == "closed"
    assert cb.failure_share == pytest.approx(0.25)
    assert cb._total_calls == 40_000  # every call counted once
