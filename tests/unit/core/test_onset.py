"""Onset estimates: where a series crossed a threshold, and where its level shifted."""

from __future__ import annotations

import numpy as np
import pytest

from mlpulse.core.onset import crossing_onset, cusum_onset


def test_crossing_onset_is_halfway_between_the_last_good_and_first_bad_point() -> None:
    times = [0.0, 60.0, 120.0, 180.0, 240.0]
    assert crossing_onset(times, [True, False, False, True, True]) == 150.0


def test_crossing_onset_is_none_when_the_newest_point_is_fine() -> None:
    assert crossing_onset([0.0, 60.0], [True, False]) is None
    assert crossing_onset([], []) is None


@pytest.mark.parametrize("seed", range(20))
def test_cusum_onset_finds_a_level_shift_within_one_step_for_any_seed(seed: int) -> None:
    rng = np.random.default_rng(seed)
    times = np.arange(60) * 60.0
    values = np.where(times >= 2400.0, 3.0, 1.0) + rng.normal(0.0, 0.3, 60)
    onset = cusum_onset(times.tolist(), values.tolist())
    assert onset is not None and abs(onset - 2370.0) <= 60.0


def test_cusum_onset_is_none_for_too_few_points_or_a_flat_series() -> None:
    assert cusum_onset([0.0, 1.0, 2.0], [1.0, 5.0, 5.0]) is None
    assert cusum_onset([0.0, 1.0, 2.0, 3.0], [4.0, 4.0, 4.0, 4.0]) is None


def test_onset_estimates_refuse_sequences_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="same length"):
        crossing_onset([0.0], [])
    with pytest.raises(ValueError, match="same length"):
        cusum_onset([0.0], [])
