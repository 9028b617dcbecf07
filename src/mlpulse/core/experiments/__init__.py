"""The statistics of A/B experiments, computed from sufficient statistics that merge.

Per-window aggregates (:class:`MeanStats`, :class:`CovStats`, :class:`ProportionStats`)
add up to the statistics of a whole experiment, so a result over billions of rows never
reads a row. Welch's t test, the two-proportion z test, the chi-square test, ratio
metrics (delta method) and CUPED read them; Mann–Whitney and the bootstrap need raw
values. :func:`sample_ratio_mismatch` checks the split and the corrections adjust
p-values over many comparisons.

Beside these, by module: :mod:`.power` (sample size and MDE), :mod:`.sequential`
(mSPRT confidence sequences, group-sequential boundaries with Lan–DeMets spending),
:mod:`.bayesian` (chance to beat control, expected loss), :mod:`.bandits` (Thompson
sampling, UCB1, epsilon-greedy, LinUCB with allocation weights) and :mod:`.assignment`
(deterministic, versioned bucketing and GrowthBook-compatible hashing); and, for many
variants and metrics at once, :mod:`.aggregate` (per-variant sums from raw rows) and
:mod:`.analysis` (the whole analysis vectorised over the arrays of sums), and
:mod:`.rollout` (the decisions of a champion–challenger rollout: hold, advance,
promote, roll back).

>>> a, b = MeanStats.from_values([1.0, 2.0, 3.0]), MeanStats.from_values([2.0, 3.0, 4.0])
>>> round(welch_t_test(a, b).difference, 1)
1.0
"""

from mlpulse.core.experiments.corrections import (
    AdjustedPValuesResult,
    adjust_p_values,
    benjamini_hochberg,
    bonferroni,
    holm,
)
from mlpulse.core.experiments.cuped import CupedResult, cuped
from mlpulse.core.experiments.frequentist import (
    BootstrapResult,
    ChiSquareResult,
    DifferenceResult,
    ExperimentStatus,
    RankSumResult,
    bootstrap_mean_difference,
    chi_square_test,
    mann_whitney_u,
    proportion_z_test,
    welch_from_moments,
    welch_t_test,
)
from mlpulse.core.experiments.ratio import ratio_metric, ratio_variance
from mlpulse.core.experiments.srm import SrmResult, sample_ratio_mismatch
from mlpulse.core.experiments.sufficient import CovStats, MeanStats, ProportionStats

__all__ = [
    "AdjustedPValuesResult",
    "BootstrapResult",
    "ChiSquareResult",
    "CovStats",
    "CupedResult",
    "DifferenceResult",
    "ExperimentStatus",
    "MeanStats",
    "ProportionStats",
    "RankSumResult",
    "SrmResult",
    "adjust_p_values",
    "benjamini_hochberg",
    "bonferroni",
    "bootstrap_mean_difference",
    "chi_square_test",
    "cuped",
    "holm",
    "mann_whitney_u",
    "proportion_z_test",
    "ratio_metric",
    "ratio_variance",
    "sample_ratio_mismatch",
    "welch_from_moments",
    "welch_t_test",
]
