"""An OpenTelemetry-instrumented FastAPI service (opentelemetry-instrumentation-fastapi)
puts inference attributes on its server spans and exports them to a running collector;
labels logged with the SDK join those predictions by their default request id (trace id +
span id), and the stored predictions and labels equal what the SDK path stores for the
same traffic."""

from __future__ import annotations

import math
import warnings
from typing import Any

import duckdb
import httpx
import numpy as np
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from mlpulse import Client
from tests.conftest import RunningCollector

# Starlette 1.x warns at import that its TestClient wants the `httpx2` package, which the
# dev environment does not install; with plain httpx the TestClient works the same.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

N = 300


def _score(amount: float, country: str) -> float:
    return round(
        1.0 / (1.0 + math.exp(-(amount - 50.0) / 20.0)) * (0.8 if country == "DE" else 1.0), 6
    )


def _service(provider: TracerProvider) -> FastAPI:
    app = FastAPI()

    @app.post("/predict")
    def predict(body: dict[str, Any]) -> dict[str, Any]:
        score = _score(body["amount"], body["country"])
        span = trace.get_current_span()  # the server span of this request
        span.set_attributes(
            {
                "mlpulse.model": "fastapi-otel",
                "mlpulse.feature.amount": body["amount"],
                "mlpulse.feature.country": body["country"],
                "mlpulse.prediction": int(score > 0.5),
                "mlpulse.score": score,
            }
        )
        context = span.get_span_context()
        return {"request_id": f"{context.trace_id:032x}{context.span_id:016x}", "score": score}

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    return app


def test_otlp_instrumented_fastapi_service_matches_the_sdk_path_with_labels(
    collector: RunningCollector,
) -> None:
    rng = np.random.default_rng(5)
    amounts = np.round(rng.lognormal(3.5, 0.8, N), 2)
    countries = rng.choice(["DE", "FR", "US"], N)
    labels = rng.random(N) < 0.3
    provider = TracerProvider(resource=Resource.create({"service.version": "v7"}))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(
                endpoint=f"{collector.url}/v1/traces",
                headers={"Authorization": f"Bearer {collector.ingest_key}"},
            )
        )
    )
    with TestClient(_service(provider)) as service:
        answers = [
            service.post(
                "/predict", json={"amount": float(amounts[i]), "country": str(countries[i])}
            ).json()
            for i in range(N)
        ]
    assert provider.force_flush(30_000)
    provider.shutdown()

    with Client(collector.url, collector.ingest_key, batch_size=1000) as client:
        for i, answer in enumerate(answers):
            features = {"amount": float(amounts[i]), "country": str(countries[i])}
            prediction = int(answer["score"] > 0.5)
            client.log_prediction(
                "fastapi-sdk", "v7", features, prediction,
                request_id=answer["request_id"], score=answer["score"],
            )  # fmt: skip
            for model in ("fastapi-otel", "fastapi-sdk"):
                client.log_label(model, answer["request_id"], int(labels[i]), version="v7")
        assert client.flush(timeout=30)
        assert client.stats().rejected == 0

    summary = httpx.get(
        f"{collector.url}/v1/models/fastapi-otel/summary",
        params={"window": "1h"},
        headers=collector.headers(collector.read_key),
    ).json()
    assert [(v["version"], v["count"], v["errors"]) for v in summary["versions"]] == [("v7", N, 0)]

    collector.process.stop()  # the event store is the collector's while it runs
    with duckdb.connect(str(collector.process.data_dir / "events.duckdb"), read_only=True) as con:
        stored = {
            model: con.execute(
                "SELECT p.request_id, p.version, p.prediction, p.score, p.numbers, p.strings, "
                "l.label FROM predictions AS p JOIN labels AS l "
                "ON l.model = p.model AND l.request_id = p.request_id "
                "WHERE p.model = ? ORDER BY p.request_id",
                [model],
            ).fetchall()
            for model in ("fastapi-otel", "fastapi-sdk")
        }
    assert len(stored["fastapi-otel"]) == N
    assert stored["fastapi-otel"] == stored["fastapi-sdk"]
    assert stored["fastapi-otel"][0][4]["amount"] > 0
