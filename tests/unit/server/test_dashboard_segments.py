"""The model page's segment table: segments are the tags of the traffic, never the labels
the collector itself puts on its series (a canary comparison's baseline and signal)."""

from __future__ import annotations

from mlpulse.domain.series import MetricPoint
from mlpulse.domain.series_catalogue import SERIES
from mlpulse.server.dashboard.metric_series import segment_of
from mlpulse.server.dashboard.model_tables import segment_rows


def _point(name: str, value: float, **labels: str) -> MetricPoint:
    return MetricPoint(ts=0.0, name=name, labels={"model": "m", **labels}, value=value,
                       status="warning")  # fmt: skip


def test_segment_rows_leave_out_canary_and_stream_detector_points() -> None:
    points = [
        _point("mlpulse_canary_change", 5.0, version="v2", baseline="v1", signal="errors"),
        _point("mlpulse_stream_change", 5.0, version="v2", stream="score", detector="adwin"),
        _point("mlpulse_error_rate", 0.2, version="v2", monitor="e", country="DE"),
    ]
    rows = segment_rows(points)
    assert [row.segment for row in rows] == ["country=DE"]
    assert rows[0].error_rate == 0.2


def test_segment_of_ignores_every_label_of_the_series_catalogue() -> None:
    for spec in SERIES.values():
        labels = {label: "x" for label in spec.labels}
        assert segment_of({**labels, "mode": "batch"}) == "mode=batch"
