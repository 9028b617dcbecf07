"""What a deployment did to its model's traffic: the window before it against the window
after it (throughput, error rate, the worst version's p99 latency).

Each window is ``span`` seconds long, cut short by the model's neighbouring deployments
that moved traffic (a promotion two seconds before a rollback must not lend the rollback
its failures, nor the next hour's fix) and, after it, by ``now``. Registering a shadow
or archiving a version at weight 0 moves no traffic and cuts nothing.

The latency shown is the highest p99 among the versions that served: the model's own
p99 over the mixture of its versions is never above it (every version's share of calls
slower than it is at most 1%), and a slow new version stands out in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from mlpulse.domain.models import VersionSummary
from mlpulse.domain.registry import Deployment
from mlpulse.ports import TrafficSource

DEFAULT_SPAN: Final = 1800.0
MIN_WINDOW: Final = 1.0  # an "after" window shorter than this is not measured yet


class TrafficWindow(msgspec.Struct, frozen=True):
    """A model's traffic, all versions together, over [start, end)."""

    start: float
    end: float
    predictions: int
    errors: int
    throughput_per_s: float
    error_rate: float | None  # None without predictions
    worst_p99_ms: float | None  # the highest p99 of the versions that served


class DeploymentImpact(msgspec.Struct, frozen=True):
    deployment: Deployment
    before: TrafficWindow
    after: TrafficWindow | None  # None until at least MIN_WINDOW has passed


class DeploymentImpactList(msgspec.Struct, frozen=True):
    span_s: float
    impacts: list[DeploymentImpact]


def combined(summaries: Sequence[VersionSummary], start: float, end: float) -> TrafficWindow:
    """One window of the model from its versions' summaries of [start, end).

    >>> from mlpulse.domain.models import LatencyPercentiles
    >>> v1 = VersionSummary("v1", 90, 0, 1.5, 0.0, LatencyPercentiles(3.0, 8.0, 12.0))
    >>> v2 = VersionSummary("v2", 30, 9, 0.5, 0.3, LatencyPercentiles(5.0, 40.0, 95.0))
    >>> w = combined([v1, v2], 0.0, 60.0)
    >>> (w.predictions, w.errors, w.throughput_per_s, w.error_rate, w.worst_p99_ms)
    (120, 9, 2.0, 0.075, 95.0)
    """
    predictions = sum(s.count for s in summaries)
    errors = sum(s.errors for s in summaries)
    p99s = [s.latency_ms.p99 for s in summaries if s.latency_ms.p99 is not None and s.count]
    return TrafficWindow(
        start=start,
        end=end,
        predictions=predictions,
        errors=errors,
        throughput_per_s=predictions / (end - start) if end > start else 0.0,
        error_rate=errors / predictions if predictions else None,
        worst_p99_ms=max(p99s, default=None),
    )


def _serving(deployment: Deployment) -> dict[str, str]:
    """``{version: weight}`` of the versions that take traffic after ``deployment``."""
    found = {}
    for entry in deployment.detail.get("routing", "").split(","):
        version, _, rest = entry.partition("=")
        weight = rest.rpartition(":")[2]
        if version and weight not in ("", "0"):
            found[version] = weight
    return found


def traffic_moves(history: Sequence[Deployment]) -> list[Deployment]:
    """The deployments of ``history`` (one model's, oldest first) that changed which
    versions serve or their weights."""
    moves: list[Deployment] = []
    serving: dict[str, str] = {}
    for deployment in history:
        now_serving = _serving(deployment)
        if now_serving != serving:
            moves.append(deployment)
        serving = now_serving
    return moves


def impacts(
    store: TrafficSource,
    model: str,
    history: Sequence[Deployment],
    shown: Sequence[Deployment],
    *,
    now: float,
    span: float = DEFAULT_SPAN,
) -> list[DeploymentImpact]:
    """Before and after each deployment of ``shown``, cut by the traffic moves of
    ``history`` (the model's deployments, oldest first, ``shown`` among them)."""
    moves = [d.at for d in traffic_moves(history)]
    found = []
    for deployment in shown:
        earlier = [t for t in moves if t < deployment.at]
        later = [t for t in moves if t > deployment.at]
        start = max(deployment.at - span, earlier[-1] if earlier else float("-inf"))
        end = min(deployment.at + span, later[0] if later else float("inf"), now)
        before = combined(
            store.version_summaries(model, start=start, end=deployment.at), start, deployment.at
        )
        after = (
            combined(store.version_summaries(model, start=deployment.at, end=end),
                     deployment.at, end)
            if end - deployment.at >= MIN_WINDOW else None
        )  # fmt: skip
        found.append(DeploymentImpact(deployment, before, after))
    return found
