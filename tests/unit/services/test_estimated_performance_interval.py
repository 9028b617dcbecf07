"""The CBPE points' interval: the realised accuracy of windows of the monitor's real size
falls inside ``mlpulse_estimated_performance_lower/upper`` about 95% of the time."""

from __future__ import annotations

import numpy as np
import pytest

from mlpulse.core.performance import CBPE
from mlpulse.core.profiles.window import WindowProfile
from mlpulse.domain.monitoring import MonitorConfig
from mlpulse.services.monitor_checks import estimated_points

LABELS = {"model": "m", "version": "v1", "monitor": "est"}


def _window(scores: np.ndarray) -> WindowProfile:
    return WindowProfile.from_columns({}, {}, score=scores)


@pytest.mark.parametrize("rows", [400, 5_000])
def test_estimated_points_interval_covers_the_realised_accuracy_of_windows_of_that_size(
    rows: int,
) -> None:
    rng = np.random.default_rng(11)
    reference = rng.beta(2.0, 2.0, 20_000)
    estimator = CBPE(calibrated=True).fit(reference, rng.uniform(size=reference.size) < reference)
    monitor = MonitorConfig(model="m", check="estimated_performance", metric="accuracy")
    covered, widths = 0, []
    windows = 200
    for _ in range(windows):
        scores = rng.beta(2.0, 2.0, rows)
        labels = rng.uniform(size=rows) < scores  # calibrated: P(label) = score
        realised = float(np.mean((scores >= 0.5) == labels))
        points = {p.name: p for p in estimated_points(0.0, LABELS, monitor, _window(scores),
                                                      estimator)}  # fmt: skip
        low = points["mlpulse_estimated_performance_lower"].value
        high = points["mlpulse_estimated_performance_upper"].value
        assert low <= points["mlpulse_estimated_performance"].value <= high
        assert points["mlpulse_estimated_performance_lower"].labels["metric"] == "accuracy"
        covered += low <= realised <= high
        widths.append(high - low)
    # 95% nominal; 200 windows: binomial sd 1.5 points. The width shrinks as 1/sqrt(rows)
    # (a width from the 1,000-row pseudo-sample would cover far too little or too much).
    assert 0.90 <= covered / windows <= 0.99, covered
    expected_width = 2 * 1.96 * np.sqrt(0.5 * 0.5 / rows)  # accuracy ~ 0.69 here: below
    assert np.median(widths) < expected_width
    assert np.median(widths) > 0.6 * expected_width
