"""``with client.track(...) as t:`` — time one prediction and log it, errors included."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

if TYPE_CHECKING:
    from mlpulse.sdk.client import Client

# Long enough for a useful message, short enough to stay far below the wire limit.
MAX_ERROR_LENGTH: Final = 1_000


def describe_error(exc: BaseException) -> str:
    """``"ValueError: bad input"``, truncated to :data:`MAX_ERROR_LENGTH` characters."""
    name = type(exc).__name__
    try:
        message = str(exc)
    # str() runs user code (a custom __str__); a failure there must not mask the real error.
    except Exception:
        message = ""
    text = f"{name}: {message}" if message else name
    return text[:MAX_ERROR_LENGTH]


class Tracking:
    """One tracked prediction: set its results inside the block; it is logged on exit.

    Set :attr:`prediction`, :attr:`score` and :attr:`probabilities` (all optional)
    inside the block. :attr:`request_id` is known from the start (to return to your
    caller, or to log a label later); :attr:`latency_ms` is filled in on exit. If the
    block raises, the prediction is logged with ``error`` set to the exception's type
    and message, and the exception propagates unchanged.
    """

    __slots__ = (
        "_client",
        "_started",
        "features",
        "latency_ms",
        "model",
        "prediction",
        "probabilities",
        "request_id",
        "score",
        "segment",
        "timestamp",
        "trace_id",
        "version",
    )

    def __init__(
        self,
        client: Client,
        model: str,
        version: str,
        features: Mapping[str, Any],
        *,
        request_id: str,
        segment: Mapping[str, str] | None,
        trace_id: str | None,
        timestamp: float | datetime | None,
    ) -> None:
        self._client = client
        self.model = model
        self.version = version
        self.features = features
        self.request_id = request_id
        self.segment = segment
        self.trace_id = trace_id
        self.timestamp = timestamp
        self.prediction: Any = None
        self.score: float | None = None
        self.probabilities: Mapping[str, float] | None = None
        self.latency_ms: float | None = None
        self._started = 0.0

    def __enter__(self) -> Self:
        if self.timestamp is None:
            self.timestamp = time.time()
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.latency_ms = (time.perf_counter() - self._started) * 1000.0
        self._client.log_prediction(
            self.model,
            self.version,
            self.features,
            self.prediction,
            request_id=self.request_id,
            score=self.score,
            probabilities=self.probabilities,
            latency_ms=self.latency_ms,
            segment=self.segment,
            trace_id=self.trace_id,
            error=None if exc is None else describe_error(exc),
            timestamp=self.timestamp,
        )
        # Returning None lets an exception from the block propagate unchanged.
