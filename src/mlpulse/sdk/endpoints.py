"""Several collector URLs for one client, and which of them answered lately.

A client may name several collectors (replicas behind no load balancer, or two load
balancers): ``Client(["http://a:8000", "http://b:8000"], key)`` or
``MLPULSE_URL=http://a:8000,http://b:8000``. Every SDK call (the shipper's batches, the
routers' long-polls) asks :meth:`Endpoints.candidates` for the order to try them in:

- the URL that answered last comes first, so calls stick to one collector rather than
  spreading over all of them or moving back and forth;
- a URL that failed (no connection, a timeout, a 5xx) is marked down for ``down_for``
  seconds and tried only after every other URL, so a dead collector costs one failed
  attempt per ``down_for`` rather than one per request;
- when every URL is marked down they are all tried anyway, the one marked down longest
  ago first: a whole outage never leaves a call with nothing to try.

The shipper's transport and the client's routers share one :class:`Endpoints`, so what one
learns about a collector the others use at once.

Lock-free on purpose: only background threads call it, each operation is one dict or
attribute assignment (atomic in CPython), and a lock held by another thread at an
``os.fork`` would deadlock the child, which inherits this object. A race only reorders
the next attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final

from mlpulse.errors import parameter_error

DOWN_FOR: Final = 5.0
"""Seconds a URL that failed is tried only after the others."""


def split_urls(url: str | Sequence[str]) -> list[str]:
    """The URLs in ``url``: a list as it is, or a str split at commas, blanks removed.

    >>> split_urls("http://a:8000, http://b:8000/")
    ['http://a:8000', 'http://b:8000']
    >>> split_urls(["http://a:8000"])
    ['http://a:8000']
    """
    parts = url.split(",") if isinstance(url, str) else list(url)
    return [part.strip().rstrip("/") if isinstance(part, str) else part for part in parts if part]


class Endpoints:
    """The collector base URLs of one client and what is known of their health.

    Parameters
    ----------
    urls : sequence of str
        Base URLs in order of preference (checked by the caller); at least one.
    down_for : float
        Seconds a URL that failed is tried only after the others.
    clock : callable
        Monotonic seconds; injected so tests can move time.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        down_for: float = DOWN_FOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not urls:
            raise parameter_error("url", "Client", "at least one collector URL", list(urls))
        if len(set(urls)) != len(urls):
            raise parameter_error("url", "Client", "collector URLs without repeats", list(urls))
        self.urls: tuple[str, ...] = tuple(urls)
        self._down_for = down_for
        self._clock = clock
        self._current = self.urls[0]
        self._down_until: dict[str, float] = {}

    @property
    def current(self) -> str:
        """The URL calls go to first: the one that answered last."""
        return self._current

    def candidates(self) -> list[str]:
        """Every URL, in the order to try them now (see the module doc)."""
        now = self._clock()
        down_until = dict(self._down_until)  # a snapshot: other threads may mark meanwhile
        current = self._current
        ordered = [current, *(url for url in self.urls if url != current)]
        up = [url for url in ordered if down_until.get(url, 0.0) <= now]
        down = sorted((url for url in ordered if url not in up), key=lambda u: down_until[u])
        return up + down

    def succeeded(self, url: str) -> None:
        """``url`` answered (any HTTP answer but a 5xx): calls stick to it."""
        self._down_until.pop(url, None)
        self._current = url

    def failed(self, url: str) -> None:
        """``url`` did not answer, or answered 5xx: try the others first for a while."""
        self._down_until[url] = self._clock() + self._down_for

    def is_down(self, url: str) -> bool:
        """Whether ``url`` failed within the last ``down_for`` seconds."""
        return self._down_until.get(url, 0.0) > self._clock()

    def __repr__(self) -> str:
        return f"Endpoints({list(self.urls)!r}, current={self._current!r})"
