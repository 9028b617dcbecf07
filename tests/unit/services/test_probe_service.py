"""The probe service: due probes sent at once, graded, written; a hung one bounded."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from mlpulse.domain.config_decode import decode_config
from mlpulse.domain.monitoring import Config
from mlpulse.domain.probes import ProbeResponse
from mlpulse.services.probes import GRACE_S, ProbeService
from mlpulse.testing.fakes import InMemorySeriesStore

T0 = 1_800_000_000.0


class _Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


class _Http:
    """Answers each URL with ``answer(url)``; records every request."""

    def __init__(self, answer: Callable[[str], ProbeResponse]) -> None:
        self.answer = answer
        self.sent: list[tuple[str, str, dict[str, str], str | None, float]] = []

    def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: str | None,
        timeout_s: float,
    ) -> ProbeResponse:  # fmt: skip
        self.sent.append((method, url, dict(headers), body, timeout_s))
        return self.answer(url)


def _config(**probes: dict[str, Any]) -> Config:
    config, problems = decode_config({"version": 1, "probes": probes})
    assert problems == []
    return config


def _latest(series: InMemorySeriesStore, name: str) -> dict[str, tuple[float, float]]:
    points = series.query_points(name, matchers={}, start=0.0, end=4e9)
    return {p.labels["probe"]: (p.ts, p.value) for p in points}


def test_probe_service_writes_success_latency_and_status_with_probe_and_model_labels() -> None:
    series, clock = InMemorySeriesStore(), _Clock(T0)
    http = _Http(lambda url: ProbeResponse(200, "ok", 0.042) if url.endswith("/up")
                 else ProbeResponse(503, "down", 0.010))  # fmt: skip
    config = _config(
        up={"url": "http://h/up", "model": "fraud", "body_contains": "ok"},
        down={"url": "http://h/down", "method": "POST", "body": "{}",
              "headers": {"Content-Type": "application/json"}, "timeout": "2s"},
    )  # fmt: skip
    service = ProbeService(series, clock, lambda: config, http)
    report = service.tick()
    assert [(r.probe, r.outcome.success) for r in report.runs] == [("down", False), ("up", True)]
    assert report.points == 6
    assert _latest(series, "mlpulse_probe_success") == {"up": (T0, 1.0), "down": (T0, 0.0)}
    assert _latest(series, "mlpulse_probe_latency_seconds") == {
        "up": (T0, 0.042), "down": (T0, 0.010)}  # fmt: skip
    assert _latest(series, "mlpulse_probe_status_code") == {"up": (T0, 200.0), "down": (T0, 503.0)}
    up = series.query_points("mlpulse_probe_success", matchers={"probe": "up"}, start=0, end=4e9)
    assert up[0].labels == {"probe": "up", "model": "fraud"}
    assert sorted(http.sent) == [
        ("GET", "http://h/up", {}, None, 5.0),
        ("POST", "http://h/down", {"Content-Type": "application/json"}, "{}", 2.0),
    ]
    assert service.latest["down"].outcome.reason == "status 503, expected 200"
    service.close()


def test_probe_service_runs_a_probe_only_when_every_has_passed() -> None:
    series, clock = InMemorySeriesStore(), _Clock(T0)
    http = _Http(lambda url: ProbeResponse(200, "", 0.001))
    config = _config(fast={"url": "http://h/fast", "every": "10s", "timeout": "1s"},
                     slow={"url": "http://h/slow", "every": "30s"})  # fmt: skip
    service = ProbeService(series, clock, lambda: config, http)
    ran = []
    for step in range(7):  # ticks every 10 s over a minute
        clock.t = T0 + 10.0 * step
        ran.append([r.probe for r in service.tick().runs])
    assert ran == [["fast", "slow"], ["fast"], ["fast"], ["fast", "slow"], ["fast"], ["fast"],
                   ["fast", "slow"]]  # fmt: skip
    service.close()


def test_probe_service_sends_due_probes_concurrently() -> None:
    both = threading.Barrier(2, timeout=2.0)  # broken unless the two requests overlap

    def answer(url: str) -> ProbeResponse:
        both.wait()
        return ProbeResponse(200, "", 0.001)

    series = InMemorySeriesStore()
    config = _config(a={"url": "http://h/a"}, b={"url": "http://h/b"})
    service = ProbeService(series, _Clock(T0), lambda: config, _Http(answer))
    assert [r.outcome.success for r in service.tick().runs] == [True, True]
    service.close()


def test_probe_service_bounds_the_tick_by_the_timeout_when_a_request_hangs() -> None:
    release = threading.Event()

    def answer(url: str) -> ProbeResponse:
        if url.endswith("/hang"):
            release.wait(10.0)
        return ProbeResponse(200, "", 0.001)

    series, clock = InMemorySeriesStore(), _Clock(T0)
    http = _Http(answer)
    config = _config(hang={"url": "http://h/hang", "every": "1s", "timeout": "1s"},
                     ok={"url": "http://h/ok", "every": "1s", "timeout": "1s"})  # fmt: skip
    service = ProbeService(series, clock, lambda: config, http)
    started = time.monotonic()
    runs = {r.probe: r for r in service.tick().runs}
    assert time.monotonic() - started < 1.0 + GRACE_S + 0.5
    assert (runs["hang"].outcome.success, runs["hang"].response.status) == (False, None)
    assert runs["hang"].outcome.reason == "no answer: timed out"
    assert runs["ok"].outcome.success
    assert _latest(series, "mlpulse_probe_status_code")["hang"] == (T0, 0.0)
    assert _latest(series, "mlpulse_probe_latency_seconds")["hang"] == (T0, 1.0)
    clock.t = T0 + 2.0  # still out: not sent again
    assert [r.probe for r in service.tick().runs] == ["ok"]
    release.set()
    time.sleep(0.2)
    clock.t = T0 + 4.0
    assert [r.probe for r in service.tick().runs] == ["hang", "ok"]
    assert [url for _, url, *_ in http.sent].count("http://h/hang") == 2
    service.close()


def test_probe_service_forgets_a_probe_removed_from_the_config() -> None:
    series, clock = InMemorySeriesStore(), _Clock(T0)
    configs = [_config(a={"url": "http://h/a"}), _config()]
    service = ProbeService(series, clock, lambda: configs[0], _Http(
        lambda url: ProbeResponse(200, "", 0.001)))  # fmt: skip
    assert service.tick().points == 3
    configs.pop(0)
    clock.t = T0 + 60.0
    assert service.tick().runs == [] and service.latest == {}
    service.close()


def test_probe_service_counts_a_raising_requester_as_a_failure() -> None:
    def answer(url: str) -> ProbeResponse:
        raise RuntimeError("broken adapter")

    series = InMemorySeriesStore()
    config = _config(a={"url": "http://h/a"})
    service = ProbeService(series, _Clock(T0), lambda: config, _Http(answer))
    (run,) = service.tick().runs
    assert (run.outcome.success, run.outcome.reason) == (False, "no answer: RuntimeError")
    service.close()


def test_probe_service_writes_nothing_for_a_probe_the_busy_pool_never_sent() -> None:
    release = threading.Event()

    def answer(url: str) -> ProbeResponse:
        if url.endswith("/hang"):
            release.wait(10.0)
        return ProbeResponse(200, "", 0.001)

    series, clock = InMemorySeriesStore(), _Clock(T0)
    config = _config(a={"url": "http://h/hang", "every": "1s", "timeout": "1s"},
                     b={"url": "http://h/ok", "every": "1s", "timeout": "1s"})  # fmt: skip
    service = ProbeService(series, clock, lambda: config, _Http(answer), max_workers=1)
    report = service.tick()  # a holds the only worker past the timeout; b never starts
    assert [r.probe for r in report.runs] == ["a"] and report.not_sent == ["b"]
    assert set(_latest(series, "mlpulse_probe_success")) == {"a"}
    release.set()
    time.sleep(0.2)
    clock.t = T0 + 0.1  # b is due at once; a is not (every 1s)
    assert [r.probe for r in service.tick().runs] == ["b"]
    service.close()
