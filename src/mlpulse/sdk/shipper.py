"""The background thread that turns buffered events into acknowledged batches.

Serving threads append tuples to :attr:`Shipper.buffer` without a lock (``deque``
appends are atomic) and wake the thread when a batch is full. The thread drains up
to ``batch_size`` events, encodes them once, and sends that same body until the
collector settles it; meanwhile the buffer keeps filling up to its bound and then
drops new events. Memory is therefore bounded by the buffer plus one batch.

Every event taken from the buffer is settled exactly once, as sent, rejected or
dropped, under ``_lock``; :meth:`Shipper.flush` waits on that count.
"""

from __future__ import annotations

import itertools
import logging
import random
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

from mlpulse.sdk.backoff import Backoff
from mlpulse.sdk.reply import Reply, Transport, Verdict
from mlpulse.sdk.stats import ClientStats
from mlpulse.sdk.wire import BatchEncoder, BufferedEvent, Compression, Payload

_LOG = logging.getLogger("mlpulse.sdk")
# Repeated warnings (rejections, full buffer) get through at most once per this many seconds.
_WARNING_INTERVAL: Final = 60.0
_REASONS_SHOWN: Final = 3
# join() waits this much past its timeout: the thread may need a moment after the stop
# deadline to count what it gives up and close its connection.
_JOIN_GRACE: Final = 0.2


class _Throttle:
    """Lets a repeated warning through at most once per interval, counting the rest."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._next = float("-inf")
        self._held_back = 0

    def allow(self) -> int | None:
        """How many were held back since the last one let through, or None to hold this one."""
        now = time.monotonic()
        if now < self._next:
            self._held_back += 1
            return None
        self._next = now + self._interval
        held_back, self._held_back = self._held_back, 0
        return held_back


def _held_back_note(count: int) -> str:
    return f" ({count} similar warnings held back)" if count else ""


class Shipper:
    """Owns the buffer, the request-id sequence, the counters and the shipping thread."""

    def __init__(
        self,
        *,
        transport_factory: Callable[[], Transport],
        batch_size: int,
        max_buffer: int,
        flush_interval: float,
        backoff: Backoff,
        compression: Compression,
        exit_timeout: float,
    ) -> None:
        self.exit_timeout = exit_timeout
        """How long shipping may go on at interpreter exit."""
        self.buffer: deque[BufferedEvent] = deque()
        self._transport_factory = transport_factory
        self._batch_size = batch_size
        self._max_buffer = max_buffer
        self._flush_interval = flush_interval
        self._backoff = backoff
        self._compression = compression
        self._thread: threading.Thread | None = None
        self._init_state()
        # Made here, on the caller's thread at start-up, so that importing httpx and
        # setting up TLS (tens of ms) never compete with serving threads later.
        self._transport: Transport | None = transport_factory()
        self._start()

    def _init_state(self) -> None:
        # Read by serving threads without a lock: the buffer bound (0 once stopping, so
        # late calls are dropped and counted at no extra cost) and the request-id parts.
        self.limit = self._max_buffer
        self.id_prefix = secrets.token_hex(6) + "-"
        self.id_counter = itertools.count(1)
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._interrupt = threading.Event()
        self._deadline: float | None = None
        self._taken = 0
        self._done = 0
        self._sent = 0
        self._rejected = 0
        self._dropped_new = 0
        self._abandoned = 0
        self._retries = 0
        # Made at construction, or in a forked child by the thread at its first send
        # (many forked children, e.g. of a multiprocessing pool, never ship anything).
        self._transport = None
        self._encoder = BatchEncoder(compression=self._compression)
        self._rng = random.Random()
        self._in_outage = False
        self._last_chance_taken = False
        self._fatal_logged: set[int | None] = set()
        self._rejections_throttle = _Throttle(_WARNING_INTERVAL)
        self._unencodable_throttle = _Throttle(_WARNING_INTERVAL)
        self._full_throttle = _Throttle(_WARNING_INTERVAL)

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mlpulse-shipper", daemon=True)
        self._thread.start()

    # -- called from serving threads -------------------------------------------------

    def wake(self) -> None:
        """Ship now rather than at the next interval (a batch is full, or a flush waits)."""
        self._wake.set()

    def count_dropped(self) -> None:
        """Count one event refused because the buffer is full or the client is closed."""
        with self._lock:
            self._dropped_new += 1
            held_back = self._full_throttle.allow()
        if held_back is not None:
            stopping = self._deadline is not None
            reason = (
                "the client is closed" if stopping else f"the buffer is full ({self._max_buffer})"
            )
            _LOG.warning(
                "mlpulse dropped an event because %s; see Client.stats().dropped%s",
                reason,
                _held_back_note(held_back),
            )

    def stats(self) -> ClientStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            buffered = len(self.buffer)
            return ClientStats(
                logged=self._taken + buffered + self._dropped_new,
                sent=self._sent,
                rejected=self._rejected,
                dropped=self._dropped_new + self._abandoned,
                retries=self._retries,
                buffered=buffered,
                in_flight=self._taken - self._done,
            )

    def flush(self, timeout: float) -> bool:
        """Wait until every event buffered before this call is settled; False on timeout."""
        with self._lock:
            target = self._taken + len(self.buffer)
        self._wake.set()
        deadline = time.monotonic() + timeout
        with self._settled:
            while self._done < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._settled.wait(remaining)
        return True

    @property
    def stopping(self) -> bool:
        """True once the client is closing (or closed): new events are refused."""
        return self._deadline is not None

    def request_stop(self, timeout: float) -> None:
        """Refuse new events; ship what is buffered for at most ``timeout`` s, then quit.

        Takes no lock and sets no event, because it runs when a client is garbage
        collected, which may happen on any thread, this one included, even one that holds
        those locks. The thread notices within a flush interval (or at its next retry).
        """
        self.limit = 0
        if self._deadline is None:
            self._deadline = time.monotonic() + timeout

    def stop(self, timeout: float) -> None:
        """:meth:`request_stop`, and have the thread act on it at once. Does not block."""
        self.request_stop(timeout)
        self._interrupt.set()
        self._wake.set()

    def join(self, timeout: float) -> bool:
        """Wait for the thread to quit; True when it did and every event was settled."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout + _JOIN_GRACE)
            if thread.is_alive():
                return False
        with self._lock:
            return self._abandoned == 0 and self._done == self._taken and not self.buffer

    def reset_after_fork(self) -> None:
        """In a forked child: start over with fresh locks, an empty buffer and a new thread.

        What the parent had buffered belongs to the parent, which still sends it. The
        inherited transport shares its sockets with the parent, so it is left alone
        (closing it could disturb the parent's connection); the child makes its own.
        """
        stopped = self._deadline is not None
        self.buffer.clear()
        self._init_state()
        if stopped:
            self.limit = 0
            self._deadline = time.monotonic()
            self._thread = None
        else:
            self._start()

    # -- the shipping thread ---------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                if self._deadline is None:
                    self._wake.wait(self._flush_interval)
                self._wake.clear()
                if not self._ship_buffered():
                    break
                if self._deadline is not None and not self.buffer:
                    break
        finally:
            self._abandon_rest()
            if self._transport is not None:
                self._transport.close()

    def _ship_buffered(self) -> bool:
        """Ship until the buffer is empty; False when the stop deadline passed first."""
        while True:
            left = self._time_left()
            if left is not None and left <= 0:
                return False
            with self._lock:
                count = min(len(self.buffer), self._batch_size)
                if count == 0:
                    return True
                items = [self.buffer.popleft() for _ in range(count)]
                self._taken += count
            try:
                if not self._deliver(items):
                    return False
            # Loop boundary: a bug in delivering one batch must not stop the thread (the
            # buffer would only fill up and drop); the batch is counted as dropped.
            except Exception:
                _LOG.exception("mlpulse failed to ship a batch of %d events; dropping it", count)
                with self._settled:
                    unsettled = self._taken - self._done
                    self._abandoned += unsettled
                    self._done += unsettled
                    self._settled.notify_all()

    def _deliver(self, items: list[BufferedEvent]) -> bool:
        """Settle every event of one drained batch; False when the stop deadline passed."""
        # The batch id is made once, so every retry of this body carries it and the
        # collector stores the batch once. Halves of a split batch are new batches.
        work: list[tuple[str, Sequence[BufferedEvent]]] = [(uuid.uuid4().hex, items)]
        while work:
            batch_id, batch = work.pop()
            payload, unencodable = self._encoder.encode(batch_id, batch)
            if unencodable:
                # Log before settling, here and below: a flush() that returns has seen the log.
                self._warn(
                    self._unencodable_throttle,
                    "mlpulse could not encode %d of %d events (batch %s): %s",
                    len(unencodable),
                    len(batch),
                    batch_id,
                    unencodable[0].reason,
                )
                self._settle(rejected=len(unencodable))
            if payload is None:
                continue
            reply = self._send(payload)
            if reply is None:
                return False
            if reply.verdict is Verdict.TOO_LARGE and len(payload.items) > 1:
                half = len(payload.items) // 2
                # Pushed in reverse so the first half is sent first.
                work.append((f"{batch_id}-1", payload.items[half:]))
                work.append((f"{batch_id}-0", payload.items[:half]))
            else:
                self._settle_reply(payload, reply)
        return True

    def _send(self, payload: Payload) -> Reply | None:
        """Send until the reply is not a retry; None when the stop deadline comes first."""
        if self._transport is None:
            self._transport = self._transport_factory()
        attempt = 0
        while True:
            left = self._time_left()
            if left is not None and left <= 0:
                return None
            reply = self._transport.send(payload, timeout=left)
            if reply.verdict is not Verdict.RETRY:
                if self._in_outage:
                    self._in_outage = False
                    _LOG.info("mlpulse collector reachable again")
                return reply
            if not self._in_outage:
                self._in_outage = True
                _LOG.warning(
                    "mlpulse collector unavailable (%s); retrying with backoff and buffering "
                    "up to %d events",
                    reply.detail,
                    self._max_buffer,
                )
            # Counted when decided, so stats() shows an outage from its first failure.
            with self._lock:
                self._retries += 1
            if not self._sleep(self._backoff.delay(attempt, self._rng, reply.retry_after)):
                return None
            attempt += 1

    def _time_left(self) -> float | None:
        """Seconds until the stop deadline, or None when not stopping."""
        deadline = self._deadline
        return None if deadline is None else deadline - time.monotonic()

    def _sleep(self, delay: float) -> bool:
        """Wait ``delay`` seconds before a retry; False to give up the batch instead.

        When stopping, a wait that would pass the deadline is skipped for one last
        attempt right away (once per stop), and a stop() during a wait cuts it short
        the same way: closing never gives up without trying once more.
        """
        left = self._time_left()
        if left is not None and delay > left:
            if self._last_chance_taken:
                return False
            self._last_chance_taken = True
            return True
        if self._interrupt.wait(delay):
            self._interrupt.clear()
            self._last_chance_taken = True
        return True

    def _settle_reply(self, payload: Payload, reply: Reply) -> None:
        size = len(payload.items)
        if reply.verdict in (Verdict.ACCEPTED, Verdict.REJECTED):
            result = reply.result
            if result is not None:
                accepted = min(max(result.accepted, 0), size)
            else:
                accepted = size if reply.verdict is Verdict.ACCEPTED else 0
            if accepted < size:
                reasons = (
                    [f"{r.field}: {r.reason}" for r in result.rejected]
                    if result is not None
                    else [reply.detail]
                )
                self._warn(
                    self._rejections_throttle,
                    "mlpulse collector rejected %d of %d events (batch %s): %s",
                    size - accepted,
                    size,
                    payload.batch_id,
                    "; ".join(reasons[:_REASONS_SHOWN]),
                )
            self._settle(sent=accepted, rejected=size - accepted)
            return
        if reply.verdict is Verdict.TOO_LARGE:
            self._warn(
                self._rejections_throttle,
                "mlpulse dropped an event too large for the collector (batch %s): %s",
                payload.batch_id,
                reply.detail,
            )
        elif reply.status not in self._fatal_logged:
            # Once per status: a wrong key or URL fails every batch, and one line says it.
            self._fatal_logged.add(reply.status)
            _LOG.error(
                "mlpulse collector refused a batch of %d events (%s); batches refused this way "
                "are dropped. Check the URL and the API key. Logged once per status.",
                size,
                reply.detail,
            )
        self._settle(rejected=size)

    def _settle(self, *, sent: int = 0, rejected: int = 0) -> None:
        with self._settled:
            self._sent += sent
            self._rejected += rejected
            self._done += sent + rejected
            self._settled.notify_all()

    def _abandon_rest(self) -> None:
        with self._settled:
            rest = len(self.buffer)
            self.buffer.clear()
            self._taken += rest
            unsettled = self._taken - self._done
            self._abandoned += unsettled
            self._done += unsettled
            self._settled.notify_all()
        if unsettled:
            _LOG.warning(
                "mlpulse client closed with %d events not delivered (collector unreachable)",
                unsettled,
            )

    def _warn(self, throttle: _Throttle, message: str, *args: object) -> None:
        held_back = throttle.allow()
        if held_back is not None:
            _LOG.warning(message + "%s", *args, _held_back_note(held_back))
