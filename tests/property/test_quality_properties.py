"""Properties every data-quality check keeps, for any data."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpulse.core.drift.check import Status
from mlpulse.core.quality import duplicated_share, quality_checks
from mlpulse.core.quality.missing import missing_values
from mlpulse.core.quality.values import Values, as_column, factorize

numbers = st.one_of(
    st.none(), st.just(math.nan), st.floats(-1e6, 1e6), st.sampled_from([math.inf, -math.inf])
)
categories = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", "e"]))


@st.composite
def datasets(draw: st.DrawFn) -> dict[str, list[object]]:
    rows = draw(st.integers(1, 60))
    return {
        "x": draw(st.lists(numbers, min_size=rows, max_size=rows)),
        "plan": draw(st.lists(categories, min_size=rows, max_size=rows)),
    }


KINDS = {"x": "numeric", "plan": "categorical"}
SHARE_CHECKS = {"missing_values", "type_errors", "unseen_categories", "out_of_range", "non_finite"}


@settings(max_examples=60, deadline=None)
@given(datasets())
def test_quality_checks_pass_when_current_is_the_reference(data: dict[str, list[object]]) -> None:
    results = quality_checks(data, data, kinds=KINDS)
    # Duplicated rows and infinities are problems of the data itself, not changes: they
    # are flagged in the reference too; leave them out.
    changes = [r for r in results if r.check not in ("duplicate_rows", "non_finite")]
    assert [r for r in changes if r.failed] == []


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


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 80).flatmap(
        lambda rows: st.tuples(
            st.lists(
                st.sampled_from([0.0, -0.0, 1.0, math.nan, math.inf]), min_size=rows, max_size=rows
            ),
            st.lists(st.sampled_from(["a", "b", None]), min_size=rows, max_size=rows),
            st.lists(st.integers(0, 2), min_size=rows, max_size=rows),
        )
    )
)
def test_duplicated_share_counts_what_unique_rows_count(
    columns: tuple[list[float], list[str | None], list[int]],
) -> None:
    data: dict[str, Values] = {
        "f": np.array(columns[0]),
        "s": columns[1],
        "i": np.array(columns[2]),
    }
    codes = np.column_stack([factorize(as_column(v, "test"))[0][0] for v in data.values()])
    n_rows = codes.shape[0]
    expected = (n_rows - np.unique(codes, axis=0).shape[0]) / n_rows
    assert duplicated_share(data) == expected
