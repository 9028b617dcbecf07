"""Properties of the categorical drift statistics over random count vectors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mlpulse.core.drift.categorical import (
    CategoryCounts,
    chi_square,
    comparable_bins,
    expected_noise,
    fisher_exact,
    hellinger,
    jensen_shannon,
    jensen_shannon_noise_corrected,
    proportion_z,
    psi,
    top_k_with_other,
    total_variation,
    unseen_categories,
)
from mlpulse.core.drift.categorical.binning import (
    comparable_vectors,
    complete_comparable_vectors,
)
from mlpulse.core.drift.categorical.jensen_shannon import jensen_shannon_of_vectors
from mlpulse.core.drift.methods import CATEGORICAL
from mlpulse.core.drift.profiled import _unseen

Distance = Callable[[CategoryCounts, CategoryCounts], float]
DISTANCES: list[Distance] = [jensen_shannon, hellinger, total_variation, psi]
BOUNDED: list[Distance] = [jensen_shannon, hellinger, total_variation]
CATEGORIES = [f"c{i}" for i in range(12)]

count_values = st.one_of(st.integers(0, 10_000).map(float), st.floats(0, 1e6))
count_maps = st.dictionaries(st.sampled_from(CATEGORIES), count_values, min_size=1).filter(
    lambda counts: sum(counts.values()) > 0
)
distances = st.sampled_from(DISTANCES)


@settings(max_examples=100, deadline=None)
@given(distance=distances, reference=count_maps, current=count_maps)
def test_distances_are_non_negative_and_bounded(
    distance: Distance, reference: dict[str, float], current: dict[str, float]
) -> None:
    value = distance(reference, current)
    assert value >= 0
    if distance in BOUNDED:
        assert value <= 1


@settings(max_examples=100, deadline=None)
@given(distance=distances, reference=count_maps)
def test_distances_are_zero_on_identical_counts(
    distance: Distance, reference: dict[str, float]
) -> None:
    assert distance(reference, dict(reference)) < 1e-7


@settings(max_examples=100, deadline=None)
@given(distance=distances, reference=count_maps, current=count_maps)
def test_distances_are_symmetric(
    distance: Distance, reference: dict[str, float], current: dict[str, float]
) -> None:
    # PSI is symmetric too: with its renormalised smoothing it is KL(p||q) + KL(q||p).
    forward, backward = distance(reference, current), distance(current, reference)
    assert abs(forward - backward) <= 1e-9 * max(1.0, forward)


@settings(max_examples=100, deadline=None)
@given(
    distance=distances,
    reference=count_maps,
    current=count_maps,
    seed=st.randoms(use_true_random=False),
)
def test_distances_ignore_the_names_of_categories(
    distance: Distance, reference: dict[str, float], current: dict[str, float], seed: object
) -> None:
    shuffled = list(CATEGORIES)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    rename = dict(zip(CATEGORIES, shuffled, strict=True))
    renamed_reference = {rename[c]: n for c, n in reference.items()}
    renamed_current = {rename[c]: n for c, n in current.items()}
    before = distance(reference, current)
    assert abs(distance(renamed_reference, renamed_current) - before) <= 1e-9 * max(1.0, before)


@settings(max_examples=100, deadline=None)
@given(
    distance=distances,
    reference=count_maps,
    current=count_maps,
    factor=st.floats(1e-3, 1e3),
)
def test_distances_ignore_a_common_scale_of_the_counts(
    distance: Distance, reference: dict[str, float], current: dict[str, float], factor: float
) -> None:
    scaled_reference = {c: n * factor for c, n in reference.items()}
    scaled_current = {c: n * factor for c, n in current.items()}
    assume(sum(scaled_reference.values()) > 0 and sum(scaled_current.values()) > 0)
    before = distance(reference, current)
    after = distance(scaled_reference, scaled_current)
    assert abs(after - before) <= 1e-7 * max(1.0, before)


@settings(max_examples=100, deadline=None)
@given(reference=count_maps, current=count_maps)
def test_chi_square_p_value_is_a_probability(
    reference: dict[str, float], current: dict[str, float]
) -> None:
    result = chi_square(reference, current)
    assert 0 <= result.p_value <= 1
    assert result.statistic >= 0


binary_counts = st.tuples(st.integers(0, 500), st.integers(0, 500)).filter(lambda c: sum(c) > 0)


@settings(max_examples=100, deadline=None)
@given(reference=binary_counts, current=binary_counts)
def test_binary_tests_give_p_values_in_unit_interval_and_agree_with_chi_square(
    reference: tuple[int, int], current: tuple[int, int]
) -> None:
    reference_counts = dict(zip("ab", reference, strict=True))
    current_counts = dict(zip("ab", current, strict=True))
    z = proportion_z(reference_counts, current_counts)
    fisher = fisher_exact(reference_counts, current_counts)
    chi = chi_square(reference_counts, current_counts)
    assert 0 <= z.p_value <= 1
    assert 0 <= fisher.p_value <= 1
    assert abs(z.statistic**2 - chi.statistic) <= 1e-7 * max(1.0, chi.statistic)
    assert abs(z.p_value - chi.p_value) <= 1e-9


@settings(max_examples=100, deadline=None)
@given(reference=count_maps, current=count_maps, k=st.integers(1, 12))
def test_top_k_with_other_keeps_totals_and_distances_shrink(
    reference: dict[str, float], current: dict[str, float], k: int
) -> None:
    lumped_reference, lumped_current = top_k_with_other(reference, current, k=k)
    assert abs(sum(lumped_reference.values()) - sum(reference.values())) <= 1e-9 * sum(
        reference.values()
    )
    assert abs(sum(lumped_current.values()) - sum(current.values())) <= 1e-9 * sum(current.values())
    # Merging categories never increases an f-divergence (data-processing inequality).
    for distance in BOUNDED:
        assert distance(lumped_reference, lumped_current) <= distance(reference, current) + 1e-9


integer_count_maps = st.dictionaries(
    st.sampled_from(CATEGORIES), st.integers(0, 2_000).map(float), min_size=1
).filter(lambda counts: sum(counts.values()) > 0)


@settings(max_examples=100, deadline=None)
@given(reference=integer_count_maps, current=integer_count_maps, seed=st.integers(0, 2**32))
def test_noise_corrected_jensen_shannon_is_bounded_by_the_plain_distance(
    reference: dict[str, float], current: dict[str, float], seed: int
) -> None:
    result = jensen_shannon_noise_corrected(reference, current, n_resamples=20, seed=seed)
    assert 0 < result.p_value <= 1
    assert 0 <= result.corrected <= result.distance <= 1
    assert abs(result.distance - jensen_shannon(reference, current)) <= 1e-9


@settings(max_examples=100, deadline=None)
@given(
    reference=count_maps,
    current=count_maps,
    singletons=st.one_of(st.none(), st.integers(0, 20).map(float)),
    max_noise=st.floats(0.01, 0.5),
    max_bins=st.integers(1, 12),
)
def test_comparable_bins_keep_totals_and_the_noise_budget(
    reference: dict[str, float],
    current: dict[str, float],
    singletons: float | None,
    max_noise: float,
    max_bins: int,
) -> None:
    bins = comparable_bins(
        reference, current, reference_singletons=singletons, max_noise=max_noise, max_bins=max_bins
    )
    assert list(bins.reference) == list(bins.current)
    for binned, raw in ((bins.reference, reference), (bins.current, current)):
        assert abs(sum(binned.values()) - sum(raw.values())) <= 1e-9 * sum(raw.values())
        assert min(binned.values()) >= 0
    assert bins.kept <= max_bins
    n_r, n_c = sum(reference.values()), sum(current.values())
    expected = expected_noise(len(bins.reference), n_r, n_c)
    # Both infinite when a side's total is so small (5e-324) that 1/n overflows.
    assert bins.noise == expected or abs(bins.noise - expected) <= 1e-12
    # At least one category is kept when one qualifies, even past the budget (tiny samples).
    assert bins.kept <= 1 or bins.noise <= max_noise * (1 + 1e-9)
    if singletons is None:
        # Lumping categories never increases an f-divergence (data-processing inequality).
        for distance in BOUNDED:
            assert distance(bins.reference, bins.current) <= distance(reference, current) + 1e-9


@settings(max_examples=100, deadline=None)
@given(
    reference=count_maps,
    current=count_maps,
    singletons=st.one_of(st.none(), st.integers(0, 20).map(float)),
    max_noise=st.one_of(st.none(), st.floats(0.01, 0.5)),
    max_bins=st.integers(1, 12),
)
def test_comparable_vectors_give_the_bins_and_distance_of_comparable_bins(
    reference: dict[str, float],
    current: dict[str, float],
    singletons: float | None,
    max_noise: float | None,
    max_bins: int,
) -> None:
    # The drift method's vector path against the dictionaries: same bins, same order,
    # and the very same Jensen-Shannon value (not just close).
    options: dict[str, Any] = {
        "reference_singletons": singletons,
        "max_noise": max_noise,
        "max_bins": max_bins,
    }
    bins = comparable_bins(reference, current, **options)
    vectors = comparable_vectors(reference, current, **options)
    assert vectors.names == list(bins.reference) == list(bins.current)
    assert vectors.reference.tolist() == list(bins.reference.values())
    assert vectors.current.tolist() == list(bins.current.values())
    assert (vectors.kept, vectors.noise) == (bins.kept, bins.noise)
    value = jensen_shannon_of_vectors(vectors.reference, vectors.current)
    assert value == jensen_shannon(bins.reference, bins.current)


@settings(max_examples=100, deadline=None)
@given(reference=count_maps, current=count_maps)
def test_jensen_shannon_method_equals_the_distance_over_comparable_bins(
    reference: dict[str, float], current: dict[str, float]
) -> None:
    singletons = sum(1 for n in reference.values() if n == 1)
    bins = comparable_bins(reference, current, reference_singletons=singletons)
    value, details = CATEGORICAL["jensen_shannon"].compute(reference, current)
    assert value == jensen_shannon(bins.reference, bins.current)
    assert details == {"categories_kept": bins.kept, "noise": bins.noise}


int_count_maps = st.dictionaries(
    st.sampled_from([*CATEGORIES, *(f"r{i}" for i in range(40))]),
    st.one_of(st.integers(0, 3), st.integers(0, 10_000), st.integers(0, 10**9)),
    min_size=1,
).filter(lambda counts: sum(counts.values()) > 0)


@settings(max_examples=300, deadline=None)
@given(
    reference=int_count_maps,
    current=int_count_maps,
    max_noise=st.one_of(st.none(), st.floats(0.01, 0.5)),
    max_bins=st.integers(1, 60),
)
def test_complete_comparable_vectors_equal_the_numpy_path_on_exact_counts(
    reference: dict[str, int], current: dict[str, int], max_noise: float | None, max_bins: int
) -> None:
    # The one-pass path against comparable_vectors (the uncached, general path): the
    # very same bins, counts, order and noise, so the very same distance.
    singletons = sum(1 for n in reference.values() if n == 1)
    fast = complete_comparable_vectors(reference, current, max_noise=max_noise, max_bins=max_bins)
    general = comparable_vectors(
        reference, current,
        reference_singletons=singletons, max_noise=max_noise, max_bins=max_bins,
    )  # fmt: skip
    assert fast.names == general.names
    assert fast.reference.tolist() == general.reference.tolist()
    assert fast.current.tolist() == general.current.tolist()
    assert (fast.kept, fast.noise) == (general.kept, general.noise)


@settings(max_examples=200, deadline=None)
@given(reference=int_count_maps, current=int_count_maps)
def test_profiled_unseen_pass_equals_unseen_categories(
    reference: dict[str, int], current: dict[str, int]
) -> None:
    found = unseen_categories(reference, current)
    assert _unseen(reference, current) == (list(found.categories), found.count)
