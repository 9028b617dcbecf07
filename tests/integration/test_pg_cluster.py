"""Leader election, change hints and the detectors' log against a real PostgreSQL."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psycopg
import pytest

from mlpulse.adapters.cluster import stream_log
from mlpulse.adapters.cluster.changes import PostgresChangeFeed
from mlpulse.adapters.cluster.leader import PostgresLeadership
from mlpulse.adapters.cluster.stream_log import StreamLogReader
from mlpulse.domain.events import PredictionBlock
from mlpulse.domain.storage import AcceptedBatch


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    """The session's database (tests/conftest.py), its public schema."""
    return postgres_url


def _wait(condition: object, timeout: float) -> float:
    """Seconds until ``condition()`` held; fails after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.02)
    pytest.fail(f"not within {timeout} s")


def test_leadership_elects_exactly_one_and_fails_over_when_the_leader_closes(pg_url: str) -> None:
    replicas = [
        PostgresLeadership(pg_url, name=f"r{i}", check_every_s=0.2, lock_object=11)
        for i in range(3)
    ]
    for replica in replicas:
        replica.start()
    try:
        _wait(lambda: sum(r.is_leader for r in replicas) == 1, 5)
        time.sleep(0.5)  # and it stays one
        assert sum(r.is_leader for r in replicas) == 1
        leader = next(r for r in replicas if r.is_leader)
        leader.close()
        rest = [r for r in replicas if r is not leader]
        took = _wait(lambda: sum(r.is_leader for r in rest) == 1, 5)
        assert took < 1.0
    finally:
        for replica in replicas:
            replica.close()


_CHILD = textwrap.dedent(
    """
    import sys, time
    from mlpulse.adapters.cluster.leader import PostgresLeadership
    leader = PostgresLeadership(sys.argv[1], name="child", check_every_s=0.1, lock_object=12)
    leader.start()
    while not leader.is_leader:
        time.sleep(0.02)
    print("leading", flush=True)
    time.sleep(60)
    """
)


def test_leadership_moves_within_seconds_when_the_leader_is_killed(pg_url: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, pg_url], stdout=subprocess.PIPE, text=True
    )
    survivor = PostgresLeadership(pg_url, name="survivor", check_every_s=0.2, lock_object=12)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "leading"
        survivor.start()
        time.sleep(0.6)
        assert not survivor.is_leader
        child.send_signal(signal.SIGKILL)
        child.wait()
        took = _wait(lambda: survivor.is_leader, 15)
        assert took < 2.0  # the lock dies with the session; one check interval later
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
        survivor.close()


def test_change_feed_reaches_every_replica_within_a_second(pg_url: str) -> None:
    feeds = [PostgresChangeFeed(pg_url, poll_s=0.2) for _ in range(3)]
    heard: list[list[tuple[str | None, str | None, float]]] = [[] for _ in feeds]
    for feed, log in zip(feeds, heard, strict=True):
        feed.subscribe(lambda t, k, log=log: log.append((t, k, time.monotonic())))
        feed.start()
    try:
        sent = time.monotonic()
        feeds[0].publish("routing", "team/fraud")
        _wait(lambda: all(heard), 3)
        for log in heard:
            topic, key, at = log[0]
            assert (topic, key) == ("routing", "team/fraud")
            assert at - sent < 1.0
    finally:
        for feed in feeds:
            feed.close()


def _batch(i: int) -> AcceptedBatch:
    block = PredictionBlock(
        model="fraud",
        version="v1",
        request_id=[f"r{i}"],
        features={"amount": [1.0]},
        latency_ms=[float(i)],
    )
    return AcceptedBatch(f"b{i}", float(i), [block])


def test_stream_log_delivers_every_entry_once_in_order_across_a_handover(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as con:
        stream_log.ensure_schema(con)
    seen: list[str] = []
    lock = threading.Lock()

    def listen(batch: AcceptedBatch) -> None:
        assert batch.predictions[0].features == {}  # the log carries no features
        with lock:
            seen.append(batch.batch_id)

    reader = StreamLogReader(pg_url, listen, poll_s=0.02, save_every_s=0.05)
    reader.start()
    _wait(lambda: reader.position is not None, 10)  # it starts at the present

    def writer(ids: range, seed: int) -> None:
        rng = random.Random(seed)
        with psycopg.connect(pg_url) as con:
            for i in ids:
                with con.transaction(), con.cursor() as cur:
                    cur.execute("SELECT 1")  # the events' own writes come first
                    time.sleep(rng.uniform(0, 0.01))  # transactions overlap
                    stream_log.append(cur, [_batch(i)])

    threads = [threading.Thread(target=writer, args=(range(k, 400, 4), k)) for k in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    reader.stop()  # a failover mid-stream: the next reader goes on from the saved cursor
    successor = StreamLogReader(pg_url, listen, poll_s=0.02, save_every_s=0.05)
    successor.start()
    for thread in threads:
        thread.join()
    try:
        _wait(lambda: len(seen) >= 400, 10)
        time.sleep(0.2)
        assert sorted(seen) == sorted(f"b{i}" for i in range(400))  # each once
        numbers = [int(b[1:]) for b in seen]
        for k in range(4):  # each writer's batches in the order it committed them
            mine = [n for n in numbers if n % 4 == k]
            assert mine == sorted(mine)
    finally:
        successor.stop()
