"""The collector's JSON log lines: one object a record, with trace ids inside a span."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.trace import TracerProvider

from mlpulse.server.log_format import JsonFormatter, logging_config

TRACER = TracerProvider().get_tracer("mlpulse-tests")


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("mlpulse.test_log_format")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_formatter_writes_time_level_logger_and_message(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = lines
    before = datetime.now(UTC)
    logger.warning("batch %s refused: %s", "b-1", 'a "quoted"\nreason')

    (record,) = _records(stream)
    assert set(record) == {"time", "level", "logger", "message"}
    assert record["level"] == "WARNING"
    assert record["logger"] == "mlpulse.test_log_format"
    assert record["message"] == 'batch b-1 refused: a "quoted"\nreason'
    stamp = str(record["time"])
    assert stamp.endswith("Z") and len(stamp) == len("2026-12-07T18:40:01.123Z")
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert abs((parsed - before).total_seconds()) < 5


def test_json_formatter_adds_model_and_version_passed_in_extra(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = lines
    logger.info("drift", extra={"model": "fraud", "version": "v3", "other": 1})
    logger.info("model only", extra={"model": "fraud"})

    first, second = _records(stream)
    assert (first["model"], first["version"]) == ("fraud", "v3")
    assert "other" not in first
    assert second["model"] == "fraud" and "version" not in second


def test_json_formatter_adds_trace_and_span_ids_inside_a_span(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = lines
    with TRACER.start_as_current_span("tick") as span:
        logger.info("inside")
    logger.info("outside")

    inside, outside = _records(stream)
    context = span.get_span_context()
    assert inside["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == f"{context.span_id:016x}"
    assert "trace_id" not in outside and "span_id" not in outside


def test_json_formatter_keeps_the_traceback_in_one_line(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = lines
    try:
        raise ValueError("broken store")
    except ValueError:
        logger.exception("tick failed")

    (record,) = _records(stream)  # one line despite the multi-line traceback
    assert record["level"] == "ERROR"
    assert "ValueError: broken store" in str(record["exception"])
    assert "Traceback" in str(record["exception"])


def test_logging_config_sends_uvicorn_and_mlpulse_records_through_one_json_handler(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = (root.level, root.handlers[:])
    monkeypatch.setattr(sys, "stderr", sys.stderr)  # ext://sys.stderr: capsys's stream
    try:
        logging.config.dictConfig(logging_config(log_format="json", level="WARNING"))
        logging.getLogger("uvicorn.error").warning("from uvicorn")
        logging.getLogger("mlpulse.evaluator").info("below the level")
        logging.getLogger("mlpulse.evaluator").error("from mlpulse")
        err = capsys.readouterr().err
    finally:
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).setLevel(logging.NOTSET)

    records = [json.loads(line) for line in err.splitlines()]
    assert [(r["logger"], r["message"]) for r in records] == [
        ("uvicorn.error", "from uvicorn"),
        ("mlpulse.evaluator", "from mlpulse"),
    ]
