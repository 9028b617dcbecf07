"""The SDK router against a real collector (issue 14): the routing table carries each
version's health and the breaker never falls back to a version whose critical alert
fires; a routing change made once the collector is back reaches the router within 1–2 s;
a serving process that starts while the collector is down serves its fallback version
and follows the table once the collector answers."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from mlpulse import Client
from mlpulse.sdk.circuit import CircuitBreaker
from mlpulse.sdk.routing_table import bucket
from tests.conftest import RunningCollector

MODEL = "recs"
CALLS = 300


def _routing(collector: RunningCollector, **weights: tuple[str, int]) -> None:
    versions = [{"version": v, "stage": s, "weight": w} for v, (s, w) in weights.items()]
    answer = httpx.put(
        f"{collector.url}/v1/registry/{MODEL}/routing", json={"versions": versions},
        headers=collector.headers(collector.admin_key),
    )  # fmt: skip
    assert answer.status_code == 200, answer.text


def _alert(collector: RunningCollector, version: str, status: str = "firing") -> None:
    """A critical alert of ``version`` through the Alertmanager intake."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    payload = {"alerts": [{
        "status": status, "startsAt": now,
        "labels": {"alertname": "HighErrorRate", "severity": "critical", "model": MODEL,
                   "version": version},
    }]}  # fmt: skip
    sent = httpx.post(
        f"{collector.url}/v1/alertmanager/webhook", json=payload,
        headers=collector.headers(collector.admin_key),
    )  # fmt: skip
    assert sent.status_code == 200, sent.text


def _until(condition: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until ``condition`` held, or None when it did not within ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.02)
    return None


def test_routing_table_carries_version_health_from_firing_critical_alerts(
    collector: RunningCollector,
) -> None:
    collector.register(MODEL, ["v1", "v2"])
    url = f"{collector.url}/v1/routing/{MODEL}"
    read = collector.headers(collector.read_key)
    before = httpx.get(url, headers=read)
    assert before.json()["health"] == {
        "v1": {"healthy": True, "alerts": []}, "v2": {"healthy": True, "alerts": []},
    }  # fmt: skip
    _alert(collector, "v1")
    # Health is read from the alert engine at most every half second.
    took = _until(lambda: not httpx.get(url, headers=read).json()["health"]["v1"]["healthy"], 2.0)
    assert took is not None and took < 1.0
    after = httpx.get(url, headers=read)
    assert after.json()["health"]["v1"] == {
        "healthy": False, "alerts": ["alertmanager:HighErrorRate"],
    }  # fmt: skip
    assert after.json()["revision"] == before.json()["revision"]
    assert after.headers["ETag"] != before.headers["ETag"]  # a change for pollers
    # A held long-poll is answered when health changes, not at the end of its wait.
    started = time.monotonic()
    _alert(collector, "v1", "resolved")
    held = httpx.get(
        f"{url}?wait=10", headers=read | {"If-None-Match": after.headers["ETag"]}, timeout=15
    )
    assert held.status_code == 200 and held.json()["health"]["v1"]["healthy"]
    assert time.monotonic() - started < 2.0


def test_breaker_of_a_fresh_process_never_falls_back_to_a_version_whose_critical_alert_fires(
    collector: RunningCollector,
) -> None:
    collector.register(MODEL, ["v1", "v2", "v3"])
    _routing(collector, v1=("champion", 50), v2=("challenger", 50), v3=("challenger", 0))
    _alert(collector, "v1")  # the champion, the table's fallback, is failing
    with Client(collector.url, collector.ingest_key) as client:  # a freshly started process
        router = client.router(MODEL, breaker=lambda: CircuitBreaker(min_calls=10))
        assert router.table is not None and not router.table.healthy("v1")
        units = [f"user-{i}" for i in range(5 * CALLS)]
        v2_units = [u for u in units if bucket(MODEL, u) >= 5000][:CALLS]
        served: Counter[str] = Counter()
        for unit in v2_units:
            choice = router.choose(unit)
            served[choice.version] += 1
            router.record(choice.version, ok=choice.version != "v2")  # v2 crashes
    # The first 10 calls go to v2 and trip its breaker; the rest go to v3, never to v1.
    assert served == {"v2": 10, "v3": CALLS - 10}


def test_router_sees_a_version_turn_unhealthy_while_its_poll_is_held(
    collector: RunningCollector,
) -> None:
    collector.register(MODEL, ["v1", "v2"])
    with Client(collector.url, collector.ingest_key) as client:
        router = client.router(MODEL)
        time.sleep(0.3)  # the poll is held
        _alert(collector, "v2")
        took = _until(lambda: router.table is not None and not router.table.healthy("v2"), 5.0)
        assert took is not None and took < 2.0


def test_router_picks_up_a_routing_change_within_two_seconds_of_the_collector_return(
    collector: RunningCollector,
) -> None:
    collector.register(MODEL, ["v1", "v2"])
    with Client(collector.url, collector.ingest_key) as client:
        router = client.router(MODEL)  # the default backoff
        assert router.choose("anyone").version == "v1"
        collector.process.stop()
        time.sleep(6.0)  # an outage long enough for a 30 s backoff cap to reach 6.4 s
        collector.process.start()
        back = time.monotonic()
        _routing(collector, v1=("challenger", 0), v2=("champion", 100))
        took = _until(lambda: router.choose("anyone").version == "v2", 10.0)
        assert took is not None
        assert time.monotonic() - back < 2.0


def test_router_of_a_process_started_while_the_collector_is_down_serves_its_fallback(
    collector: RunningCollector,
) -> None:
    collector.register(MODEL, ["v1", "v2"], champion="v2")
    collector.process.stop()
    with Client(collector.url, collector.ingest_key) as client:
        started = time.monotonic()
        router = client.router(MODEL, fallback_version="v1")
        assert time.monotonic() - started < 1.0  # no error, no 5 s wait
        assert router.table is None
        assert {router.choose(f"user-{i}").version for i in range(100)} == {"v1"}
        collector.process.start()
        took = _until(lambda: router.choose("anyone").version == "v2", 5.0)
        assert took is not None and took < 2.0
        assert router.table is not None and router.table.fallback == "v2"
