"""Merge laws of profiles: commutative, associative, empty is the identity, merge = union.

Counts, min and max must agree exactly and moments within 1e-9 (relative); quantiles
must agree within the KLL rank error. KLL merges are randomised (the sketch chooses
which half of a level to keep), so two merge orders need not give the same bytes; the
comparison is on the true rank, in the union's data, of each returned quantile. The
KLL bound (1.33% at k=200) is the 99th percentile of the worst error over all ranks, so
to stay deterministic across 50 examples the check allows twice that.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpulse.core.profiles import CategoricalProfile, NumericProfile, Profile
from mlpulse.core.profiles.numeric import Ranks

RANKS = np.linspace(0.0, 1.0, 21)
KINDS = {"x": "numeric", "c": "categorical", "b": "boolean"}
Batch = dict[str, npt.NDArray[Any]]

# Small samples keep the sketch exact (below k values); a seed and a size up to 5,000
# puts it into estimation mode, so both regimes are covered.
finite_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
odd_values = st.sampled_from([math.nan, math.inf, -math.inf])


@st.composite
def columns(draw: st.DrawFn) -> Batch:
    """One batch of rows: a numeric column with gaps, a categorical and a boolean one."""
    if draw(st.booleans()):
        x = np.array(draw(st.lists(st.one_of(finite_floats, odd_values), max_size=60)), float)
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        x = rng.lognormal(size=draw(st.integers(0, 5000))) * draw(st.sampled_from([1.0, -3.0]))
        x[rng.random(x.size) < 0.05] = np.nan
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    c = rng.choice(np.array(["a", "b", "c", "d"], dtype=object), size=x.size)
    c[rng.random(x.size) < 0.1] = None
    b = rng.random(x.size) < 0.3
    return {"x": x, "c": c, "b": b}


def _profile(batch: Batch) -> Profile:
    return Profile.from_columns(batch, KINDS)


def _union(*batches: Batch) -> Batch:
    return {name: np.concatenate([batch[name] for batch in batches]) for name in KINDS}


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _assert_numeric_equivalent(
    p: NumericProfile, q: NumericProfile, data: npt.NDArray[np.float64]
) -> None:
    assert (p.count, p.missing, p.non_finite, p.finite_count) == (
        q.count,
        q.missing,
        q.non_finite,
        q.finite_count,
    )
    assert _same(p.min, q.min) and _same(p.max, q.max)
    assert _close(p.mean, q.mean)
    scale = max(1.0, q.variance())
    assert math.isclose(p.variance(), q.variance(), rel_tol=1e-9, abs_tol=1e-9 * scale) or (
        math.isnan(p.variance()) and math.isnan(q.variance())
    )
    finite = np.sort(data[np.isfinite(data)])
    if finite.size == 0:
        assert np.isnan(p.quantiles(RANKS)).all() and np.isnan(q.quantiles(RANKS)).all()
        return
    bound = 2 * p.rank_error
    for profile in (p, q):
        values = profile.quantiles(RANKS)
        below = np.searchsorted(finite, values, side="left") / finite.size
        at_or_below = np.searchsorted(finite, values, side="right") / finite.size
        error = np.maximum(0.0, np.maximum(below - RANKS, RANKS - at_or_below))
        assert float(error.max()) <= bound + 1e-12


def _assert_equivalent(p: Profile, q: Profile, data: Batch) -> None:
    assert p.row_count == q.row_count
    assert p.kinds == q.kinds
    numeric_p, numeric_q = p["x"], q["x"]
    assert isinstance(numeric_p, NumericProfile) and isinstance(numeric_q, NumericProfile)
    _assert_numeric_equivalent(numeric_p, numeric_q, data["x"].astype(float))
    for name in ("c", "b"):
        cat_p, cat_q = p[name], q[name]
        assert isinstance(cat_p, CategoricalProfile) and isinstance(cat_q, CategoricalProfile)
        # Few categories: the counts are exact, so they must be equal.
        assert (cat_p.count, cat_p.missing) == (cat_q.count, cat_q.missing)
        assert cat_p.counts() == cat_q.counts()
        assert cat_p.distinct_estimate == cat_q.distinct_estimate


@settings(max_examples=50, deadline=None)
@given(columns(), columns())
def test_profile_merge_is_commutative(a: Batch, b: Batch) -> None:
    pa, pb = _profile(a), _profile(b)
    _assert_equivalent(pa.merge(pb), pb.merge(pa), _union(a, b))


@settings(max_examples=50, deadline=None)
@given(columns(), columns(), columns())
def test_profile_merge_is_associative(a: Batch, b: Batch, c: Batch) -> None:
    pa, pb, pc = _profile(a), _profile(b), _profile(c)
    _assert_equivalent(pa.merge(pb).merge(pc), pa.merge(pb.merge(pc)), _union(a, b, c))


@settings(max_examples=50, deadline=None)
@given(columns())
def test_profile_empty_is_the_identity_of_merge(a: Batch) -> None:
    pa = _profile(a)
    assert pa.merge(Profile.empty()) == pa
    assert Profile.empty().merge(pa) == pa


@settings(max_examples=50, deadline=None)
@given(columns(), columns())
def test_profile_of_a_union_equals_the_merge_of_the_profiles(a: Batch, b: Batch) -> None:
    union = _union(a, b)
    merged = _profile(a).merge(_profile(b))
    _assert_equivalent(merged, _profile(union), union)


@settings(max_examples=50, deadline=None)
@given(columns(), columns())
def test_profile_merge_leaves_its_inputs_unchanged(a: Batch, b: Batch) -> None:
    pa, pb = _profile(a), _profile(b)
    before_a, before_b = pa.to_bytes(), pb.to_bytes()
    pa.merge(pb)
    assert Profile.from_bytes(before_a) == pa
    assert Profile.from_bytes(before_b) == pb


@st.composite
def categorical_parts(draw: st.DrawFn) -> tuple[int, list[list[str | None]]]:
    """An exact_limit in [0, 30] and up to 8 parts whose union is around that many categories.

    At most 2 × 30 + 5 categories: the frequent-items sketch purges nothing and the HLL
    stays in its exact-count modes, so even past exact_limit every merge order agrees.
    """
    limit = draw(st.integers(0, 30))
    category = st.integers(0, 2 * limit + 5).map(lambda i: f"c{i}")
    part = st.lists(st.one_of(category, st.none()), max_size=40)
    return limit, draw(st.lists(part, min_size=1, max_size=8))


@settings(max_examples=100, deadline=None)
@given(categorical_parts())
def test_categorical_merge_all_equals_pairwise_merge_around_exact_limit(
    case: tuple[int, list[list[str | None]]],
) -> None:
    limit, values = case
    parts = []
    for part_values in values:
        part = CategoricalProfile(lg_max_map_size=10, exact_limit=limit)
        part.update_many(part_values)
        parts.append(part)
    before = [part.to_bytes() for part in parts]
    at_once = CategoricalProfile.merge_all(parts)
    pairwise = parts[0]
    for part in parts[1:]:
        pairwise = pairwise.merge(part)
    truth = Counter(v for part_values in values for v in part_values if v is not None)
    for merged in (at_once, pairwise):
        assert merged.is_exact == (len(truth) <= limit)
        assert merged.counts() == truth
        assert merged.count == sum(map(len, values))
        assert merged.missing == merged.count - truth.total()
        assert merged.distinct_estimate == pytest.approx(len(truth), rel=1e-4)
    assert at_once.distinct_estimate == pairwise.distinct_estimate
    assert at_once.count_error_bound == pairwise.count_error_bound
    if at_once.is_exact:
        assert at_once == pairwise
    assert [part.to_bytes() for part in parts] == before


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    parts=st.integers(1, 12),
    rows=st.integers(100, 20_000),
    exponent=st.floats(0.6, 1.5),
)
def test_categorical_estimates_are_within_half_the_count_error_after_merges(
    seed: int, parts: int, rows: int, exponent: float
) -> None:
    # 5,000 Zipf categories: past the sketch's 768 items at lg 10, so it purges.
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, 5001) ** exponent
    values = rng.choice(5000, size=rows, p=weights / weights.sum()).astype(str)
    profiles = []
    for chunk in np.array_split(values, parts):
        profile = CategoricalProfile(lg_max_map_size=10, exact_limit=50)
        profile.update_many(chunk)
        profiles.append(profile)
    merged = CategoricalProfile.merge_all(profiles)
    truth = Counter(values.tolist())
    probe = [*merged.counts(), *list(truth)[:200], "never-seen"]
    estimates = merged.estimates(probe)
    half = merged.count_error / 2
    assert merged.count_error <= merged.count_error_bound
    for category in probe:
        assert abs(estimates[category] - truth.get(category, 0)) <= half + 1e-9


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.sampled_from([f"c{i}" for i in range(8)] + [None]), max_size=12),
        min_size=1,
        max_size=6,
    ),
    exact_limit=st.integers(0, 8),
)
def test_categorical_counts_memo_equals_counts_recomputed_after_every_change(
    batches: list[list[str | None]], exact_limit: int
) -> None:
    # counts() is memoised; a copy of the same state (from bytes) has no memo: the
    # uncached path. Updates (crossing the exact limit), merges and the caller changing
    # the returned dict must never leave the memo stale.
    profile = CategoricalProfile(exact_limit=exact_limit)
    merged = CategoricalProfile(exact_limit=exact_limit)
    for batch in batches:
        before = profile.counts()
        before["changed by the caller"] = 1
        profile.update_many(batch)
        merged = merged.merge(profile)
        for p in (profile, merged, CategoricalProfile.merge_all([profile, merged])):
            fresh = CategoricalProfile.from_bytes(p.to_bytes()).counts()
            assert p.counts() == fresh
            if p.is_exact:
                assert list(p.counts()) == list(fresh)  # most frequent first, ties by name


@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.one_of(finite_floats, odd_values, st.none()), max_size=300),
        min_size=1,
        max_size=5,
    ),
    one_by_one=st.booleans(),
)
def test_numeric_quantiles_memo_equals_quantiles_recomputed_after_every_update(
    batches: list[list[float | None]], one_by_one: bool
) -> None:
    # quantiles() at a Ranks object is memoised; a copy from bytes has no memo (the
    # uncached path) and the same sketch, so the same quantiles.
    ranks = Ranks(np.linspace(0.0, 1.0, 41).tolist())
    profile = NumericProfile()
    for batch in batches:
        before = profile.quantiles(ranks)
        before[:] = -1.0  # the caller's copy: must not reach the memo
        if one_by_one:
            for x in batch:
                profile.update(x)
        else:
            profile.update_many(batch)
        fresh = NumericProfile.from_bytes(profile.to_bytes()).quantiles(ranks)
        for merged in (profile, NumericProfile.merge_all([profile, profile])):
            expected = NumericProfile.from_bytes(merged.to_bytes()).quantiles(ranks)
            np.testing.assert_array_equal(merged.quantiles(ranks), expected)
        np.testing.assert_array_equal(profile.quantiles(ranks), fresh)
        np.testing.assert_array_equal(profile.quantiles(ranks), fresh)  # from the memo
