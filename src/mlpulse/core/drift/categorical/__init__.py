"""Categorical drift: statistics over two sets of category counts (reference, current).

Each function takes two mappings category → count, so it serves raw data (count it with
:func:`counts`) and mergeable profiles (frequent-items sketches give counts) alike.
Categories seen only in current (unseen categories) are kept by every statistic and
reported by :func:`unseen_categories`. For columns with many rare categories, lump them
first with :func:`comparable_bins` (as many bins as the sample sizes carry; what the
``jensen_shannon`` drift method does) or :func:`top_k_with_other`, or correct for the
noise with :func:`jensen_shannon_noise_corrected`, or sampling noise reads as drift.

- tests: :func:`chi_square` (any k), :func:`proportion_z` and :func:`fisher_exact` (binary)
- distances in [0, 1]: :func:`jensen_shannon`, :func:`hellinger`, :func:`total_variation`
- index: :func:`psi`
"""

from __future__ import annotations

from mlpulse.core.drift.categorical.binning import (
    BinningResult,
    comparable_bins,
    expected_noise,
)
from mlpulse.core.drift.categorical.chi_square import chi_square
from mlpulse.core.drift.categorical.counts import (
    AlignedCounts,
    CategoryCounts,
    aligned,
    counts,
    two_by_two,
)
from mlpulse.core.drift.categorical.fisher import fisher_exact
from mlpulse.core.drift.categorical.hellinger import hellinger
from mlpulse.core.drift.categorical.high_cardinality import (
    NoiseCorrectedResult,
    jensen_shannon_noise_corrected,
    top_k_with_other,
)
from mlpulse.core.drift.categorical.jensen_shannon import jensen_shannon
from mlpulse.core.drift.categorical.proportion_z import proportion_z
from mlpulse.core.drift.categorical.psi import psi
from mlpulse.core.drift.categorical.total_variation import total_variation
from mlpulse.core.drift.categorical.unseen import UnseenResult, unseen_categories

__all__ = [
    "AlignedCounts",
    "BinningResult",
    "CategoryCounts",
    "NoiseCorrectedResult",
    "UnseenResult",
    "aligned",
    "chi_square",
    "comparable_bins",
    "counts",
    "expected_noise",
    "fisher_exact",
    "hellinger",
    "jensen_shannon",
    "jensen_shannon_noise_corrected",
    "proportion_z",
    "psi",
    "top_k_with_other",
    "total_variation",
    "two_by_two",
    "unseen_categories",
]
