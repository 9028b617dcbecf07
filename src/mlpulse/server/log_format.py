"""The collector's log lines: text for a terminal, or JSON (one object a line) for shippers.

``MLPULSE_LOG_FORMAT=json`` makes every line an object that Loki, Elasticsearch (Filebeat,
Fluent Bit, Vector) and the like take as it is::

    {"time": "2026-12-07T18:40:01.123Z", "level": "WARNING", "logger": "mlpulse.ingest",
     "message": "...", "model": "fraud", "version": "v3",
     "trace_id": "4bf9...", "span_id": "00f0..."}

``trace_id``/``span_id`` appear while an OpenTelemetry span is active (read without
importing OpenTelemetry: :mod:`mlpulse.sdk.trace_context`); ``model``/``version`` when
the call passes them, ``log.warning("...", extra={"model": m, "version": v})``; an
exception's traceback goes in ``exception``. A dozen lines of our own rather than a
dependency: python-json-logger would do it too, but is not otherwise needed here.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Literal

from mlpulse.sdk.trace_context import current_span_ids

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Fields a log call may pass in `extra` that go into the JSON object.
EXTRA_FIELDS = ("model", "version")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (RFC 3339, UTC), level, logger, message, and more."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.gmtime(record.created)
        millis = int(record.msecs)
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", seconds) + f".{millis:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in EXTRA_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = str(value)
        ids = current_span_ids()
        if ids is not None:
            entry["trace_id"], entry["span_id"] = ids
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(*, log_format: LogFormat, level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the collector (uvicorn's ``log_config``).

    One stderr handler on the root logger; uvicorn's loggers (which otherwise bring their
    own handlers and format) propagate to it, so every line has the same format.
    """
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if log_format == "json"
        else {"format": TEXT_FORMAT, "datefmt": "%Y-%m-%dT%H:%M:%S%z"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"mlpulse": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "mlpulse",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            name: {"level": level, "handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }
