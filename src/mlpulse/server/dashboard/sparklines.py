"""The overview's traffic sparklines: each model's predictions per second over the last
day, drawn server-side as a small inline SVG (no script, no chart to initialise).

One bucketed query of the throughput series covers every model (half-hour buckets, so a
few hundred rows whatever the traffic), and its answer is kept for the minute of the
collector's clock it was computed in: the overview and its auto-refresh ask again and
again, and a sparkline of a day barely moves within a minute.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import Final

from fastapi import Request
from markupsafe import Markup

from mlpulse.ports import SeriesStore
from mlpulse.server.dashboard.metric_series import THROUGHPUT, is_overall

SPAN: Final = 86400.0
BUCKET: Final = 1800.0
WIDTH: Final = 96
HEIGHT: Final = 22


def traffic_per_model(series: SeriesStore, now: float) -> dict[str, list[tuple[float, float]]]:
    """Each model's throughput per half hour over the last day: the versions' sum of
    their bucket averages (the model as a whole only, no segments)."""
    rows = series.bucketed_points(
        THROUGHPUT, matchers={}, start=now - SPAN, end=now, bucket_s=BUCKET, aggregate="avg"
    )
    # (model, bucket) → version → (average, points behind it)
    found: dict[tuple[str, float], dict[str, tuple[float, int]]] = {}
    for row in rows:
        model = row.labels.get("model")
        if model is None or not is_overall(row.labels) or not math.isfinite(row.value):
            continue
        versions = found.setdefault((model, row.ts), {})
        version = row.labels.get("version", "")
        known = versions.get(version)
        if known is None:
            versions[version] = (row.value, row.n)
        else:  # two monitors of one version: their average, weighted by their points
            value, n = known
            versions[version] = ((value * n + row.value * row.n) / (n + row.n), n + row.n)
    lines: dict[str, list[tuple[float, float]]] = {}
    for (model, ts), versions in sorted(found.items()):
        lines.setdefault(model, []).append((ts, sum(v for v, _ in versions.values())))
    return lines


def _num(value: float) -> str:
    return f"{value:.3g}"


def sparkline_svg(points: Sequence[tuple[float, float]], *, start: float, end: float) -> Markup:
    """``points`` (time, value) as an inline SVG line from ``start`` to ``end``, zero at
    the bottom; a gap of more than a bucket breaks the line, and a point with no
    neighbour (a new model's first half hour) is a dot, so a few points never draw blank.

    >>> svg = sparkline_svg([(0.0, 1.0), (1800.0, 2.0)], start=0.0, end=3600.0)
    >>> svg.startswith("<svg") and "M0.0,11.0L48.0,1.0" in svg
    True
    >>> "<circle" in sparkline_svg([(1800.0, 2.0)], start=0.0, end=3600.0)
    True
    """
    top = max((v for _, v in points), default=0.0)
    scale_y = (HEIGHT - 2) / top if top > 0 else 0.0
    span = max(end - start, 1.0)
    runs: list[list[tuple[float, float]]] = []
    previous: float | None = None
    for ts, value in points:
        # The first bucket may begin before start (buckets are aligned to the epoch).
        x = min(max((ts - start) / span, 0.0), 1.0) * WIDTH
        y = HEIGHT - 1 - value * scale_y
        if previous is None or ts - previous > BUCKET * 1.5:
            runs.append([])
        runs[-1].append((x, y))
        previous = ts
    path = "".join(
        f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}"
        for run in runs
        if len(run) > 1
        for i, (x, y) in enumerate(run)
    )
    dots = "".join(
        f'<circle cx="{run[0][0]:.1f}" cy="{run[0][1]:.1f}" r="1.8" fill="currentColor"/>'
        for run in runs
        if len(run) == 1
    )
    newest = points[-1][1] if points else 0.0
    title = (
        "Predictions/s over the last 24 h (UTC), half-hour averages:"
        f" max {_num(top)}, newest {_num(newest)}"
    )
    line = (
        f'<path d="{path}" fill="none" stroke="currentColor" stroke-width="1.5"'
        ' stroke-linejoin="round"/>'
        if path
        else ""
    )
    return Markup(
        f'<svg class="sparkline" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}">'
        f"<title>{title}</title>{line}{dots}</svg>"
    )


class SparklineCache:
    """Every model's sparkline, kept for the minute of the collector's clock."""

    def __init__(self) -> None:
        self._minute: int | None = None
        self._svgs: dict[str, Markup] = {}
        self._lock = threading.Lock()

    def traffic(self, series: SeriesStore, now: float) -> Mapping[str, Markup]:
        minute = int(now // 60)
        with self._lock:
            if self._minute == minute:
                return self._svgs
        lines = traffic_per_model(series, now)
        svgs = {
            model: sparkline_svg(points, start=now - SPAN, end=now)
            for model, points in lines.items()
        }
        with self._lock:
            self._minute, self._svgs = minute, svgs
        return svgs


_cache_lock = threading.Lock()


def sparkline_cache(request: Request) -> SparklineCache:
    """The app's sparkline cache, made on first use."""
    state = request.app.state
    with _cache_lock:
        found: SparklineCache | None = getattr(state, "dashboard_sparklines", None)
        if found is None:
            found = state.dashboard_sparklines = SparklineCache()
    return found
