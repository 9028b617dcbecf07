"""CategoricalProfile builds its sketches only once the counts stop being exact.

While exact, the frequent-items sketch and the HLL carry nothing the exact counts do not,
so they are neither kept nor written; these tests check that nothing observable depends
on whether they were (profiles written before the change hold them, and still load).
"""

from __future__ import annotations

import functools
from collections import Counter

import msgspec
import numpy as np
import pytest
from datasketches import HLL_8, NO_FALSE_POSITIVES, frequent_strings_sketch, hll_sketch

from mlpulse.core.profiles import CategoricalProfile
from mlpulse.errors import ParameterError

# exact_limit 50 with lg 11: the frequent-items sketch holds up to 1,536 items without
# purging, so even past the limit its counts are exact and can be compared with ==.
LIMIT = 50


def _values(seed: int, n: int, n_categories: int, prefix: str = "c") -> list[str | None]:
    rng = np.random.default_rng(seed)
    values: list[str | None] = [f"{prefix}{i}" for i in rng.integers(0, n_categories, size=n)]
    for i in np.flatnonzero(rng.random(n) < 0.05):
        values[i] = None
    return values


def _profile(values: list[str | None], *, exact_limit: int = LIMIT) -> CategoricalProfile:
    profile = CategoricalProfile(exact_limit=exact_limit)
    profile.update_many(values)
    return profile


def _sketch_fields(profile: CategoricalProfile) -> tuple[bytes, bytes]:
    wire = msgspec.msgpack.decode(profile.to_bytes())
    return wire[6], wire[7]


def _old_format(values: list[str | None], *, exact_limit: int = LIMIT) -> bytes:
    """Bytes as written before the sketches were lazy: both sketches present while exact."""
    present = [v for v in values if v is not None]
    counts = Counter(present)
    items = frequent_strings_sketch(11)
    distinct = hll_sketch(12, HLL_8)
    for category, n in counts.items():
        items.update(category, n)
        distinct.update(category)
    exact = dict(sorted(counts.items())) if len(counts) <= exact_limit else None
    missing = len(values) - len(present)
    sketches = [bytes(items.serialize()), bytes(distinct.serialize_compact())]
    return msgspec.msgpack.encode([1, 11, exact_limit, len(values), missing, exact, *sketches])


def test_categorical_profile_writes_no_sketches_while_exact() -> None:
    parts = [_profile(_values(seed, 200, 20)) for seed in range(5)]
    merged = CategoricalProfile.merge_all(parts)
    pairwise = functools.reduce(CategoricalProfile.merge, parts)
    for profile in (*parts, merged, pairwise):
        assert profile.is_exact
        assert _sketch_fields(profile) == (b"", b"")
    assert merged == pairwise
    assert merged.counts() == Counter(v for s in range(5) for v in _values(s, 200, 20) if v)


@pytest.mark.parametrize("how", ["merge_all", "merge", "update_many"])
def test_categorical_profile_past_the_exact_limit_counts_like_an_eager_sketch(how: str) -> None:
    batches = [_values(seed, 300, 12 * (seed + 1)) for seed in range(8)]  # up to 96 categories
    everything = [v for batch in batches for v in batch]
    if how == "merge_all":
        profile = CategoricalProfile.merge_all([_profile(batch) for batch in batches])
    elif how == "merge":
        profile = functools.reduce(CategoricalProfile.merge, map(_profile, batches))
    else:
        profile = CategoricalProfile(exact_limit=LIMIT)
        for batch in batches:
            profile.update_many(batch)
    eager_items = frequent_strings_sketch(11)
    eager_distinct = hll_sketch(12, HLL_8)
    for value in everything:
        if value is not None:
            eager_items.update(value)
            eager_distinct.update(value)
    eager_counts = {
        item: int(n) for item, n, _, _ in eager_items.get_frequent_items(NO_FALSE_POSITIVES)
    }
    assert not profile.is_exact
    assert _sketch_fields(profile) != (b"", b"")
    assert profile.counts() == eager_counts == Counter(v for v in everything if v is not None)
    assert profile.distinct_estimate == pytest.approx(eager_distinct.get_estimate(), rel=1e-9)
    assert profile.count_error_bound == frequent_strings_sketch.get_apriori_error(
        11, sum(eager_counts.values())
    )
    assert (profile.count, profile.missing) == (len(everything), everything.count(None))


def test_categorical_profile_merge_past_the_limit_leaves_exact_inputs_unchanged() -> None:
    a, b = _profile(_values(1, 500, 40)), _profile(_values(2, 500, 40, prefix="d"))
    before = a.to_bytes(), b.to_bytes()
    merged = a.merge(b)
    assert not merged.is_exact and a.is_exact and b.is_exact
    assert (a.to_bytes(), b.to_bytes()) == before
    assert _sketch_fields(a) == _sketch_fields(b) == (b"", b"")


def test_categorical_profile_reads_old_format_bytes_with_sketches_while_exact() -> None:
    values = _values(3, 1000, 30)
    old = CategoricalProfile.from_bytes(_old_format(values))
    lazy = _profile(values)
    assert old.is_exact
    assert old == lazy
    assert old.counts() == lazy.counts()
    assert old.distinct_estimate == lazy.distinct_estimate == 30.0
    assert old.to_bytes() == lazy.to_bytes()
    more = _values(4, 1000, 200)
    old.update_many(more)
    lazy.update_many(more)
    assert not old.is_exact
    # Not ==: past the limit that compares HLL bytes, whose order follows insertion order
    # (the bytes hold the counts sorted); below ~384 categories the estimate does not.
    assert old.counts() == lazy.counts()
    assert old.distinct_estimate == lazy.distinct_estimate


def test_categorical_profile_reads_old_format_bytes_past_the_limit() -> None:
    values = _values(5, 3000, 400)
    old = CategoricalProfile.from_bytes(_old_format(values))
    assert not old.is_exact
    assert old.counts() == _profile(values).counts()


def test_categorical_profile_rejects_bytes_not_exact_without_sketches() -> None:
    state = [1, 11, LIMIT, 3, 0, None, b"", b""]
    with pytest.raises(ParameterError, match="'data'"):
        CategoricalProfile.from_bytes(msgspec.msgpack.encode(state))


def test_categorical_profile_round_trip_then_past_the_limit_counts_alike() -> None:
    p = _profile(_values(6, 400, 30))
    q = CategoricalProfile.from_bytes(p.to_bytes())
    assert p == q
    more = _values(7, 400, 90, prefix="d")
    p.update_many(more)
    q.update_many(more)
    assert not p.is_exact
    assert (p.count, p.missing, p.counts()) == (q.count, q.missing, q.counts())
    assert p.distinct_estimate == q.distinct_estimate
