"""A fraud-scoring service on FastAPI, instrumented with the mlpulse SDK.

What it shows (docs/sdk-fastapi.md walks through it):

* ``mlpulse.Client.from_env()`` made at start-up and closed at shutdown (the lifespan),
  so the events still buffered are delivered before the process exits;
* ``client.track(...)`` around each prediction: it times the block and logs the
  prediction with its latency, or with the error if the model raises;
* ``/feedback`` sends the ground truth with ``client.log_label`` (joined to the
  prediction by its request id), ``/purchase`` a business outcome with
  ``client.log_outcome``;
* ``client.router("fraud")``: when the model is in mlpulse's registry, the router picks
  the version per user (champion / challenger, sticky by user id) and its circuit
  breaker is fed with each call's result. When it is not registered, ``v1`` serves all.

The two versions are scikit-learn logistic regressions trained at start-up on synthetic
data, so the file runs as it is::

    pip install 'mlpulse' fastapi 'uvicorn[standard]' scikit-learn
    export MLPULSE_URL=http://127.0.0.1:8080 MLPULSE_API_KEY=<a key with the ingest scope>
    uvicorn fastapi_service:app --app-dir examples --port 8000
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from fastapi import FastAPI, Request
from pydantic import BaseModel, Field
from sklearn.linear_model import LogisticRegression

import mlpulse
from mlpulse.errors import ConfigurationError
from mlpulse.sdk.router import Router

log = logging.getLogger("fraud_service")

MODEL = "fraud"
DEFAULT_VERSION = "v1"  # serves every request when the model is not in the registry
COUNTRIES = ("DE", "FR", "US", "BR")


# -- the model: two versions of a logistic regression on synthetic data --------------------


def encode(amount: float, account_age_days: float, country: str) -> np.ndarray:
    """One row of model input: log amount, account age in years, one-hot country."""
    row = [math.log1p(amount), account_age_days / 365.0]
    row += [1.0 if country == c else 0.0 for c in COUNTRIES]
    return np.asarray([row])


def train_models(seed: int = 0, rows: int = 5_000) -> dict[str, LogisticRegression]:
    """v1 (the champion) and v2 (a more regularised challenger), on the same data."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.5, 1.0, rows)
    age = rng.uniform(0, 3_000, rows)
    country = rng.choice(COUNTRIES, rows)
    x = np.vstack([encode(a, d, c)[0] for a, d, c in zip(amount, age, country, strict=True)])
    logit = -4.0 + 0.6 * np.log1p(amount) - 0.002 * age + 1.2 * (country == "BR")
    y = (rng.uniform(size=rows) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return {
        "v1": LogisticRegression(C=1.0, max_iter=1_000).fit(x, y),
        "v2": LogisticRegression(C=0.05, max_iter=1_000).fit(x, y),
    }


# -- the service: what lives from start-up to shutdown ----------------------------------------


@dataclass
class Service:
    client: mlpulse.Client
    models: dict[str, LogisticRegression]
    router: Router | None


def find_router(client: mlpulse.Client) -> Router | None:
    """The model's router, or None when the model is not in mlpulse's registry."""
    try:
        return client.router(MODEL, ready_timeout=5.0)
    except ConfigurationError as exc:  # e.g. HTTP 404: no model named 'fraud' in the registry
        log.warning("no routing for %s, serving %s: %s", MODEL, DEFAULT_VERSION, exc)
        return None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    client = mlpulse.Client.from_env()  # MLPULSE_URL, MLPULSE_API_KEY
    try:
        app.state.service = Service(client, train_models(), find_router(client))
        yield
    finally:
        # Delivers what is still buffered (up to 5 s) and stops the router with it.
        client.close(timeout=5.0)


app = FastAPI(title="fraud scoring", lifespan=lifespan)


def service(request: Request) -> Service:
    found: Service = request.app.state.service
    return found


# -- the API ----------------------------------------------------------------------------------


class Transaction(BaseModel):
    user_id: str = Field(min_length=1, max_length=200)
    amount: float = Field(gt=0)
    account_age_days: float = Field(ge=0)
    country: str = Field(min_length=2, max_length=2)
    channel: Literal["web", "app"] = "web"


class Scored(BaseModel):
    request_id: str
    version: str
    is_fraud: bool
    score: float


class Feedback(BaseModel):
    request_id: str = Field(min_length=1, max_length=200)
    is_fraud: bool
    version: str | None = None  # as /predict returned it; optional


class Purchase(BaseModel):
    request_id: str = Field(min_length=1, max_length=200)
    amount: float = Field(ge=0)
    version: str | None = None


@app.post("/predict")
def predict(body: Transaction, request: Request) -> Scored:
    svc = service(request)
    version = DEFAULT_VERSION
    if svc.router is not None:
        version = svc.router.choose(body.user_id).version  # sticky per user
    model = svc.models.get(version)
    if model is None:  # the registry names a version this process does not have
        log.warning(
            "version %s of %s is not loaded here; serving %s", version, MODEL, DEFAULT_VERSION
        )
        version, model = DEFAULT_VERSION, svc.models[DEFAULT_VERSION]
    features: dict[str, Any] = {
        "amount": body.amount,
        "account_age_days": body.account_age_days,
        "country": body.country,
    }
    tracked = svc.client.track(MODEL, version, features, segment={"channel": body.channel})
    try:
        with tracked as t:  # times the block; logs the prediction (or the error) on exit
            score = float(model.predict_proba(encode(**features))[0, 1])
            t.prediction = int(score >= 0.5)
            t.score = score
    except Exception:
        if svc.router is not None:
            svc.router.record(version, ok=False, latency_ms=tracked.latency_ms)
        raise
    if svc.router is not None:
        svc.router.record(version, ok=True, latency_ms=tracked.latency_ms)
    return Scored(
        request_id=tracked.request_id, version=version, is_fraud=score >= 0.5, score=score
    )


@app.post("/feedback", status_code=202)
def feedback(body: Feedback, request: Request) -> dict[str, str]:
    """The ground truth, e.g. from the chargeback process, days after the prediction."""
    service(request).client.log_label(
        MODEL, body.request_id, int(body.is_fraud), version=body.version
    )
    return {"request_id": body.request_id}


@app.post("/purchase", status_code=202)
def purchase(body: Purchase, request: Request) -> dict[str, str]:
    """A business outcome: the transaction went through, for this amount."""
    service(request).client.log_outcome(
        "purchase_amount",
        body.amount,
        model=MODEL,
        version=body.version,
        request_id=body.request_id,
    )
    return {"request_id": body.request_id}


@app.get("/healthz")
def healthz(request: Request) -> dict[str, Any]:
    """Liveness, with the SDK's counters (dropped > 0 means the collector fell behind)."""
    return {"status": "ok", "mlpulse": asdict(service(request).client.stats())}
