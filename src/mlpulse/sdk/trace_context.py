"""The OpenTelemetry trace the caller is in, read without importing OpenTelemetry.

A serving process that uses OpenTelemetry has imported ``opentelemetry.trace`` before it
serves anything; one that has not imported it has no active span. So the lookup is a
``sys.modules`` read (~0.05 µs) and, only when the module is there, the current span's
context (~0.7 µs inside a span). Nothing here imports OpenTelemetry: ``import mlpulse``
stays as light as it was, with or without the package installed.
"""

from __future__ import annotations

import sys
from typing import Any

OTEL_TRACE_MODULE = "opentelemetry.trace"
_modules = sys.modules


def current_trace_id() -> str | None:
    """The active span's trace id as 32 lowercase hex digits (W3C form), else None."""
    otel: Any = _modules.get(OTEL_TRACE_MODULE)
    if otel is None:
        return None
    context = otel.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}"


def current_span_ids() -> tuple[str, str] | None:
    """The active span's (trace id, span id) in hex (32 and 16 digits), else None."""
    otel: Any = _modules.get(OTEL_TRACE_MODULE)
    if otel is None:
        return None
    context = otel.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"
