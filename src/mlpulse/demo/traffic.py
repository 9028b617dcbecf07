"""What the demo's two services send: traffic of a recommendation platform and a fraud model.

Requests arrive as a Poisson process with a daily cycle (peak at 20:00, trough at 08:00);
``per_day`` is the day's expected total. Everything is drawn from the numpy generator
the demo seeds, so a seed gives the same day every time.

* **recs** ranks items for users. Each shown item has an affinity to its user; the
  click probability is a logistic function of it, and a better ranking model shows
  items of higher affinity (``RecsVersion.lift``), so it gets more clicks. The model's
  score is its estimate of the click probability. About 8% of clicks become purchases.
* **fraud** scores card payments; the score is a Beta draw whose parameters move when
  the scenario shifts the model's inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DAY = 86_400.0
PEAK_HOUR = 20.0
SWING = 0.5  # the rate is (1 ± SWING) × the mean at the peak and the trough

CATEGORIES = np.array(["fashion", "home", "electronics", "books", "sports", "toys"])
CATEGORY_SHARES = np.array([0.28, 0.22, 0.18, 0.14, 0.12, 0.06])
DEVICES = np.array(["ios", "android", "web"])
DEVICE_SHARES = np.array([0.38, 0.42, 0.20])
COUNTRIES = np.array(["DE", "FR", "GB", "US", "ES", "IT", "NL"])
MERCHANTS = np.array(["grocery", "travel", "electronics", "fashion", "gaming", "services"])


def expected_requests(per_day: float, start: float, end: float, day_start: float) -> float:
    """The expected number of requests in [start, end): the integral of the daily rate."""

    def integral(t: float) -> float:
        phase = 2 * math.pi * ((t - day_start) / 3600.0 - PEAK_HOUR) / 24.0
        return t + SWING * DAY / (2 * math.pi) * math.sin(phase)

    return per_day / DAY * (integral(end) - integral(start))


def arrival_times(rng: np.random.Generator, n: int, start: float, end: float) -> np.ndarray:
    """``n`` sorted arrival times in [start, end) (the cycle is flat within one step)."""
    return np.sort(rng.uniform(start, end, n))


@dataclass(frozen=True)
class RecsVersion:
    lift: float  # affinity added to the shown item: a better ranker shows better items
    sharpness: float  # how much of the affinity the score sees (0..1)
    latency_median_ms: float
    error_rate: float
    error: str = "TimeoutError: feature store did not answer in 200 ms"


RECS_VERSIONS = {
    "v1": RecsVersion(lift=0.0, sharpness=0.55, latency_median_ms=32.0, error_rate=0.002),
    # The broken deployment: a dependency it calls times out under load.
    "v2": RecsVersion(
        lift=0.0, sharpness=0.55, latency_median_ms=85.0, error_rate=0.30,
        error="RuntimeError: embedding service returned 503",
    ),
    "v3": RecsVersion(lift=0.22, sharpness=0.7, latency_median_ms=36.0, error_rate=0.002),
}  # fmt: skip
CLICK_INTERCEPT = -3.25


def click_probability(affinity: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(CLICK_INTERCEPT + 1.1 * affinity)))


@dataclass
class RecsRequests:
    """One step of recs traffic for one version, column by column."""

    times: np.ndarray
    users: np.ndarray  # user numbers
    features: dict[str, list[object]]
    score: np.ndarray
    clicked: np.ndarray
    purchase_value: np.ndarray  # 0 where no purchase
    latency_ms: np.ndarray
    failed: np.ndarray


def recs_requests(
    rng: np.random.Generator,
    times: np.ndarray,
    users: np.ndarray,
    version: RecsVersion,
    *,
    price_factor: float = 1.0,
) -> RecsRequests:
    n = len(times)
    affinity = rng.normal(0.0, 1.0, n) + version.lift
    estimate = version.sharpness * affinity + math.sqrt(1 - version.sharpness**2) * rng.normal(
        0.0, 1.0, n
    )
    score = click_probability(estimate + version.lift)
    failed = rng.random(n) < version.error_rate
    clicked = (rng.random(n) < click_probability(affinity)) & ~failed
    price = rng.lognormal(3.1, 0.75, n)
    purchased = clicked & (rng.random(n) < 0.08)
    features: dict[str, list[object]] = {
        "user_tenure_days": np.round(rng.lognormal(5.0, 1.1, n), 1).tolist(),
        "session_depth": (rng.poisson(3.0, n) + 1).tolist(),
        "item_price": np.round(price * price_factor, 2).tolist(),
        "category": rng.choice(CATEGORIES, n, p=CATEGORY_SHARES).tolist(),
        "device": rng.choice(DEVICES, n, p=DEVICE_SHARES).tolist(),
    }
    return RecsRequests(
        times=times,
        users=users,
        features=features,
        score=np.round(score, 5),
        clicked=clicked,
        purchase_value=np.where(purchased, np.round(price, 2), 0.0),
        latency_ms=np.round(rng.lognormal(math.log(version.latency_median_ms), 0.35, n), 2),
        failed=failed,
    )


@dataclass
class FraudRequests:
    times: np.ndarray
    features: dict[str, list[object]]
    score: np.ndarray
    latency_ms: np.ndarray


def fraud_requests(rng: np.random.Generator, times: np.ndarray, *, shifted: bool) -> FraudRequests:
    """Card payments. ``shifted``: an upstream job sends ``velocity_1h`` per minute instead
    of per hour (60× too small), and the model, which reads a low velocity as a card
    used far from home, scores every payment higher."""
    n = len(times)
    velocity = rng.poisson(4.0, n).astype(float)
    if shifted:
        velocity = np.round(velocity / 60.0, 3)
        score = rng.beta(3.0, 9.0, n)
    else:
        score = rng.beta(1.2, 28.0, n)
    features: dict[str, list[object]] = {
        "amount": np.round(rng.lognormal(3.4, 1.1, n), 2).tolist(),
        "card_age_days": rng.integers(1, 3650, n).tolist(),
        "velocity_1h": velocity.tolist(),
        "country": rng.choice(COUNTRIES, n).tolist(),
        "merchant": rng.choice(MERCHANTS, n).tolist(),
    }
    return FraudRequests(
        times=times,
        features=features,
        score=np.round(score, 5),
        latency_ms=np.round(rng.lognormal(math.log(4.0), 0.3, n), 2),
    )
