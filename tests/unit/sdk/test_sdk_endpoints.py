"""Several collector URLs: which one a call tries first, and how long a failure is held."""

from __future__ import annotations

import pytest

from mlpulse.errors import ParameterError
from mlpulse.sdk.endpoints import Endpoints, split_urls

A, B, C = "http://a:8000", "http://b:8000", "http://c:8000"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_endpoints_try_the_urls_in_the_given_order_at_first() -> None:
    assert Endpoints([A, B, C]).candidates() == [A, B, C]


def test_endpoints_put_the_url_that_answered_last_first() -> None:
    endpoints = Endpoints([A, B, C])
    endpoints.succeeded(B)
    assert endpoints.current == B
    assert endpoints.candidates() == [B, A, C]


def test_endpoints_try_a_failed_url_last_until_down_for_passes() -> None:
    clock = Clock()
    endpoints = Endpoints([A, B, C], down_for=5.0, clock=clock)
    endpoints.failed(A)
    assert endpoints.is_down(A)
    assert endpoints.candidates() == [B, C, A]
    clock.now += 4.9
    assert endpoints.candidates() == [B, C, A]
    clock.now += 0.2
    assert not endpoints.is_down(A)
    assert endpoints.candidates() == [A, B, C]


def test_endpoints_stay_with_the_url_that_answered_once_a_failed_one_recovers() -> None:
    clock = Clock()
    endpoints = Endpoints([A, B], down_for=5.0, clock=clock)
    endpoints.failed(A)
    endpoints.succeeded(B)
    clock.now += 60.0  # A may be back: it is tried only if B fails
    assert endpoints.candidates() == [B, A]


def test_endpoints_try_every_url_when_all_are_down_the_oldest_failure_first() -> None:
    clock = Clock()
    endpoints = Endpoints([A, B, C], down_for=5.0, clock=clock)
    endpoints.failed(B)
    clock.now += 1.0
    endpoints.failed(C)
    clock.now += 1.0
    endpoints.failed(A)
    assert endpoints.candidates() == [B, C, A]


def test_endpoints_forget_a_failure_once_the_url_answers() -> None:
    endpoints = Endpoints([A, B])
    endpoints.failed(A)
    endpoints.succeeded(A)
    assert not endpoints.is_down(A)
    assert endpoints.candidates() == [A, B]


@pytest.mark.parametrize(("urls", "message"), [([], "at least one"), ([A, A], "without repeats")])
def test_endpoints_reject_no_urls_and_repeated_urls(urls: list[str], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        Endpoints(urls)


def test_split_urls_reads_commas_and_drops_blanks_and_trailing_slashes() -> None:
    assert split_urls(f" {A}/ ,, {B} ,") == [A, B]
    assert split_urls((A, B)) == [A, B]
