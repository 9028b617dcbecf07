"""The Jensen–Shannon fast path of column_drift_from_profiles (references with at most
100 categories) against the general method: the same value and unseen categories."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpulse.core.drift.categorical import unseen_categories
from mlpulse.core.drift.check import ColumnCheck
from mlpulse.core.drift.methods import CATEGORICAL
from mlpulse.core.drift.profiled import UNLISTED, _counts, column_drift_from_profiles
from mlpulse.core.profiles import CategoricalProfile


def _profile(values: list[str], *, exact_limit: int = 1000) -> CategoricalProfile:
    profile = CategoricalProfile(exact_limit=exact_limit)
    profile.update_many(values)
    return profile


def _general(reference: CategoricalProfile, current: CategoricalProfile) -> tuple[float, dict]:  # type: ignore[type-arg]
    ref, _ = _counts(reference)
    cur, n_cur = _counts(current)
    value, details = CATEGORICAL["jensen_shannon"].compute(ref, cur)
    unseen = unseen_categories(
        {c: n for c, n in ref.items() if c != UNLISTED},
        {c: n for c, n in cur.items() if c != UNLISTED},
    )
    return value, {
        **details,
        "unseen_categories": list(unseen.categories[:20]),
        "unseen_share": unseen.count / n_cur,
    }


@settings(max_examples=60, deadline=None)
@given(
    ref_categories=st.integers(1, 100),
    cur_categories=st.integers(1, 140),
    seed=st.integers(0, 2**32 - 1),
    exact_limit=st.sampled_from([1000, 30]),
)
def test_js_fast_path_equals_the_general_method(
    ref_categories: int, cur_categories: int, seed: int, exact_limit: int
) -> None:
    rng = np.random.default_rng(seed)
    ref = [f"c{i}" for i in rng.zipf(1.5, 3000) % ref_categories]
    cur = [f"c{i}" for i in rng.zipf(1.3, 2000) % cur_categories]
    reference, current = _profile(ref, exact_limit=exact_limit), _profile(cur)
    check = ColumnCheck(method="jensen_shannon")
    result = column_drift_from_profiles(reference, current, column="x", check=check)
    value, details = _general(reference, current)
    assert result.value == pytest.approx(value, rel=1e-12, abs=1e-12)
    assert result.details["categories_kept"] == details["categories_kept"]
    assert result.details["unseen_share"] == pytest.approx(details["unseen_share"])
    # Ties in count may list in either order: the same categories with the same counts.
    counts = current.counts()
    assert sorted(result.details["unseen_categories"]) == sorted(details["unseen_categories"]) or [
        counts[c] for c in result.details["unseen_categories"]
    ] == [counts[c] for c in details["unseen_categories"]]
