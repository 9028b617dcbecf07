"""The SDK router against a collector stand-in on 127.0.0.1 that serves the routing
contract (ETag, ``If-None-Match`` long-poll, 304) and takes ingest batches."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import pytest

import mlpulse
from mlpulse.domain.events import Batch, Outcome
from mlpulse.domain.ingest import IngestResult
from mlpulse.errors import ConfigurationError, ParameterError
from mlpulse.sdk.circuit import CircuitBreaker
from mlpulse.sdk.router import Router
from mlpulse.sdk.routing_table import Choice, bucket

FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_cap": 0.05}


class Collector:
    """Serves ``GET /v1/routing/recs`` as the contract says, and ``POST /v1/ingest``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.revision = 1
        self.entries: list[dict[str, Any]] = []
        self.fallback: str | None = None
        self.health: dict[str, dict[str, Any]] = {}
        self.changed = threading.Condition()
        self.outcomes: list[Outcome] = []
        self.polls: list[dict[str, str]] = []
        self.gets = 0
        self.stopping = False
        self.connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self.set(("v1", "champion", 50), ("v2", "challenger", 50), fallback="v1")

    def set(
        self,
        *entries: tuple[str, str, int],
        fallback: str | None = None,
        unhealthy: tuple[str, ...] = (),
    ) -> None:
        """A new table (the stand-in's revision also moves when only health changes)."""
        with self.changed:
            self.revision += 1
            self.entries = [{"version": v, "stage": s, "weight": w} for v, s, w in entries]
            self.fallback = fallback
            self.health = {
                v: {"healthy": v not in unhealthy, "alerts": ["errors"] if v in unhealthy else []}
                for v, _, _ in entries
            }
            self.changed.notify_all()

    def body(self) -> bytes:
        table = {"model": "recs", "revision": self.revision, "entries": self.entries}
        more = {"updated_at": time.time(), "fallback": self.fallback, "health": self.health}
        return msgspec.json.encode(table | more)

    def answer_get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        self.gets += 1
        url = urlsplit(path)
        if headers.get("Authorization") != "Bearer test-key":
            return 401, b'{"detail": "unknown key"}'
        if url.path != "/v1/routing/recs":
            return 404, b'{"detail": "no such model"}'
        wait = min(float(parse_qs(url.query).get("wait", ["0"])[0]), 30.0)
        with self.changed:
            self.polls.append(headers)
            seen = headers.get("If-None-Match")
            self.changed.wait_for(
                lambda: self.stopping or seen != f'"{self.revision}"', timeout=wait
            )
            if seen == f'"{self.revision}"':
                return 304, b""
            return 200, self.body()

    def up(self) -> None:
        collector = self
        self.stopping = False

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1

            def setup(self) -> None:
                super().setup()
                collector.connections.add(self.connection)

            def finish(self) -> None:
                super().finish()
                collector.connections.discard(self.connection)

            def do_GET(self) -> None:
                status, body = collector.answer_get(self.path, dict(self.headers))
                self.send_response(status)
                if status in (200, 304):
                    self.send_header("ETag", f'"{collector.revision}"')
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                batch = msgspec.msgpack.decode(raw, type=Batch)
                collector.outcomes.extend(e for e in batch.events if isinstance(e, Outcome))
                result = IngestResult(batch_id=batch.batch_id or "", accepted=len(batch.events))
                body = msgspec.json.encode(result)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}).start()

    def down(self) -> None:
        with self.changed:
            self.stopping = True  # ends the polls it holds
            self.changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            for connection in list(self.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def unit_on(version: str, share_v1: int = 50) -> str:
    """A unit id the 50/50 table of the stand-in sends to ``version``."""
    for i in range(1000):
        on_v1 = bucket("recs", f"u{i}") < share_v1 * 100
        if on_v1 == (version == "v1"):
            return f"u{i}"
    raise AssertionError("unreachable")


@pytest.fixture
def collector() -> Iterator[Collector]:
    collector = Collector(free_port())
    collector.up()
    yield collector
    collector.down()


@pytest.fixture
def client(collector: Collector) -> Iterator[mlpulse.Client]:
    client = mlpulse.Client(collector.url, "test-key", flush_interval=0.02, **FAST)
    yield client
    client.close(timeout=0.5)


def test_router_chooses_by_the_table_and_reports_shadows(
    collector: Collector, client: mlpulse.Client
) -> None:
    collector.set(("v1", "champion", 50), ("v2", "challenger", 50), ("v3", "shadow", 0))
    router = client.router("recs", **FAST)
    assert router.table is not None and router.table.revision == collector.revision
    assert router.choose(unit_on("v1")).version == "v1"
    assert router.choose(unit_on("v2")).version == "v2"
    assert router.choose("anyone").shadows == ("v3",)
    assert client.router("recs") is router  # one router per model


def test_router_sees_a_weight_change_within_a_second_by_long_poll(
    collector: Collector, client: mlpulse.Client
) -> None:
    router = client.router("recs", **FAST)
    unit = unit_on("v2")
    assert router.choose(unit).version == "v2"
    time.sleep(0.2)  # let the router's poll be held by the collector
    assert collector.polls[-1].get("If-None-Match") == f'"{collector.revision}"'
    collector.set(("v1", "champion", 100), ("v2", "challenger", 0), fallback="v1")
    started = time.monotonic()
    assert wait_for(lambda: router.choose(unit).version == "v1", timeout=1.0)
    assert time.monotonic() - started < 1.0
    assert len(collector.polls) <= 4  # held polls, not a tight loop


def test_router_keeps_serving_its_last_copy_while_the_collector_is_down(
    collector: Collector, client: mlpulse.Client
) -> None:
    router = client.router("recs", **FAST)
    revision = collector.revision
    collector.down()
    time.sleep(0.3)  # several failed polls with backoff
    assert router.table is not None and router.table.revision == revision
    assert router.choose(unit_on("v2")).version == "v2"
    collector.set(("v1", "champion", 100), fallback="v1")
    collector.up()  # back on the same port: the router retries and catches up
    assert wait_for(lambda: router.choose(unit_on("v2")).version == "v1", timeout=2.0)


def test_router_falls_back_when_a_breaker_opens_and_reports_the_trip(
    collector: Collector, client: mlpulse.Client
) -> None:
    router = client.router(
        "recs", breaker=lambda: CircuitBreaker(min_calls=5, open_s=0.3, half_open_calls=2)
    )
    unit = unit_on("v2")
    for _ in range(5):
        router.record("v2", ok=False, latency_ms=3.0)
    choice = router.choose(unit)
    assert (choice.version, choice.fallback_from) == ("v1", "v2")
    time.sleep(0.35)  # half-open: two probes go to v2 again
    assert [router.choose(unit).version for _ in range(3)] == ["v2", "v2", "v1"]
    router.record("v2", ok=True)
    router.record("v2", ok=True)
    assert router.choose(unit) == router.choose(unit_on("v2"))
    assert router.choose(unit).fallback_from is None
    assert client.flush(timeout=2.0)
    reported = [(o.name, o.model, o.version, o.value) for o in collector.outcomes]
    assert reported == [("circuit_open", "recs", "v2", 1.0), ("circuit_closed", "recs", "v2", 1.0)]


def test_router_falls_back_to_the_healthiest_version_without_a_table_fallback(
    collector: Collector, client: mlpulse.Client
) -> None:
    collector.set(("a", "champion", 40), ("b", "challenger", 30), ("c", "challenger", 30))
    router = client.router("recs", breaker=lambda: CircuitBreaker(min_calls=4))
    router.record("b", ok=True)
    for ok in (True, True, False):
        router.record("c", ok=ok)
    for _ in range(4):
        router.record("a", ok=False)
    unit = next(f"u{i}" for i in range(1000) if router.choose(f"u{i}").fallback_from == "a")
    assert router.choose(unit).version == "b"  # no failures, where c has a third


def test_router_keeps_the_chosen_version_when_no_other_is_healthy(
    collector: Collector, client: mlpulse.Client
) -> None:
    router = client.router("recs", breaker=lambda: CircuitBreaker(min_calls=1))
    router.record("v1", ok=False)
    router.record("v2", ok=False)
    choice = router.choose(unit_on("v2"))
    assert (choice.version, choice.fallback_from) == ("v2", None)


def test_router_raises_a_clear_error_for_an_unknown_model(
    collector: Collector, client: mlpulse.Client
) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match=r"model 'nope'.*HTTP 404.*no such model"):
        client.router("nope", ready_timeout=3.0)
    assert time.monotonic() - started < 1.0  # a 404 will not change: no need to wait


def test_router_raises_when_no_table_arrives_in_time() -> None:
    with pytest.raises(ConfigurationError, match=r"within 0\.2 s"):
        Router(f"http://127.0.0.1:{free_port()}", "k", "recs", ready_timeout=0.2, **FAST)


def test_router_without_waiting_raises_on_choose_until_ready(collector: Collector) -> None:
    router = Router(collector.url, "test-key", "recs", ready_timeout=0.0, **FAST)
    try:
        assert router.wait_until_ready(2.0)
        assert router.choose("u1").version in ("v1", "v2")
    finally:
        router.close()
    lazy = Router(f"http://127.0.0.1:{free_port()}", "k", "recs", ready_timeout=0.0, **FAST)
    try:
        with pytest.raises(ConfigurationError, match="no routing table yet"):
            lazy.choose("u1")
    finally:
        lazy.close()


def test_router_is_closed_with_its_client(collector: Collector) -> None:
    client = mlpulse.Client(collector.url, "test-key")
    router = client.router("recs", **FAST)
    thread = router._thread
    client.close(timeout=1.0)
    assert not thread.is_alive()
    assert router.choose("u1").version in ("v1", "v2")  # the last copy stays readable


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"wait": 31.0}, "wait"),
        ({"backoff_cap": 0.001}, "backoff_cap"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_router_rejects_bad_options(
    collector: Collector, client: mlpulse.Client, options: dict[str, Any], name: str
) -> None:
    with pytest.raises(ParameterError, match=rf"The '{name}' parameter of Router"):
        client.router("recs", **options)


def test_client_router_rejects_options_for_a_model_that_has_a_router(
    collector: Collector, client: mlpulse.Client
) -> None:
    client.router("recs")
    with pytest.raises(ParameterError, match="already has a router"):
        client.router("recs", wait=1.0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")
def test_router_made_before_fork_refreshes_in_the_child(
    collector: Collector, client: mlpulse.Client
) -> None:
    router = client.router("recs", **FAST)
    unit = unit_on("v2")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which never returns to pytest
        code = 1
        try:
            os.close(read_end)
            os.write(write_end, b"1")
            served = router.choose(unit).version == "v2"  # the last copy came along
            moved = wait_for(lambda: router.choose(unit).version == "v1", timeout=3.0)
            code = 0 if served and moved else 2
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        assert pipe.read(1) == b"1"
    collector.set(("v1", "champion", 100), fallback="v1")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# -- exposures ---------------------------------------------------------------------------


def _exposures(collector: Collector) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(o.name, o.model, o.version, o.unit_id) for o in collector.outcomes if o.name == "seen"]


def test_router_logs_nothing_when_exposure_is_off(
    collector: Collector, client: mlpulse.Client
) -> None:
    router = client.router("recs", **FAST)
    for i in range(20):
        router.choose(f"u{i}")
    assert client.flush(timeout=2.0)
    assert collector.outcomes == []


def test_router_logs_one_exposure_per_unit_and_version_when_asked(
    collector: Collector, client: mlpulse.Client
) -> None:
    router = client.router("recs", exposure="seen", **FAST)
    one, two = unit_on("v1"), unit_on("v2")
    for _ in range(3):
        assert router.choose(one).version == "v1"
        assert router.choose(two).version == "v2"
    assert client.flush(timeout=2.0)
    assert _exposures(collector) == [("seen", "recs", "v1", one), ("seen", "recs", "v2", two)]
    assert all(o.value == 1.0 for o in collector.outcomes)
    collector.set(("v1", "champion", 100), fallback="v1")  # ``two`` moves to v1: a new pair
    assert wait_for(lambda: router.choose(two).version == "v1")
    router.choose(two)
    assert client.flush(timeout=2.0)
    assert _exposures(collector)[2:] == [("seen", "recs", "v1", two)]


def test_router_logs_the_fallback_version_as_the_exposure(
    collector: Collector, client: mlpulse.Client
) -> None:
    router = client.router("recs", exposure="seen", breaker=lambda: CircuitBreaker(min_calls=1))
    router.record("v2", ok=False)
    unit = unit_on("v2")
    assert router.choose(unit).fallback_from == "v2"
    assert client.flush(timeout=2.0)
    assert _exposures(collector) == [("seen", "recs", "v1", unit)]


def test_router_logs_a_unit_again_once_it_is_evicted_from_its_memory(
    collector: Collector, client: mlpulse.Client
) -> None:
    router = client.router("recs", exposure="seen", exposure_memory=2)
    a, b, c = "x-a", "x-b", "x-c"
    for unit in (a, b, a, c, a, b):  # a stays recent; b is evicted by c, then seen again
        router.choose(unit)
    assert client.flush(timeout=2.0)
    assert [unit for *_, unit in _exposures(collector)] == [a, b, c, b]


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"exposure": ""}, "exposure"),
        ({"exposure": 3}, "exposure"),
        ({"exposure": "seen", "exposure_memory": 0}, "exposure_memory"),
        ({"exposure_memory": True}, "exposure_memory"),
    ],
)
def test_router_rejects_bad_exposure_options(
    collector: Collector, client: mlpulse.Client, options: dict[str, Any], name: str
) -> None:
    with pytest.raises(ParameterError, match=rf"The '{name}' parameter of Router"):
        client.router("recs", **options)


def test_router_made_without_a_client_refuses_exposure_it_cannot_log(
    collector: Collector,
) -> None:
    with pytest.raises(ParameterError, match=r"'exposure' parameter of Router.*Client\.router"):
        Router(collector.url, "test-key", "recs", exposure="seen")


def test_router_never_falls_back_to_a_version_the_table_holds_unhealthy(
    collector: Collector, client: mlpulse.Client
) -> None:
    # v1 is the table's fallback (the champion), but a critical alert of v1 fires.
    collector.set(
        ("v1", "champion", 50), ("v2", "challenger", 50), ("v3", "challenger", 0),
        fallback="v1", unhealthy=("v1",),
    )  # fmt: skip
    router = client.router("recs", breaker=lambda: CircuitBreaker(min_calls=3))
    assert router.table is not None and not router.table.healthy("v1")
    for _ in range(3):
        router.record("v2", ok=False)
    units = [f"u{i}" for i in range(300)]
    served = {router.choose(u).version for u in units if bucket("recs", u) >= 5000}
    assert served == {"v3"}  # every call of v2 goes to the healthy v3, none to v1


def test_router_falls_back_to_an_unhealthy_version_only_when_no_healthy_one_is_left(
    collector: Collector, client: mlpulse.Client
) -> None:
    collector.set(("v1", "champion", 50), ("v2", "challenger", 50), fallback="v1",
                  unhealthy=("v1",))  # fmt: skip
    router = client.router("recs", breaker=lambda: CircuitBreaker(min_calls=3))
    for _ in range(3):
        router.record("v2", ok=False)
    choice = router.choose(unit_on("v2"))
    assert (choice.version, choice.fallback_from) == ("v1", "v2")


def test_router_sees_a_version_turn_unhealthy_by_long_poll(
    collector: Collector, client: mlpulse.Client
) -> None:
    router = client.router("recs", **FAST)
    assert router.table is not None and router.table.healthy("v1")
    time.sleep(0.2)  # the poll is held
    collector.set(("v1", "champion", 50), ("v2", "challenger", 50), fallback="v1",
                  unhealthy=("v1",))  # fmt: skip
    assert wait_for(lambda: router.table is not None and not router.table.healthy("v1"), 1.0)


def test_router_starts_on_its_fallback_version_while_no_collector_answers(
    collector: Collector,
) -> None:
    collector.down()
    started = time.monotonic()
    router = Router(collector.url, "test-key", "recs", fallback_version="v9", **FAST)
    try:
        assert time.monotonic() - started < 1.0  # no 5 s wait: the one URL refused at once
        assert router.table is None
        assert router.choose("anyone") == Choice("v9")
        collector.set(("v1", "champion", 100), fallback="v1")
        collector.up()
        assert wait_for(lambda: router.choose("anyone").version == "v1", timeout=2.0)
    finally:
        router.close()


def test_router_with_a_fallback_version_waits_for_a_collector_that_answers(
    collector: Collector,
) -> None:
    router = Router(collector.url, "test-key", "recs", fallback_version="v9", **FAST)
    try:
        assert router.table is not None  # the table came before the constructor returned
        assert router.choose(unit_on("v2")).version == "v2"
    finally:
        router.close()


def test_router_rejects_a_bad_fallback_version() -> None:
    with pytest.raises(ParameterError, match="The 'fallback_version' parameter of Router"):
        Router(f"http://127.0.0.1:{free_port()}", "k", "recs", fallback_version="")


def test_router_polls_the_next_url_when_the_first_is_down(collector: Collector) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    router = Router([dead, collector.url], "test-key", "recs", **FAST)
    try:
        assert router.table is not None and router.table.revision == collector.revision
        time.sleep(0.2)  # the poll is held by the live collector, not retried on the dead one
        collector.set(("v1", "champion", 100), fallback="v1")
        assert wait_for(lambda: router.choose(unit_on("v2")).version == "v1", timeout=1.0)
    finally:
        router.close()


def test_router_backs_off_at_most_about_a_second_by_default(
    collector: Collector, client: mlpulse.Client
) -> None:
    router = client.router("recs")  # the default backoff
    collector.down()
    time.sleep(4.0)  # long enough for a 30 s cap to have grown past 3 s
    collector.set(("v1", "champion", 100), fallback="v1")
    collector.up()
    back = time.monotonic()
    assert wait_for(lambda: router.choose(unit_on("v2")).version == "v1", timeout=3.0)
    assert time.monotonic() - back < 1.5


def test_router_moves_its_held_poll_to_the_next_url_when_its_collector_goes_down(
    collector: Collector,
) -> None:
    other = Collector(free_port())
    other.up()
    router = Router([collector.url, other.url], "test-key", "recs", **FAST)
    try:
        time.sleep(0.2)  # the poll is held by the first collector
        collector.down()
        other.set(("v1", "champion", 100), fallback="v1")
        assert wait_for(lambda: router.choose(unit_on("v2")).version == "v1", timeout=1.0)
    finally:
        router.close()
        other.down()


def test_router_with_a_fallback_version_polls_slowly_for_a_model_not_registered(
    collector: Collector,
) -> None:
    started = time.monotonic()
    router = Router(collector.url, "test-key", "other", fallback_version="v1", **FAST)
    try:
        assert time.monotonic() - started < 1.0  # the 404 answered at once
        assert router.choose("anyone").version == "v1"
        time.sleep(1.0)
        assert collector.gets == 1  # the next poll comes 5 to 10 s later, not every second
    finally:
        router.close()
