"""The SDK router's circuit breaker against a real collector: a champion that starts
failing is cut off within the breaker's window, its traffic goes to the other version at
once, it is probed again after ``open_s`` and, healthy, gets its traffic back; the trip and
the recovery reach the collector as outcomes the dashboard's business view shows."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from mlpulse import Client
from mlpulse.sdk.circuit import CircuitBreaker
from mlpulse.sdk.router import Router
from mlpulse.sdk.routing_table import Choice
from tests.conftest import RunningCollector

MODEL = "recs"
MIN_CALLS = 10  # the breaker trips on 50 % failures once its window holds this many calls
OPEN_S = 0.5
HALF_OPEN_CALLS = 2
PACE_S = 0.005  # about 200 requests a second
DEADLINE_S = 15.0  # for anything that waits on the collector or the clock

T = TypeVar("T")


@dataclass
class Service:
    """A serving process's request path: route, call the chosen version, feed its
    breaker, log the prediction."""

    client: Client
    router: Router
    broken: set[str] = field(default_factory=set)
    served: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    requests: int = 0

    def route(self) -> Choice:
        self.requests += 1
        return self.router.choose(f"user-{self.requests}")

    def finish(self, choice: Choice) -> bool:
        """Call the chosen version; whether it answered."""
        ok = choice.version not in self.broken
        self.router.record(choice.version, ok=ok, latency_ms=3.0)
        self.served[choice.version] += 1
        if not ok:
            self.failed[choice.version] += 1
        error = None if ok else "RuntimeError: model crashed"
        self.client.log_prediction(MODEL, choice.version, {"x": 1.0}, 1.0, latency_ms=3.0,
                                   error=error)  # fmt: skip
        return ok

    def serve(self) -> Choice:
        choice = self.route()
        self.finish(choice)
        time.sleep(PACE_S)
        return choice


def _poll(read: Callable[[], T], done: Callable[[T], bool]) -> T:
    """``read()`` until ``done`` holds or the deadline passes; the last reading."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        seen = read()
        if done(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


def _state(router: Router, version: str) -> str | None:
    """The state of ``version``'s breaker now (None before a call to it was recorded)."""
    found = router.breaker(version)
    return None if found is None else found.state


def _log_in(http: httpx.Client, key: str) -> None:
    """As the browser does: the login form's CSRF token (and its cookie), then the key."""
    form = http.get("/login")
    assert form.status_code == 200, form.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    answer = http.post(
        "/login", data={"api_key": key, "csrf_token": token.group(1), "next": "/business"}
    )
    assert (answer.status_code, answer.headers.get("location")) == (303, "/business"), answer.text


def _kpis(http: httpx.Client) -> dict[str, tuple[str, float]]:
    """The business view's KPI panels of the model: title → (unit, total over the range)."""
    response = http.get("/ui/data/business/kpis", params={"model": MODEL, "range": "1h"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    totals = {s["name"]: sum(v or 0.0 for _, v in s["data"]) for s in body["series"]}
    return {
        p["title"]: (p["unit"], sum(totals[name] for name in p["series"])) for p in body["panels"]
    }


def _traffic(collector: RunningCollector) -> dict[str, tuple[int, int]]:
    """``/v1/models/{model}/summary`` over the last hour: version → (predictions, errors)."""
    response = httpx.get(
        f"{collector.url}/v1/models/{MODEL}/summary",
        params={"window": "1h"},
        headers=collector.headers(collector.read_key),
    )
    if response.status_code == 404:  # no prediction of the model stored yet
        return {}
    assert response.status_code == 200, response.text
    return {v["version"]: (v["count"], v["errors"]) for v in response.json()["versions"]}


def test_breaker_trips_falls_back_at_once_recovers_and_the_user_sees_both_events(
    collector: RunningCollector,
) -> None:
    admin = collector.headers(collector.admin_key)
    collector.register(MODEL, ["v1", "v2"], champion="v2")
    # The table's fallback is always the champion (v2 here). When the champion's own
    # breaker opens, the router falls back to the other routed version: v1, the old
    # champion, kept as a challenger at weight 0.
    table = httpx.get(f"{collector.url}/v1/routing/{MODEL}", headers=admin).json()
    entries = {e["version"]: (e["stage"], e["weight"]) for e in table["entries"]}
    assert entries == {"v2": ("champion", 100), "v1": ("challenger", 0)}
    assert table["fallback"] == "v2"

    def breaker() -> CircuitBreaker:
        return CircuitBreaker(window_s=30.0, min_calls=MIN_CALLS, error_rate=0.5,
                              open_s=OPEN_S, half_open_calls=HALF_OPEN_CALLS)  # fmt: skip

    with Client(collector.url, collector.ingest_key, flush_interval=0.05) as client:
        router = client.router(MODEL, breaker=breaker)
        service = Service(client, router)

        # v2 serves well: the window fills with MIN_CALLS successes.
        for _ in range(MIN_CALLS):
            choice = service.serve()
            assert (choice.version, choice.fallback_from) == ("v2", None)
        assert _state(router, "v2") == "closed"

        # v2 starts failing. With MIN_CALLS successes in the window, the failure share
        # reaches 50 % at exactly the MIN_CALLS-th failure; until then v2 keeps serving.
        service.broken.add("v2")
        failures = 0
        first_failure_at: float | None = None
        last_failure_at = 0.0  # just before the failure that tripped the breaker was recorded
        while True:
            choice = service.route()
            if choice.version != "v2":
                break
            assert choice.fallback_from is None
            failures += 1
            assert failures <= MIN_CALLS, "the breaker did not open within min_calls failures"
            last_failure_at = time.monotonic()
            if first_failure_at is None:
                first_failure_at = last_failure_at
            service.finish(choice)
            time.sleep(PACE_S)
        first_fallback_at = time.monotonic()
        # The very next request after the trip goes to v1, marked as a fallback from v2.
        assert (choice.version, choice.fallback_from) == ("v1", "v2")
        assert failures == MIN_CALLS
        assert first_failure_at is not None
        measured = first_fallback_at - first_failure_at
        print(
            f"first failure → first fallback choice: {measured * 1000:.1f} ms "
            f"({failures} failed calls at ~{1 / PACE_S:.0f}/s; trip → fallback "
            f"{(first_fallback_at - last_failure_at) * 1000:.1f} ms)"
        )
        assert measured < 2.0, f"first failure → fallback took {measured:.2f} s"
        service.finish(choice)
        service.broken.discard("v2")  # v2 is fixed while it is out of rotation

        # Open: every request goes to v1 until OPEN_S after the trip, then v2 is probed.
        while True:
            time.sleep(PACE_S)
            choice = service.route()
            if choice.version == "v2":
                break
            assert (choice.version, choice.fallback_from) == ("v1", "v2")
            assert time.monotonic() - last_failure_at < DEADLINE_S, "never probed v2 again"
            service.finish(choice)
        probed_after = time.monotonic() - last_failure_at
        assert probed_after >= OPEN_S, f"v2 was probed {probed_after:.3f} s after the trip"
        assert choice.fallback_from is None

        # Half-open: HALF_OPEN_CALLS probes get through; a request arriving while they are
        # in flight still goes to v1. Both probes succeed and the breaker closes.
        probes = [choice, service.route()]
        during_probes = service.route()
        assert [(p.version, p.fallback_from) for p in probes] == [("v2", None)] * HALF_OPEN_CALLS
        assert (during_probes.version, during_probes.fallback_from) == ("v1", "v2")
        assert service.finish(during_probes)
        assert service.finish(probes[0]) and _state(router, "v2") == "half_open"
        assert service.finish(probes[1]) and _state(router, "v2") == "closed"

        # Closed: traffic is back on v2, no longer as a fallback.
        for _ in range(20):
            choice = service.serve()
            assert (choice.version, choice.fallback_from) == ("v2", None)

        assert client.flush(timeout=DEADLINE_S)
        stats = client.stats()
        assert (stats.rejected, stats.dropped) == (0, 0)

    assert service.failed == Counter({"v2": MIN_CALLS})
    assert service.served["v2"] == MIN_CALLS + MIN_CALLS + HALF_OPEN_CALLS + 20
    served = {v: (service.served[v], service.failed[v]) for v in ("v1", "v2")}

    # What a user sees. The business view shows each outcome as an hourly KPI: one trip
    # and one recovery (its data does not split KPIs by version: that is in the events).
    with httpx.Client(base_url=collector.url, follow_redirects=False, timeout=10.0) as http:
        _log_in(http, collector.read_key)
        wanted = {"circuit_open", "circuit_closed"}
        kpis = _poll(lambda: _kpis(http), lambda seen: wanted <= set(seen))
    assert kpis == {
        "circuit_closed": ("sum per hour", 1.0),
        "circuit_open": ("sum per hour", 1.0),
    }, kpis
    # And the model's summary shows where the traffic went: v1 served the fallback calls.
    traffic = _poll(lambda: _traffic(collector), lambda seen: seen == served)
    assert traffic == served
