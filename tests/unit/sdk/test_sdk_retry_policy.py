"""The pure parts of retrying: backoff delays and how answers are classified."""

from __future__ import annotations

import email.utils
import random
import time

import msgspec
import pytest

from mlpulse.domain.ingest import IngestResult
from mlpulse.sdk.backoff import MAX_RETRY_AFTER, Backoff
from mlpulse.sdk.reply import Verdict, classify, parse_retry_after


@pytest.mark.parametrize("seed", range(20))
def test_backoff_draws_full_jitter_below_the_capped_exponential(seed: int) -> None:
    backoff = Backoff(base=0.1, cap=30.0)
    rng = random.Random(seed)
    for attempt in range(40):
        delay = backoff.delay(attempt, rng)
        assert 0.0 <= delay <= min(30.0, 0.1 * 2**attempt)


def test_backoff_grows_then_stays_at_the_cap() -> None:
    backoff = Backoff(base=0.1, cap=30.0)
    assert [backoff.ceiling(n) for n in range(4)] == [0.1, 0.2, 0.4, 0.8]
    assert backoff.ceiling(9) == 30.0
    assert backoff.ceiling(10_000) == 30.0


def test_backoff_waits_at_least_retry_after_up_to_a_bound() -> None:
    backoff = Backoff(base=0.1, cap=1.0)
    rng = random.Random(0)
    assert backoff.delay(0, rng, retry_after=5.0) == 5.0
    assert backoff.delay(0, rng, retry_after=1e9) == MAX_RETRY_AFTER


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = parse_retry_after(when)
    assert seconds is not None and 25.0 <= seconds <= 31.0


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.ACCEPTED),
        (202, Verdict.ACCEPTED),
        (422, Verdict.REJECTED),
        (413, Verdict.TOO_LARGE),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (503, Verdict.RETRY),
        (301, Verdict.FATAL),
        (400, Verdict.FATAL),
        (401, Verdict.FATAL),
        (403, Verdict.FATAL),
        (404, Verdict.FATAL),
        (415, Verdict.FATAL),
    ],
)
def test_classify_maps_each_status_to_one_verdict(status: int, verdict: Verdict) -> None:
    assert classify(status, b"", None).verdict is verdict


def test_classify_parses_the_ingest_result_and_retry_after() -> None:
    body = msgspec.json.encode(IngestResult(batch_id="b", accepted=3))
    reply = classify(200, body, None)
    assert reply.result == IngestResult(batch_id="b", accepted=3)
    assert classify(503, b"busy", "7").retry_after == 7.0
    assert classify(200, b"not json", None).result is None
