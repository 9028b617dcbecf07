"""Properties every data-quality check keeps, for any data."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpulse.core.drift.check import Status
from mlpulse.core.quality import quality_checks
from mlpulse.core.quality.missing import missing_values

numbers = st.one_of(st.none(), st.just(math.nan), st.floats(-1e6, 1e6))
categories = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", "e"]))


@st.composite
def datasets(draw: st.DrawFn) -> dict[str, list[object]]:
    rows = draw(st.integers(1, 60))
    return {
        "x": draw(st.lists(numbers, min_size=rows, max_size=rows)),
        "plan": draw(st.lists(categories, min_size=rows, max_size=rows)),
    }


KINDS = {"x": "numeric", "plan": "categorical"}
SHARE_CHECKS = {"missing_values", "type_errors", "unseen_categories", "out_of_range"}


@settings(max_examples=60, deadline=None)
@given(datasets())
def test_quality_checks_pass_when_current_is_the_reference(data: dict[str, list[object]]) -> None:
    results = quality_checks(data, data, kinds=KINDS)
    # Duplicated rows are a property of the data itself, not a change: leave that one out.
    assert [r for r in results if r.failed and r.check != "duplicate_rows"] == []


@settings(max_examples=60, deadline=None)
@given(datasets(), datasets(), st.randoms(use_true_random=False))
def test_quality_checks_ignore_the_order_of_rows(
    reference: dict[str, list[object]], current: dict[str, list[object]], rng: object
) -> None:
    order = list(range(len(current["x"])))
    rng.shuffle(order)  # type: ignore[attr-defined]
    shuffled = {name: [values[i] for i in order] for name, values in current.items()}

    def summary(results: list) -> set[tuple[object, ...]]:  # type: ignore[type-arg]
        return {
            (r.check, r.column, r.status, None if math.isnan(r.value) else round(r.value, 12))
            for r in results
        }

    assert summary(quality_checks(reference, current, kinds=KINDS)) == summary(
        quality_checks(reference, shuffled, kinds=KINDS)
    )


@settings(max_examples=100, deadline=None)
@given(datasets(), datasets())
def test_quality_values_are_shares_and_statuses_are_known(
    reference: dict[str, list[object]], current: dict[str, list[object]]
) -> None:
    for result in quality_checks(reference, current, kinds=KINDS):
        assert result.status in set(Status)
        if result.check in SHARE_CHECKS and not math.isnan(result.value):
            assert -1.0 <= result.value <= 1.0, result


@settings(max_examples=100, deadline=None)
@given(datasets(), datasets())
def test_missing_values_is_the_rise_of_the_missing_rate(
    reference: dict[str, list[object]], current: dict[str, list[object]]
) -> None:
    def rate(values: list[object]) -> float:
        return float(
            np.mean([v is None or (isinstance(v, float) and math.isnan(v)) for v in values])
        )

    result = missing_values(reference["x"], current["x"])
    assert math.isclose(result.value, rate(current["x"]) - rate(reference["x"]), abs_tol=1e-12)
    assert (result.value <= 0) <= (result.status == Status.OK)
