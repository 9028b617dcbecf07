"""The SDK router: which version serves a request, from a routing table kept fresh.

A daemon thread long-polls ``GET {url}/v1/routing/{model}?wait=25`` with
``If-None-Match`` set to the last answer's ``ETag``: the collector answers 304 when
nothing changed within the wait, and 200 with the new table at once when something did.
:meth:`Router.choose` reads the last table it got (one attribute read, no lock, no I/O)
and hashes the unit id over it (:func:`mlpulse.sdk.routing_table.choose`). When the
collector is slow or down the router keeps serving from that copy and retries with
full-jitter backoff capped at ``backoff_cap`` (1 s by default, so a change made while
the collector was down arrives within about a second of its return). With several
collector URLs a poll that gets no answer (or a 5xx) moves to the next URL at once
(:mod:`mlpulse.sdk.endpoints`).

A router made with ``fallback_version`` starts even when no collector answers: it serves
that version until the first table arrives, then follows the table.

Each version has a :class:`~mlpulse.sdk.circuit.CircuitBreaker` fed by
:meth:`Router.record`. While the chosen version's breaker is open, calls go to the
table's ``fallback`` (or else the healthiest other champion or challenger), and the
trip and the recovery are logged as ``circuit_open`` / ``circuit_closed`` outcomes.
The table says which versions the collector holds unhealthy (a critical alert of that
version fires): the router never falls back to one of them while a healthy one is left.

Exposures (opt-in, ``exposure="exposure"``): :meth:`Router.choose` logs the outcome
``exposure`` the first time it sends a unit to a version (:mod:`mlpulse.sdk.exposures`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Final, TypedDict
from urllib.parse import quote

import httpx
import msgspec

from mlpulse.domain.events import MAX_NAME_LENGTH
from mlpulse.errors import ConfigurationError, parameter_error
from mlpulse.sdk.backoff import Backoff
from mlpulse.sdk.circuit import CircuitBreaker
from mlpulse.sdk.endpoints import Endpoints, split_urls
from mlpulse.sdk.exposures import Expose, Exposures, check_exposure
from mlpulse.sdk.options import check_seconds
from mlpulse.sdk.routing_table import Choice, RoutingTable, check_routable, choose
from mlpulse.sdk.transport import USER_AGENT

_LOG = logging.getLogger("mlpulse.sdk")
ROUTING_PATH: Final = "/v1/routing/"
MAX_WAIT: Final = 30.0
# Answers that another collector may not give: tried there at once.
_FAILOVER_STATUSES: Final = frozenset({408, 425, 429})
# After an answer that will not change soon (401, 403, 404: a router with a fallback
# version keeps polling for a model not registered yet), the next poll comes this many
# seconds later, give or take half: a fleet of such routers must not poll every second.
_REFUSED_WAIT: Final = 10.0
# Polls that find nothing new start at most this often: a collector that answers "unchanged"
# at once (or a wait of 0) must not make a tight loop.
_MIN_POLL_INTERVAL: Final = 1.0

Report = Callable[[str, str], None]
"""Called with (``"circuit_open"`` or ``"circuit_closed"``, version)."""


class RouterOptions(TypedDict, total=False):
    """The keyword options of :meth:`mlpulse.Client.router`."""

    wait: float
    ready_timeout: float
    timeout: float
    backoff_base: float
    backoff_cap: float
    breaker: Callable[[], CircuitBreaker]
    exposure: str | None
    exposure_memory: int
    fallback_version: str | None


class Router:
    """Chooses the version of ``model`` for each unit; see the module doc.

    Made by :meth:`mlpulse.Client.router`, which waits up to ``ready_timeout`` seconds
    for the first table and raises :class:`~mlpulse.errors.ConfigurationError` (with the
    collector's answer) when none arrives: serving must not start without knowing which
    version to call. With ``ready_timeout=0`` it does not wait, and :meth:`choose` raises
    that error until the first table is in (see :meth:`wait_until_ready`).

    With ``fallback_version``, no error is raised: when no table has come by the time
    every collector URL was tried once (or ``ready_timeout`` passed), :meth:`choose`
    answers ``fallback_version`` until the first table arrives, then follows the table.
    Use it for a process that must start while the collector is down.

    ``url`` is a collector's base URL, several (a list, or a str with commas), or the
    client's :class:`~mlpulse.sdk.endpoints.Endpoints`, which its shipper shares.
    ``wait`` is how long the collector may hold a poll (at most 30 s); ``breaker`` makes
    the circuit breaker of each version (``lambda: CircuitBreaker(latency_ms=500)``).
    ``exposure`` names the outcome :meth:`choose` logs once per (unit, version), through
    ``expose`` (which :meth:`mlpulse.Client.router` supplies); None (the default) logs
    nothing. ``exposure_memory`` is how many (unit, version) pairs it remembers.
    """

    def __init__(
        self,
        url: str | Sequence[str] | Endpoints,
        api_key: str,
        model: str,
        *,
        report: Report | None = None,
        wait: float = 25.0,
        ready_timeout: float = 5.0,
        timeout: float = 10.0,
        backoff_base: float = 0.1,
        backoff_cap: float = 1.0,
        breaker: Callable[[], CircuitBreaker] = CircuitBreaker,
        exposure: str | None = None,
        exposure_memory: int = 100_000,
        expose: Expose | None = None,
        fallback_version: str | None = None,
    ) -> None:
        owner = "Router"
        check_seconds("wait", wait, positive=False, owner=owner)
        if wait > MAX_WAIT:
            raise parameter_error("wait", owner, f"a number of seconds in [0, {MAX_WAIT:g}]", wait)
        check_seconds("ready_timeout", ready_timeout, positive=False, owner=owner)
        check_seconds("timeout", timeout, positive=True, owner=owner)
        check_seconds("backoff_base", backoff_base, positive=True, owner=owner)
        check_seconds("backoff_cap", backoff_cap, positive=True, owner=owner)
        if backoff_cap < backoff_base:
            expected = f"at least backoff_base ({backoff_base})"
            raise parameter_error("backoff_cap", owner, expected, backoff_cap)
        if not callable(breaker):
            raise parameter_error(
                "breaker", owner, "a callable that makes a CircuitBreaker", breaker
            )
        check_exposure(exposure, exposure_memory, expose)
        if fallback_version is not None and not (
            isinstance(fallback_version, str) and 0 < len(fallback_version) <= MAX_NAME_LENGTH
        ):
            expected = f"None or a version name of 1 to {MAX_NAME_LENGTH} characters"
            raise parameter_error("fallback_version", owner, expected, fallback_version)
        self.model = model
        self.fallback_version = fallback_version
        self._endpoints = url if isinstance(url, Endpoints) else Endpoints(split_urls(url))
        self._path = f"{ROUTING_PATH}{quote(model, safe='')}"
        self._etag: str | None = None
        self._refused = False  # the last answer was 401, 403 or 404
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        self._wait = float(wait)
        self._timeout = float(timeout)
        self._backoff = Backoff(base=backoff_base, cap=backoff_cap)
        self._new_breaker = breaker
        self._report = report
        self._exposures = (
            None
            if exposure is None or expose is None  # check_exposure: both or neither
            else Exposures(exposure, memory=exposure_memory, expose=expose, model=model)
        )
        self._table: RoutingTable | None = None
        self._last_error = "no answer yet"
        self._closed = False
        self._start()
        _routers.add(self)
        _install_fork_hook()
        if ready_timeout > 0:
            if fallback_version is None:
                self._answered.wait(ready_timeout)
            else:  # no point waiting once every URL failed: start on the fallback
                self._tried.wait(ready_timeout)
            if self._table is None and fallback_version is None:
                self.close(timeout=0.0)
                raise ConfigurationError(
                    f"No routing table for model {model!r} from "
                    f"{', '.join(self._endpoints.urls)} within {ready_timeout:g} s: "
                    f"{self._last_error}."
                )
            if self._table is None:
                _LOG.warning(
                    "mlpulse: no routing table for %s yet (%s); serving the fallback version "
                    "%s until one arrives",
                    model,
                    self._last_error,
                    fallback_version,
                )

    def _start(self) -> None:
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._answered = threading.Event()  # a table, or an answer that will not change
        self._tried = threading.Event()  # a table, or every URL tried once without one
        self._http = httpx.HTTPTransport(retries=0)
        self._socket: socket.socket | None = None  # of the poll in flight, for close()
        if self._table is not None:
            self._ready.set()
            self._answered.set()
            self._tried.set()
        self._thread = threading.Thread(
            target=self._run, name=f"mlpulse-router-{self.model}", daemon=True
        )
        self._thread.start()

    # -- the serving side -------------------------------------------------------------

    @property
    def table(self) -> RoutingTable | None:
        """The last routing table received (None before the first)."""
        return self._table

    def choose(self, unit_id: str) -> Choice:
        """The version to call for ``unit_id`` and the shadow versions to mirror it to.

        Sticky for a unit while the weights do not change. When that version's breaker
        is open, ``Choice.version`` is the fallback and ``Choice.fallback_from`` the
        version the hash chose; when no other version is healthy, the chosen one is kept.
        With ``exposure`` set, the first choice of a version for a unit is logged as an
        exposure of the version that serves (``Choice.version``; shadows are not exposed).
        """
        table = self._table
        if table is None:
            if self.fallback_version is not None:
                choice = Choice(self.fallback_version)
                if self._exposures is not None:
                    self._exposures.log(unit_id, choice.version)
                return choice
            raise ConfigurationError(
                f"The router of model {self.model!r} has no routing table yet "
                f"({self._last_error}); call wait_until_ready() first."
            )
        choice = choose(table, unit_id, model=self.model)
        breaker = self._breakers.get(choice.version)
        if breaker is not None and not breaker.allow():
            other = self._fallback(table, choice.version)
            if other is not None:
                choice = Choice(other, choice.shadows, fallback_from=choice.version)
        if self._exposures is not None:
            self._exposures.log(unit_id, choice.version)
        return choice

    def record(self, version: str, *, ok: bool, latency_ms: float | None = None) -> None:
        """Feed the outcome of one call to ``version`` to its circuit breaker."""
        breaker = self._breakers.get(version)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.setdefault(version, self._new_breaker())
        moved = breaker.record(ok, latency_ms)
        if moved == ("closed", "open"):
            _LOG.warning("mlpulse: circuit of %s %s opened", self.model, version)
            self._emit("circuit_open", version)
        elif moved == ("half_open", "closed"):
            _LOG.info("mlpulse: circuit of %s %s closed again", self.model, version)
            self._emit("circuit_closed", version)

    def breaker(self, version: str) -> CircuitBreaker | None:
        """The circuit breaker of ``version``, once a call to it was recorded."""
        return self._breakers.get(version)

    def _fallback(self, table: RoutingTable, failing: str) -> str | None:
        """Where the calls of ``failing`` go while its breaker is open (None: nowhere).

        The table's fallback when the collector holds it healthy, else the healthiest
        other routed version; a version the collector holds unhealthy only when no
        healthy one is left (then the table's fallback first, as before health existed).
        """
        fallback = table.fallback
        if fallback == failing:
            fallback = None
        # allow() counts a probe when half-open: asked once, and only when it would be used.
        fallback_allowed: bool | None = None
        if fallback is not None and table.healthy(fallback):
            fallback_allowed = self._allows(fallback)
            if fallback_allowed:
                return fallback
        # The other routed versions: healthy in the table first, then fewest failures
        # here, then most traffic.
        candidates = []
        for entry in table.routed:
            if entry.version in (failing, fallback):
                continue
            breaker = self._breakers.get(entry.version)
            if breaker is None or breaker.state == "closed":
                share = 0.0 if breaker is None else breaker.failure_share
                unhealthy = not table.healthy(entry.version)
                candidates.append((unhealthy, share, -entry.weight, entry.version))
        best = min(candidates) if candidates else None
        if best is not None and not best[0]:
            return best[3]
        if fallback is not None and fallback_allowed is None and self._allows(fallback):
            return fallback
        return None if best is None else best[3]

    def _allows(self, version: str) -> bool:
        breaker = self._breakers.get(version)
        return breaker is None or breaker.allow()

    def _emit(self, name: str, version: str) -> None:
        if self._report is not None:
            try:
                self._report(name, version)
            except Exception:  # the report must never break the serving call
                _LOG.exception("mlpulse: could not report %s for %s", name, version)

    # -- control ----------------------------------------------------------------------

    def wait_until_ready(self, timeout: float) -> bool:
        """Block until the first table is in; False after ``timeout`` seconds without one."""
        return self._ready.wait(timeout)

    def close(self, timeout: float = 1.0) -> None:
        """Stop refreshing (idempotent). The last table stays readable."""
        self._closed = True
        self._stop.set()
        self._shutdown_socket()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._http.close()
        _routers.discard(self)

    def request_stop(self) -> None:
        """Stop refreshing without waiting (for a client that was garbage collected)."""
        self._stop.set()

    def _reset_after_fork(self) -> None:
        if not self._closed:
            if self._exposures is not None:
                self._exposures.reset_after_fork()
            self._start()  # the thread did not follow the fork; the last table did

    def __repr__(self) -> str:
        revision = None if self._table is None else self._table.revision
        return f"Router({self.model!r}, revision={revision})"

    # -- the refresh thread -----------------------------------------------------------

    def _run(self) -> None:
        rng = random.Random()
        attempt = 0
        stop = self._stop
        while not stop.is_set():
            started = time.monotonic()
            try:
                changed, error = self._poll()
            except Exception as exc:  # the loop boundary: a bug here must not end refreshing
                _LOG.exception("mlpulse: routing poll of %s failed", self.model)
                changed, error = False, f"{type(exc).__name__}: {exc}"
            if stop.is_set():
                break
            if error is not None:
                self._tried.set()
                if attempt == 0 and self._ready.is_set():
                    _LOG.warning(
                        "mlpulse: cannot refresh the routing table of %s (%s); serving "
                        "revision %s until it can",
                        self.model,
                        error,
                        self._table.revision if self._table else None,
                    )
                self._last_error = error
                if self._refused:
                    stop.wait(rng.uniform(0.5, 1.0) * _REFUSED_WAIT)
                else:
                    stop.wait(self._backoff.delay(attempt, rng))
                attempt += 1
                continue
            if attempt and self._ready.is_set():
                _LOG.info("mlpulse: routing table of %s refreshed again", self.model)
            attempt = 0
            elapsed = time.monotonic() - started
            if not changed and elapsed < _MIN_POLL_INTERVAL:
                stop.wait(_MIN_POLL_INTERVAL - elapsed)

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        # httpcore's trace extension hands over each new connection's stream (TCP, then
        # TLS over it): the socket that close() shuts down to end a held poll.
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            if stream is not None:
                self._socket = stream.get_extra_info("socket")
                if self._stop.is_set():  # close() came between its shutdown and this connect
                    self._shutdown_socket()

    def _shutdown_socket(self) -> None:
        sock = self._socket
        if sock is not None:
            # Closing the transport would not wake a read the collector is holding (a
            # closed descriptor does not end a blocked recv); a shutdown does.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _poll(self) -> tuple[bool, str | None]:
        """One round: each URL in turn until one answers (whether the table changed, what
        went wrong or None)."""
        failures = []
        for base in self._endpoints.candidates():
            if self._stop.is_set():
                return False, "closed"
            outcome = self._poll_one(base)
            if isinstance(outcome, str):
                failures.append(f"{base}: {outcome}" if len(self._endpoints.urls) > 1 else outcome)
                continue
            return outcome
        return False, "; ".join(failures)

    def _poll_one(self, base: str) -> tuple[bool, str | None] | str:
        """One request to ``base``: its outcome as :meth:`_poll`'s, or why ``base`` gave no
        usable answer (no connection, a timeout, a 5xx...: the next URL is tried)."""
        table = self._table
        headers = dict(self._headers)
        params = ""
        if table is not None:
            headers["If-None-Match"] = self._etag or f'"{table.revision}"'
            params = f"?wait={self._wait:g}"
        try:
            request = httpx.Request(
                "GET",
                base + self._path + params,
                headers=headers,
                extensions={
                    "timeout": httpx.Timeout(
                        self._timeout, read=self._timeout + (self._wait if params else 0.0)
                    ).as_dict(),
                    "trace": self._trace,
                },
            )
            response = self._http.handle_request(request)
            try:
                body = response.read()
            finally:
                response.close()
        except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: closed by close()
            if not self._stop.is_set():  # a poll ended by close() says nothing of the URL
                self._endpoints.failed(base)
            return f"{type(exc).__name__}: {exc}"
        status = response.status_code
        if status in _FAILOVER_STATUSES or status >= 500:
            self._endpoints.failed(base)
            return f"HTTP {status}: {body[:200].decode(errors='replace')}"
        self._endpoints.succeeded(base)
        self._refused = status in (401, 403, 404)
        if status == 304:
            return False, None
        if status != 200:
            detail = body[:200].decode(errors="replace")
            if status in (401, 403, 404):
                self._last_error = f"HTTP {status}: {detail}"
                self._answered.set()  # waiting longer would not change this answer
                self._tried.set()
            return False, f"HTTP {status}: {detail}"
        try:
            new = msgspec.json.decode(body, type=RoutingTable)
        except msgspec.DecodeError as exc:
            return False, f"a routing table that does not decode: {exc}"
        problem = check_routable(new)
        if new.model != self.model:
            problem = f"a table for model {new.model!r}"
        if problem is not None:
            return False, f"unusable routing table: {problem}"
        changed = table is None or new != table
        if table is None and self.fallback_version is not None:
            _LOG.info(
                "mlpulse: routing table of %s received (revision %s); the fallback version "
                "%s is no longer served by default",
                self.model,
                new.revision,
                self.fallback_version,
            )
        self._table = new
        self._etag = response.headers.get("ETag")
        self._ready.set()
        self._answered.set()
        self._tried.set()
        return changed, None


# Routers whose refresh thread must be restarted in a forked child (the thread does not
# follow a fork). Weak, so a hook never keeps a router alive.
_routers: weakref.WeakSet[Router] = weakref.WeakSet()
_hook_lock = threading.Lock()
_hook_installed = False


def _install_fork_hook() -> None:
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            os.register_at_fork(after_in_child=_restart_in_child)
            _hook_installed = True


def _restart_in_child() -> None:
    global _hook_lock
    _hook_lock = threading.Lock()
    for router in list(_routers):
        router._reset_after_fork()
