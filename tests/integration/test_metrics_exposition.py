"""``GET /metrics`` after known traffic: valid exposition format and exact counts.

A collector of this module's own receives a fixed set of requests (valid events
for two versions, rejected events, a batch with nothing valid, a retry, a body
that does not parse), so every counter has one right value.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlpulse.domain.auth import Scope
from mlpulse.testing.process import CollectorProcess, create_key
from tests.prometheus_tools import prometheus_tool

MODEL = "fraud"
# Latencies in milliseconds; several fall exactly on a bucket bound (1 ms, 5 ms, 250 ms, 10 s),
# one is over the largest bound.
LATENCIES_MS = {
    "v1": [0.5, 1.0, 3.0, 5.0, 7.5, 42.0, 250.0, 900.0, 10_000.0, 12_000.0],
    "v2": [2.5, 2.6, 60.0, 60.0, 4_000.0],
}
WITHOUT_LATENCY = {"v1": 2, "v2": 1}  # predictions that report no latency
ERRORS = {"v1": 1, "v2": 2}  # predictions that report an error (with a latency)
BOUNDS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _predictions(version: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    latencies = LATENCIES_MS[version]
    for i, latency in enumerate(latencies):
        event = {"latency_ms": latency, "score": 0.5, "features": {"amount": float(i)}}
        if i < ERRORS[version]:
            event["error"] = "timeout"
        events.append(event)
    events.extend({"score": 0.1} for _ in range(WITHOUT_LATENCY[version]))
    return [
        {"kind": "prediction", "model": MODEL, "version": version, "request_id": f"{version}-{i}"}
        | event
        for i, event in enumerate(events)
    ]


def _invalid(n: int) -> list[dict[str, Any]]:
    return [
        {"kind": "prediction", "model": MODEL, "version": "v1", "request_id": f"bad-{i}",
         "latency_ms": -1.0}
        for i in range(n)
    ]  # fmt: skip


LABELS = [{"kind": "label", "model": MODEL, "request_id": "v1-0", "label": 1}]
OUTCOMES = [{"kind": "outcome", "name": "purchase", "value": 19.99, "model": MODEL}] * 2

# Batches that reach the store, in order: (events, how many are invalid).
BATCH_1 = [*_predictions("v1"), *LABELS, *_invalid(2)]
BATCH_2 = [*_predictions("v2"), *OUTCOMES, *_invalid(1)]
BATCH_3 = _invalid(3)  # nothing valid: 422
STORED_BATCHES = ((BATCH_1, 2), (BATCH_2, 1), (BATCH_3, 3))


@dataclass(frozen=True)
class Scraped:
    text: str
    content_type: str


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    """/metrics of a fresh collector after exactly the traffic described above."""
    data_dir: Path = tmp_path_factory.mktemp("metrics-collector")
    ingest_key = create_key(data_dir, [Scope.INGEST], name="ingest")
    read_key = create_key(data_dir, [Scope.READ], name="read")
    with (
        CollectorProcess(data_dir) as process,
        httpx.Client(base_url=process.url, timeout=30.0) as http,
    ):
        ingest = {"Authorization": f"Bearer {ingest_key}"}

        def send(body: bytes, content_type: str) -> int:
            headers = {**ingest, "Content-Type": content_type}
            return http.post("/v1/ingest", content=body, headers=headers).status_code

        first = json.dumps({"batch_id": "metrics-1", "events": BATCH_1}).encode()
        assert send(first, "application/json") == 200
        second = msgspec.msgpack.encode({"batch_id": "metrics-2", "events": BATCH_2})
        assert send(second, "application/msgpack") == 200
        assert send(json.dumps({"events": BATCH_3}).encode(), "application/json") == 422
        assert send(first, "application/json") == 200  # a retry: counted nowhere
        assert send(b'{"events": [', "application/json") == 400  # never decoded

        response = http.get("/metrics", headers={"Authorization": f"Bearer {read_key}"})
        assert response.status_code == 200, response.text
        yield Scraped(response.text, response.headers["content-type"])


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    assert key in samples, f"no sample {name}{labels}"
    return samples[key]


def promtool() -> str:
    return prometheus_tool("promtool")


def test_metrics_output_passes_promtool_check(scraped: Scraped) -> None:
    checked = subprocess.run(
        [promtool(), "check", "metrics"],
        input=scraped.text.encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )

    # promtool exits 1 on a parse error and 3 on a lint problem (a counter without _total, ...).
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


def test_metrics_is_served_as_prometheus_text(scraped: Scraped) -> None:
    assert scraped.content_type.startswith("text/plain")
    assert scraped.text.endswith("\n")


@pytest.mark.parametrize(
    "name",
    [
        "mlpulse_predictions_total",
        "mlpulse_prediction_errors_total",
        "mlpulse_prediction_latency_seconds_bucket",
        "mlpulse_prediction_latency_seconds_count",
        "mlpulse_prediction_latency_seconds_sum",
    ],
)
def test_metrics_exposes_prediction_series_per_model_version(scraped: Scraped, name: str) -> None:
    labelled = {
        (sample.labels.get("model"), sample.labels.get("version"))
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
        if sample.name == name
    }

    assert labelled == {(MODEL, "v1"), (MODEL, "v2")}


@pytest.mark.parametrize(
    "name",
    [
        "mlpulse_ingest_events_total",
        "mlpulse_ingest_rejected_events_total",
        "mlpulse_ingest_batch_events_bucket",
        "mlpulse_ingest_batch_events_count",
        "mlpulse_ingest_batch_events_sum",
        "mlpulse_ingest_duration_seconds_bucket",
        "mlpulse_ingest_duration_seconds_count",
        "mlpulse_ingest_duration_seconds_sum",
    ],
)
def test_metrics_exposes_collector_series(scraped: Scraped, name: str) -> None:
    names = {s.name for f in text_string_to_metric_families(scraped.text) for s in f.samples}

    assert name in names


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_metrics_counts_predictions_and_errors_per_version(scraped: Scraped, version: str) -> None:
    samples = parse(scraped.text)
    labels = {"model": MODEL, "version": version}

    assert value(samples, "mlpulse_predictions_total", **labels) == (
        len(LATENCIES_MS[version]) + WITHOUT_LATENCY[version]
    )
    assert value(samples, "mlpulse_prediction_errors_total", **labels) == ERRORS[version]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_metrics_latency_histogram_counts_each_latency_under_its_bounds(
    scraped: Scraped, version: str
) -> None:
    samples = parse(scraped.text)
    labels = {"model": MODEL, "version": version}
    seconds = [ms / 1000 for ms in LATENCIES_MS[version]]

    buckets = {
        float(dict(key)["le"]): count
        for (name, key), count in samples.items()
        if name == "mlpulse_prediction_latency_seconds_bucket"
        and {k: v for k, v in key if k != "le"} == labels
    }

    assert buckets == {
        **{bound: sum(s <= bound for s in seconds) for bound in BOUNDS_S},
        float("inf"): len(seconds),
    }
    assert value(samples, "mlpulse_prediction_latency_seconds_count", **labels) == len(seconds)
    assert value(samples, "mlpulse_prediction_latency_seconds_sum", **labels) == pytest.approx(
        sum(seconds), rel=1e-9
    )


def test_metrics_counts_stored_events_by_kind_and_rejected_events(scraped: Scraped) -> None:
    samples = parse(scraped.text)
    predictions = sum(len(v) + WITHOUT_LATENCY[k] for k, v in LATENCIES_MS.items())

    assert value(samples, "mlpulse_ingest_events_total", kind="prediction") == predictions
    assert value(samples, "mlpulse_ingest_events_total", kind="label") == len(LABELS)
    assert value(samples, "mlpulse_ingest_events_total", kind="outcome") == len(OUTCOMES)
    assert value(samples, "mlpulse_ingest_rejected_events_total") == sum(
        invalid for _, invalid in STORED_BATCHES
    )


def test_metrics_observes_each_stored_batch_once(scraped: Scraped) -> None:
    """The retry and the body that does not parse are not batches of events."""
    samples = parse(scraped.text)
    sizes = [len(events) for events, _ in STORED_BATCHES]

    assert value(samples, "mlpulse_ingest_batch_events_count") == len(sizes)
    assert value(samples, "mlpulse_ingest_batch_events_sum") == sum(sizes)
    assert value(samples, "mlpulse_ingest_batch_events_bucket", le="10.0") == sum(
        size <= 10 for size in sizes
    )
    assert value(samples, "mlpulse_ingest_batch_events_bucket", le="+Inf") == len(sizes)
    assert value(samples, "mlpulse_ingest_duration_seconds_count") == len(sizes)
    assert value(samples, "mlpulse_ingest_duration_seconds_sum") > 0


def test_metrics_counts_ingest_requests_by_status(scraped: Scraped) -> None:
    samples = parse(scraped.text)

    assert value(samples, "mlpulse_ingest_requests_total", status="200") == 3
    assert value(samples, "mlpulse_ingest_requests_total", status="422") == 1
    assert value(samples, "mlpulse_ingest_requests_total", status="400") == 1
