"""OpenTelemetry spans to prediction events: which span attributes mean what.

A span (or an OTLP log record, read as a span without a duration: ``start_ns`` 0, its
time as ``end_ns``, severity ERROR or above as an error status) describes one inference
when it names a model. The attribute names follow the
OpenTelemetry semantic conventions where one exists (the GenAI conventions for the model
name and token usage) and an ``mlpulse.*`` namespace where none does:

======================================  ==========================================
span (or resource) attribute            prediction field
======================================  ==========================================
``mlpulse.model``                       ``model`` (required, or the next one)
``gen_ai.request.model``                ``model`` when ``mlpulse.model`` is absent
``mlpulse.version``                     ``version`` (required, or the next ones)
``gen_ai.response.model``               ``version`` when ``mlpulse.version`` is absent
resource ``service.version``            ``version`` when neither is set
``mlpulse.feature.<name>``              ``features[<name>]``
``gen_ai.usage.input_tokens``,          ``features["gen_ai.usage.input_tokens"]``, ...
``gen_ai.usage.output_tokens``
``mlpulse.prediction``                  ``prediction``
``mlpulse.score``                       ``score``
``mlpulse.probability.<class>``         ``probabilities[<class>]``
``mlpulse.request_id``                  ``request_id`` (default: trace id + span id)
``mlpulse.latency_ms``                  ``latency_ms`` (default: the span's duration)
``mlpulse.segment.<key>``               ``segment[<key>]``
``mlpulse.error``                       ``error`` (else the status message of an
                                        ERROR status, or ``"error"``)
span end - start                        ``latency_ms``
span end time                           ``timestamp``
trace id (hex)                          ``trace_id``
======================================  ==========================================

Span attributes win over resource attributes of the same name. A span without a model
is not an inference: it is ignored (counted), not refused. A span whose attributes do
not make a valid prediction is refused with the attribute named.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

import msgspec

from mlpulse.domain.events import FeatureValue, Name, Prediction, Probability
from mlpulse.domain.ingest import Rejection

AttributeValue: TypeAlias = (
    "str | bool | int | float | bytes | list[AttributeValue] | dict[str, AttributeValue] | None"
)

MODEL: Final = "mlpulse.model"
VERSION: Final = "mlpulse.version"
FEATURE: Final = "mlpulse.feature."
PREDICTION: Final = "mlpulse.prediction"
SCORE: Final = "mlpulse.score"
PROBABILITY: Final = "mlpulse.probability."
REQUEST_ID: Final = "mlpulse.request_id"
SEGMENT: Final = "mlpulse.segment."
ERROR: Final = "mlpulse.error"
LATENCY: Final = "mlpulse.latency_ms"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
SERVICE_VERSION: Final = "service.version"
GEN_AI_FEATURES: Final = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")


@dataclass(frozen=True, slots=True)
class Span:
    """What the mapping needs of one OTLP span, whatever its wire format.

    ``where`` names the span in the request (``resourceSpans[0].scopeSpans[0].spans[3]``)
    so a refusal can point at it; ids are lowercase hex, times nanoseconds since the epoch.
    """

    where: str
    trace_id: str
    span_id: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, AttributeValue]
    resource: Mapping[str, AttributeValue]
    status_error: bool = False
    status_message: str = ""
    request_id: str = ""  # the default request id when there is no trace id (log records)


@dataclass(frozen=True, slots=True)
class SpanRefusal:
    """Why a span that names a model is not a valid prediction."""

    field: str
    reason: str


def span_prediction(span: Span) -> Prediction | SpanRefusal | None:
    """The prediction ``span`` describes, a refusal naming the attribute, or None when the
    span names no model (it is not an inference)."""
    attrs = span.attributes
    model = _first(span, MODEL, GEN_AI_REQUEST_MODEL)
    if model is None:
        return None
    version = _first(span, VERSION, GEN_AI_RESPONSE_MODEL, SERVICE_VERSION)
    if version is None:
        return SpanRefusal(
            f'{span.where}.attributes["{VERSION}"]',
            f"missing: a span with a model needs {VERSION} (or {GEN_AI_RESPONSE_MODEL}, "
            f"or {SERVICE_VERSION} on the resource)",
        )
    fields: dict[str, object] = {
        "model": _name(model[1]),
        "version": _name(version[1]),
        "request_id": f"{span.trace_id}{span.span_id}" if span.trace_id else span.request_id,
    }
    features: dict[str, object] = {}
    probabilities: dict[str, object] = {}
    segment: dict[str, object] = {}
    for name, value in (*span.resource.items(), *attrs.items()):
        if name.startswith(FEATURE):
            features[name[len(FEATURE) :]] = value
        elif name in GEN_AI_FEATURES:
            features[name] = value
        elif name.startswith(PROBABILITY):
            probabilities[name[len(PROBABILITY) :]] = value
        elif name.startswith(SEGMENT):
            # Segment values are names; numbers and flags become their text.
            segment[name[len(SEGMENT) :]] = _text(value)
        elif name in (PREDICTION, SCORE, REQUEST_ID, ERROR, LATENCY):
            key = name.removeprefix("mlpulse.")
            fields[key] = _name(value) if key == "request_id" else value
    fields["features"] = features
    if probabilities:
        fields["probabilities"] = probabilities
    if segment:
        fields["segment"] = segment
    error = fields.get("error")
    if error is True:
        fields["error"] = "error"
    elif error is False or (error is None and not span.status_error):
        fields.pop("error", None)
    elif error is None:
        fields["error"] = span.status_message or "error"
    if span.end_ns >= span.start_ns > 0 and "latency_ms" not in fields:
        fields["latency_ms"] = (span.end_ns - span.start_ns) / 1e6
    if span.end_ns > 0:
        fields["timestamp"] = span.end_ns / 1e9
    if span.trace_id:
        fields["trace_id"] = span.trace_id
    try:
        return msgspec.convert(fields, Prediction, strict=True)
    except msgspec.ValidationError as exc:
        return _refusal(span, str(exc), fields)


def _first(span: Span, *names: str) -> tuple[str, object] | None:
    for name in names:
        for attrs in (span.attributes, span.resource):
            value = attrs.get(name)
            if value is not None and value != "":
                return name, value
    return None


def _name(value: object) -> object:
    """A model, version or request id sent as a number (``mlpulse.version = 3``) is its text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _text(value: AttributeValue) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


_ENTRY_TYPES: Final[dict[str, object]] = {
    "features": FeatureValue,
    "probabilities": Probability,
    "segment": Name,
}


def _refusal(span: Span, message: str, fields: Mapping[str, object]) -> SpanRefusal:
    """msgspec says ``Expected `float`, got `str` - at `$.score```: name the attribute."""
    reason, _, at = message.partition(" - at `$")
    path = at.rstrip("`").lstrip(".")
    head = path.split("[", 1)[0]
    if path.endswith("[...]") and head in _ENTRY_TYPES:  # which entry: msgspec does not say
        entries = fields.get(head)
        assert isinstance(entries, dict)
        for key, value in entries.items():
            try:
                msgspec.convert(key, Name)
                msgspec.convert(value, _ENTRY_TYPES[head], strict=True)
            except msgspec.ValidationError as exc:
                head, reason = f"{head}.{key}", str(exc).partition(" - at `$")[0]
                break
    return SpanRefusal(place(span, head), reason)


_PREFIXES: Final = {"features": FEATURE, "segment": SEGMENT, "probabilities": PROBABILITY}
# Prediction fields that come from the span itself, not from an attribute.
_SPAN_FIELDS: Final = {"timestamp": "endTimeUnixNano", "trace_id": "traceId"}


def place(span: Span, field: str) -> str:
    """Where in the request a prediction ``field`` (``features.amount``) came from:
    ``resourceSpans[0].scopeSpans[0].spans[3].attributes["mlpulse.feature.amount"]``."""
    head, _, rest = field.partition(".")
    if head == "model":
        attribute = (_first(span, MODEL, GEN_AI_REQUEST_MODEL) or (MODEL,))[0]
    elif head == "version":
        attribute = (_first(span, VERSION, GEN_AI_RESPONSE_MODEL, SERVICE_VERSION) or (VERSION,))[0]
    elif head == "features" and rest in GEN_AI_FEATURES:
        attribute = rest
    elif head in _PREFIXES:
        attribute = _PREFIXES[head] + (rest or "*")
    elif head in _SPAN_FIELDS or (head == "request_id" and REQUEST_ID not in span.attributes):
        return f"{span.where}.{_SPAN_FIELDS.get(head, 'traceId')}"
    else:
        attribute = f"mlpulse.{field}" if field else "attributes"
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in attribute)
    return f'{span.where}.attributes["{shown}"]'


@dataclass(frozen=True, slots=True)
class TraceIntake:
    """The predictions of a request's spans: ``predictions[i]`` came from span number
    ``indexes[i]`` (counted over the whole request); the refused spans; how many spans
    named no model and were ignored."""

    predictions: list[Prediction]
    indexes: list[int]
    rejected: list[Rejection]
    ignored: int
    spans: dict[int, Span]  # the spans of the accepted predictions, by number

    def attribute_rejection(self, rejection: Rejection) -> Rejection:
        """A rejection of the ingest screen (``events[3].features.x``) that names the span
        and the attribute instead (``...spans[3].attributes["mlpulse.feature.x"]``)."""
        span = self.spans.get(rejection.index)
        prefix = f"events[{rejection.index}]."
        if span is None or not rejection.field.startswith(prefix):
            return rejection
        field = rejection.field[len(prefix) :]
        return Rejection(rejection.index, place(span, field), rejection.reason)


def trace_intake(spans: Iterable[Span]) -> TraceIntake:
    """Map every span (see :func:`span_prediction`)."""
    predictions: list[Prediction] = []
    indexes: list[int] = []
    rejected: list[Rejection] = []
    ignored = 0
    accepted: dict[int, Span] = {}
    for index, span in enumerate(spans):
        mapped = span_prediction(span)
        if mapped is None:
            ignored += 1
        elif isinstance(mapped, SpanRefusal):
            rejected.append(Rejection(index, mapped.field, mapped.reason))
        else:
            predictions.append(mapped)
            indexes.append(index)
            accepted[index] = span
    return TraceIntake(predictions, indexes, rejected, ignored, accepted)
