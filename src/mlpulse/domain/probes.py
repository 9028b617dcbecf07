"""Synthetic probes in ``mlpulse.yaml``: an HTTP request to a model endpoint on a schedule.

::

    probes:
      fraud-health:
        url: http://fraud.internal:8080/healthz
        every: 30s                  # default 30s
        timeout: 5s                 # default 5s; at most every
        expect_status: 200          # default 200
        body_contains: ok           # optional: the body must hold this text
        json_path: status           # optional, with json_equals: the JSON answer's
        json_equals: ok             #   value at status (dotted keys, list indices) is ok
        max_latency_ms: 500         # optional: slower counts as a failure
        model: fraud                # optional: the series' model label
      fraud-predict:
        url: http://fraud.internal:8080/predict
        method: POST
        headers: {Content-Type: application/json}
        body: '{"amount": 12.5}'

Each run writes ``mlpulse_probe_success`` (1 or 0), ``mlpulse_probe_latency_seconds``
and ``mlpulse_probe_status_code`` (0 when no answer came), labelled ``probe`` and
``model`` (:mod:`mlpulse.services.probes`). A probe pages through a rule over
``mlpulse_probe_success``, like any other series.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Final, Literal, TypeAlias
from urllib.parse import urlsplit

import msgspec

from mlpulse.domain.events import FiniteFloat, Name
from mlpulse.domain.window import parse_duration
from mlpulse.errors import ConfigProblem, InvalidInputError

__all__ = ["ProbeConfig", "ProbeOutcome", "ProbeResponse", "probe_outcome", "probe_problems"]

Method: TypeAlias = Literal["GET", "POST", "HEAD", "PUT"]
Duration = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
Header = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
MIN_EVERY_S: Final = 1.0
MAX_TIMEOUT_S: Final = 60.0


class ProbeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One probe: what to request, how often, and what a good answer is.

    >>> probe = ProbeConfig(url="http://127.0.0.1:8080/healthz")
    >>> probe.method, probe.every, probe.timeout, probe.expect_status
    ('GET', '30s', '5s', 200)
    """

    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    method: Method = "GET"
    every: Duration = "30s"
    timeout: Duration = "5s"
    expect_status: int = 200
    body_contains: str | None = None
    json_path: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    json_equals: str | None = None
    max_latency_ms: FiniteFloat | None = None
    headers: dict[Header, Header] | None = None
    body: str | None = None
    model: Name | None = None

    @property
    def every_s(self) -> float:
        return parse_duration(self.every, field="every")

    @property
    def timeout_s(self) -> float:
        return parse_duration(self.timeout, field="timeout")


@dataclass(frozen=True, slots=True)
class ProbeResponse:
    """What came back: the status (None when no answer came), the body's start, seconds.

    ``error`` names what went wrong when no answer came (``ConnectTimeout``).
    """

    status: int | None
    body: str
    elapsed_s: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """One run of a probe graded: success, and why not."""

    success: bool
    reason: str | None = None


def probe_outcome(probe: ProbeConfig, response: ProbeResponse) -> ProbeOutcome:
    """Whether ``response`` is what ``probe`` expects.

    >>> probe = ProbeConfig(url="http://h/", body_contains="ok", max_latency_ms=100)
    >>> probe_outcome(probe, ProbeResponse(200, "all ok", 0.05))
    ProbeOutcome(success=True, reason=None)
    >>> probe_outcome(probe, ProbeResponse(200, "all ok", 0.5)).reason
    'latency 500 ms above max_latency_ms 100'
    >>> probe_outcome(probe, ProbeResponse(503, "down", 0.01)).reason
    'status 503, expected 200'
    """
    if response.status is None:
        return ProbeOutcome(False, f"no answer: {response.error or 'error'}")
    if response.status != probe.expect_status:
        return ProbeOutcome(False, f"status {response.status}, expected {probe.expect_status}")
    if probe.body_contains is not None and probe.body_contains not in response.body:
        return ProbeOutcome(False, f"body does not contain {probe.body_contains!r}")
    if probe.json_path is not None:
        found = _json_text(response.body, probe.json_path)
        if found != probe.json_equals:
            what = "body is not JSON" if found is _NOT_JSON else (
                f"no value at json_path {probe.json_path!r}" if found is None
                else f"json_path {probe.json_path!r} is {found!r}")  # fmt: skip
            return ProbeOutcome(False, f"{what}, expected {probe.json_equals!r}")
    latency_ms = response.elapsed_s * 1000.0
    if probe.max_latency_ms is not None and latency_ms > probe.max_latency_ms:
        return ProbeOutcome(
            False, f"latency {latency_ms:.0f} ms above max_latency_ms {probe.max_latency_ms:g}"
        )
    return ProbeOutcome(True)


_NOT_JSON: Final = "\x00not json"


def _json_text(body: str, path: str) -> str | None:
    """The value at dotted ``path`` of the JSON ``body`` as text (strings as they are,
    others as JSON: ``1``, ``true``, ``null``); None when there is none.

    >>> _json_text('{"model": {"ready": true, "versions": ["v1", "v2"]}}', "model.ready")
    'true'
    >>> _json_text('{"model": {"versions": ["v1", "v2"]}}', "model.versions.1")
    'v2'
    >>> _json_text('{"a": 1}', "b") is None, _json_text("<html>", "a") == _NOT_JSON
    (True, True)
    """
    try:
        value = json.loads(body)
    except ValueError:
        return _NOT_JSON
    for key in path.split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value if isinstance(value, str) else json.dumps(value)


def _duration(path: str, text: str) -> Iterator[ConfigProblem]:
    field = path.rsplit(".", 1)[-1]
    try:
        parse_duration(text, field=field)
    except InvalidInputError as exc:
        yield ConfigProblem(path, exc.message.removeprefix(f"{field} "))


def probe_problems(probes: Mapping[str, ProbeConfig]) -> Iterator[ConfigProblem]:
    """What cannot work in ``probes``, each problem with its dotted path.

    >>> probe = ProbeConfig(url="fraud:8080/healthz", every="5s", timeout="10s",
    ...                     expect_status=99, max_latency_ms=0)
    >>> for p in probe_problems({"p": probe}): print(p)
    probes.p.url: must be an http:// or https:// URL with a host; got 'fraud:8080/healthz'
    probes.p.timeout: must be at most every (5s); got '10s'
    probes.p.expect_status: must be an HTTP status from 100 to 599; got 99
    probes.p.max_latency_ms: must be above 0; got 0
    """
    for name, probe in probes.items():
        path = f"probes.{name}"
        parts = urlsplit(probe.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            yield ConfigProblem(
                f"{path}.url", f"must be an http:// or https:// URL with a host; got {probe.url!r}"
            )
        every = list(_duration(f"{path}.every", probe.every))
        timeout = list(_duration(f"{path}.timeout", probe.timeout))
        yield from every
        yield from timeout
        if not every and probe.every_s < MIN_EVERY_S:
            yield ConfigProblem(f"{path}.every", f"must be at least 1s; got {probe.every!r}")
        if not timeout and probe.timeout_s > MAX_TIMEOUT_S:
            yield ConfigProblem(f"{path}.timeout", f"must be at most 60s; got {probe.timeout!r}")
        elif not every and not timeout and probe.timeout_s > probe.every_s:
            yield ConfigProblem(
                f"{path}.timeout", f"must be at most every ({probe.every}); got {probe.timeout!r}"
            )
        if not 100 <= probe.expect_status <= 599:
            yield ConfigProblem(
                f"{path}.expect_status",
                f"must be an HTTP status from 100 to 599; got {probe.expect_status}",
            )
        if probe.max_latency_ms is not None and probe.max_latency_ms <= 0:
            yield ConfigProblem(
                f"{path}.max_latency_ms", f"must be above 0; got {probe.max_latency_ms:g}"
            )
        if (probe.json_path is None) != (probe.json_equals is None):
            field = "json_equals" if probe.json_equals is None else "json_path"
            yield ConfigProblem(
                f"{path}.{field}", "json_path and json_equals go together: set both or neither"
            )
        if probe.body is not None and probe.method in ("GET", "HEAD"):
            yield ConfigProblem(
                f"{path}.body", f"a {probe.method} request sends no body; use POST or PUT"
            )
