"""The evaluator's latest metric points as Prometheus gauges on ``/metrics``.

Each series name becomes a gauge family with the point's labels and its own HELP (from
:data:`~mlpulse.services.monitor_checks.SERIES_HELP`); a second family,
``mlpulse_check_status``, carries every graded point's status as a number
(0 ok, 1 warning, 2 critical, -1 insufficient data) with the series name as label
``check``, so one alert rule can watch every check.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlpulse.domain.series_catalogue import SERIES
from mlpulse.ports import SeriesStore
from mlpulse.services.monitor_checks import SERIES_HELP

# The streaming detectors' series (written per event, not by the evaluator's checks).
DETECTION_HELP: Final = {
    "mlpulse_stream_change": "A change the streaming detectors found in a version's errors, "
    "latency or scores: seconds from its estimated onset to the point.",
    "mlpulse_canary_change": "A version worse than its baseline in the canary comparison: "
    "seconds from the change's estimated onset to the point.",
}
STATUS_VALUE: Final = {"ok": 0.0, "warning": 1.0, "critical": 2.0, "insufficient_data": -1.0}


def _help(name: str) -> str:
    """A series' HELP: the checks' own text, the detectors', else the catalogue's summary
    (SLO and probe series)."""
    found = SERIES_HELP.get(name) or DETECTION_HELP.get(name)
    if found:
        return found
    spec = SERIES.get(name)
    if spec is None:
        return f"mlpulse series {name}."
    return spec.summary[:1].upper() + spec.summary[1:] + "."


class CheckPoints(Collector):
    def __init__(self, series: SeriesStore) -> None:
        self._series = series

    def collect(self) -> Iterator[Metric]:
        families: dict[tuple[str, tuple[str, ...]], GaugeMetricFamily] = {}
        status: dict[tuple[str, ...], GaugeMetricFamily] = {}
        for point in sorted(self._series.latest_points(), key=lambda p: p.name):
            keys = tuple(sorted(point.labels))
            family = families.get((point.name, keys))
            if family is None:
                help_text = _help(point.name)
                family = families[(point.name, keys)] = GaugeMetricFamily(
                    point.name, help_text, labels=list(keys)
                )
            family.add_metric([point.labels[k] for k in keys], point.value, timestamp=None)
            if point.status is not None:
                status_keys = ("check", *keys)
                gauge = status.get(status_keys)
                if gauge is None:
                    gauge = status[status_keys] = GaugeMetricFamily(
                        "mlpulse_check_status",
                        "Status of the latest point of a check: 0 ok, 1 warning, 2 critical,"
                        " -1 insufficient data.",
                        labels=list(status_keys),
                    )
                gauge.add_metric(
                    [point.name, *(point.labels[k] for k in keys)],
                    STATUS_VALUE.get(point.status, -1.0),
                )
        yield from _merged(list(families.values()))
        yield from _merged(list(status.values()))


def _merged(families: list[GaugeMetricFamily]) -> Iterator[Metric]:
    """One family per name: series with other label sets join the first family."""
    by_name: dict[str, GaugeMetricFamily] = {}
    for family in families:
        first = by_name.get(family.name)
        if first is None:
            by_name[family.name] = family
        else:
            first.samples.extend(family.samples)
    yield from by_name.values()
