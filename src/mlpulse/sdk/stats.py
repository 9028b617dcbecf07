"""What a client has done so far: the counters behind :meth:`mlpulse.Client.stats`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClientStats:
    """A snapshot of one client's counters (since it was made, or since a fork in the child).

    Every logged event ends up in exactly one of ``sent``, ``rejected`` or ``dropped``,
    or is still ``buffered`` or ``in_flight``::

        logged == sent + rejected + dropped + buffered + in_flight
    """

    logged: int
    """Calls to the ``log_*`` methods (and tracked blocks and resource samples)."""
    sent: int
    """Events the collector acknowledged as accepted (stored durably)."""
    rejected: int
    """Events the collector refused (invalid, too large, or a batch it will never take,
    e.g. a bad API key), and events that could not be encoded at all."""
    dropped: int
    """Events never delivered: the buffer was full, the client was closed, or
    :meth:`~mlpulse.Client.close` gave up on them at its timeout."""
    retries: int
    """Retryable failures (429, 5xx, network errors), each followed by a wait and another
    attempt with the same batch."""
    buffered: int
    """Events waiting in the buffer now."""
    in_flight: int
    """Events taken from the buffer whose batch is not settled yet (at most one batch)."""
