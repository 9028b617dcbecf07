"""Spans to predictions: which attribute becomes which field, and refusals naming it."""

from __future__ import annotations

from mlpulse.domain.events import Prediction
from mlpulse.domain.ingest import Rejection
from mlpulse.domain.otlp import (
    AttributeValue,
    Span,
    SpanRefusal,
    place,
    span_prediction,
    trace_intake,
)

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"
START = 1_767_225_600_000_000_000


def _span(
    attributes: dict[str, AttributeValue],
    *,
    resource: dict[str, AttributeValue] | None = None,
    error: bool = False,
    message: str = "",
) -> Span:
    return Span(
        where="resourceSpans[0].scopeSpans[0].spans[0]",
        trace_id=TRACE,
        span_id=SPAN,
        start_ns=START,
        end_ns=START + 12_345_678,
        attributes=attributes,
        resource=resource or {},
        status_error=error,
        status_message=message,
    )


def test_span_prediction_maps_mlpulse_attributes_and_span_timing() -> None:
    span = _span(
        {
            "mlpulse.model": "fraud",
            "mlpulse.version": "v3",
            "mlpulse.feature.amount": 12.5,
            "mlpulse.feature.count": 3,
            "mlpulse.feature.country": "DE",
            "mlpulse.feature.new": True,
            "mlpulse.prediction": "fraud",
            "mlpulse.score": 0.91,
            "mlpulse.probability.fraud": 0.91,
            "mlpulse.probability.ok": 0.09,
            "mlpulse.segment.region": "eu",
            "mlpulse.segment.tier": 2,
            "http.route": "/predict",
        }
    )

    assert span_prediction(span) == Prediction(
        model="fraud",
        version="v3",
        request_id=TRACE + SPAN,
        features={"amount": 12.5, "count": 3.0, "country": "DE", "new": True},
        prediction="fraud",
        timestamp=(START + 12_345_678) / 1e9,
        score=0.91,
        probabilities={"fraud": 0.91, "ok": 0.09},
        latency_ms=12.345678,
        segment={"region": "eu", "tier": "2"},
        trace_id=TRACE,
    )


def test_span_prediction_follows_genai_conventions_when_mlpulse_attributes_are_absent() -> None:
    span = _span(
        {
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 120,
            "gen_ai.usage.output_tokens": 40,
        }
    )

    prediction = span_prediction(span)

    assert isinstance(prediction, Prediction)
    assert (prediction.model, prediction.version) == ("gpt-4o", "gpt-4o-2024-08-06")
    assert prediction.features == {
        "gen_ai.usage.input_tokens": 120.0,
        "gen_ai.usage.output_tokens": 40.0,
    }


def test_span_prediction_prefers_span_attributes_and_takes_version_from_the_resource() -> None:
    span = _span(
        {"mlpulse.model": "recs", "gen_ai.request.model": "other", "mlpulse.request_id": "r-1"},
        resource={"service.version": "2.1.0", "mlpulse.segment.region": "us"},
    )

    prediction = span_prediction(span)

    assert isinstance(prediction, Prediction)
    assert (prediction.model, prediction.version) == ("recs", "2.1.0")
    assert prediction.request_id == "r-1"
    assert prediction.segment == {"region": "us"}


def test_span_prediction_records_error_from_status_or_attribute() -> None:
    base: dict[str, AttributeValue] = {"mlpulse.model": "m", "mlpulse.version": "v"}

    def error(span: Span) -> str | None:
        prediction = span_prediction(span)
        assert isinstance(prediction, Prediction)
        return prediction.error

    assert error(_span(base)) is None
    assert error(_span(base, error=True, message="ValueError: x")) == "ValueError: x"
    assert error(_span(base, error=True)) == "error"
    assert error(_span({**base, "mlpulse.error": True})) == "error"
    assert error(_span({**base, "mlpulse.error": "timeout"}, error=True)) == "timeout"
    assert error(_span({**base, "mlpulse.error": False}, error=True)) is None


def test_span_prediction_ignores_span_when_it_names_no_model() -> None:
    assert span_prediction(_span({"http.route": "/", "mlpulse.version": "v1"})) is None


def test_span_prediction_refuses_naming_the_attribute_when_a_value_has_the_wrong_type() -> None:
    where = "resourceSpans[0].scopeSpans[0].spans[0]"
    base: dict[str, AttributeValue] = {"mlpulse.model": "m", "mlpulse.version": "v"}

    assert span_prediction(_span({**base, "mlpulse.score": "high"})) == SpanRefusal(
        f'{where}.attributes["mlpulse.score"]', "Expected `float | null`, got `str`"
    )
    refused = span_prediction(_span({**base, "mlpulse.feature.ok": 1, "mlpulse.feature.v": [1]}))
    assert isinstance(refused, SpanRefusal)
    assert refused.field == f'{where}.attributes["mlpulse.feature.v"]'
    refused = span_prediction(_span({**base, "mlpulse.probability.yes": 1.5}))
    assert isinstance(refused, SpanRefusal)
    assert refused.field == f'{where}.attributes["mlpulse.probability.yes"]'
    assert "<= 1.0" in refused.reason
    refused = span_prediction(_span({**base, "mlpulse.model": "x" * 201}))
    assert isinstance(refused, SpanRefusal)
    assert refused.field == f'{where}.attributes["mlpulse.model"]'


def test_span_prediction_refuses_a_model_without_any_version() -> None:
    refused = span_prediction(_span({"gen_ai.request.model": "gpt-4o"}))

    assert isinstance(refused, SpanRefusal)
    assert refused.field.endswith('.attributes["mlpulse.version"]')
    assert "gen_ai.response.model" in refused.reason


def test_trace_intake_counts_ignored_spans_and_numbers_refusals_by_span() -> None:
    ok: dict[str, AttributeValue] = {"mlpulse.model": "m", "mlpulse.version": "v"}
    spans = [_span({}), _span(ok), _span({**ok, "mlpulse.score": "x"}), _span({"a": 1})]

    intake = trace_intake(spans)

    assert intake.ignored == 2
    assert intake.indexes == [1]
    assert [p.model for p in intake.predictions] == ["m"]
    assert intake.rejected == [
        Rejection(
            2,
            'resourceSpans[0].scopeSpans[0].spans[0].attributes["mlpulse.score"]',
            "Expected `float | null`, got `str`",
        )
    ]


def test_span_prediction_takes_numbers_as_text_for_version_and_request_id() -> None:
    span = _span({"mlpulse.model": "m", "mlpulse.version": 3, "mlpulse.request_id": 12345})

    prediction = span_prediction(span)

    assert isinstance(prediction, Prediction)
    assert (prediction.version, prediction.request_id) == ("3", "12345")


def test_span_prediction_names_the_feature_namespace_when_there_are_too_many_features() -> None:
    features: dict[str, AttributeValue] = {f"mlpulse.feature.x{i}": 1.0 for i in range(2_001)}

    refused = span_prediction(_span({"mlpulse.model": "m", "mlpulse.version": "v", **features}))

    assert isinstance(refused, SpanRefusal)
    assert refused.field.endswith('.attributes["mlpulse.feature.*"]')
    assert "length <= 2000" in refused.reason


def test_place_names_the_attribute_a_field_came_from() -> None:
    where = "resourceSpans[0].scopeSpans[0].spans[0]"
    genai = _span({"gen_ai.request.model": "gpt-4o"}, resource={"service.version": "1"})

    assert place(genai, "model") == f'{where}.attributes["gen_ai.request.model"]'
    assert place(genai, "version") == f'{where}.attributes["service.version"]'
    assert place(genai, "features.x") == f'{where}.attributes["mlpulse.feature.x"]'
    assert place(genai, "features") == f'{where}.attributes["mlpulse.feature.*"]'
    assert place(genai, "segment.a\x07") == f'{where}.attributes["mlpulse.segment.a\\x07"]'
    assert place(genai, "score") == f'{where}.attributes["mlpulse.score"]'
    assert place(genai, "timestamp") == f"{where}.endTimeUnixNano"
    assert place(genai, "request_id") == f"{where}.traceId"
