"""Drift severity: one direction (higher = more drift) for p-values and distances."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlpulse.core.drift.check import Status, column_drift, drift_status
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.drift.severity import severity


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, 0.0), (0.05, 0.5), (0.1, 1.0), (0.15, 1.5), (0.2, 2.0), (0.3, 3.0), (0.4, 4.0)],
)
def test_severity_is_piecewise_linear_in_a_distance(value: float, expected: float) -> None:
    assert severity(value, warning=0.1, critical=0.2, p_value=False) == pytest.approx(expected)


def test_severity_extrapolates_beyond_critical_with_the_warning_to_critical_slope() -> None:
    # PSI: warning 0.1, critical 0.25 → slope 1 per 0.15 beyond 0.1.
    assert severity(0.4, warning=0.1, critical=0.25, p_value=False) == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("p", "expected"),
    [(1.0, 0.0), (0.05, 1.0), (0.01, 2.0), (0.002, 3.0), (0.05**0.5, 0.5)],
)
def test_severity_interpolates_a_p_value_in_minus_log10(p: float, expected: float) -> None:
    # 0.002 is one warning→critical step (a factor 5) past 0.01 in -log10(p).
    assert severity(p, warning=0.05, critical=0.01, p_value=True) == pytest.approx(expected)


def test_severity_is_nan_for_insufficient_data_and_inf_for_a_p_value_of_zero() -> None:
    assert math.isnan(severity(math.nan, warning=0.05, critical=0.01, p_value=True))
    assert math.isnan(severity(math.nan, warning=0.1, critical=0.2, p_value=False))
    assert severity(0.0, warning=0.05, critical=0.01, p_value=True) == math.inf


@given(
    value=st.floats(0.0, 1.0, allow_nan=False),
    warning=st.floats(1e-6, 0.5),
    factor=st.floats(1.01, 100.0),
    p_value=st.booleans(),
)
def test_severity_agrees_with_the_status_when_away_from_the_thresholds(
    value: float, warning: float, factor: float, p_value: bool
) -> None:
    """severity >= 1 is warning, >= 2 critical, for every method's direction."""
    critical = warning / factor if p_value else warning * factor
    level = severity(value, warning=warning, critical=critical, p_value=p_value)
    status = drift_status(value, Thresholds(warning, critical), p_value=p_value)
    if min(abs(level - 1.0), abs(level - 2.0)) < 1e-9:
        return  # on a threshold: the status is strict, the severity exactly 1 or 2
    expected = Status.CRITICAL if level > 2 else Status.WARNING if level > 1 else Status.OK
    assert status == expected


def test_severity_ranks_undrifted_ks_columns_low_and_drifted_ones_high() -> None:
    """The issue's case: KS p-values (≤ 1,000 rows) read as 'high = drift' flagged 28 of
    30 undrifted columns. As severities, about 5% of undrifted columns reach 1 (the
    test's level) and every clearly shifted one does, as for the distances above 1,000 rows."""
    rng = np.random.default_rng(0)

    def level(shift: float, n: int) -> float:
        result = column_drift(rng.normal(size=n), rng.normal(shift, 1, n), kind="numeric")
        t = result.thresholds
        return severity(result.value, warning=t.warning, critical=t.critical,
                        p_value=result.p_value)  # fmt: skip

    undrifted = [level(0.0, 500) for _ in range(200)]
    assert sum(v >= 1 for v in undrifted) / 200 == pytest.approx(0.05, abs=0.04)
    assert all(level(0.5, 500) >= 2 for _ in range(20))  # ks, p < 0.01
    assert all(level(0.5, 5_000) >= 2 for _ in range(20))  # wasserstein, > 0.2 sd
    assert max(level(0.0, 5_000) for _ in range(20)) < 1
