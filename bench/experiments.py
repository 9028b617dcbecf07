"""Experiment analysis speed: mlpulse's vectorised paths beside the scipy/pandas loops.

1. Analysis from sufficient statistics, 10 variants × 20 metrics (9 × 20 = 180
   comparisons with the control): Welch's t test with intervals of the difference and
   the lift, the always-valid mSPRT p-value, the Bayesian chance to beat control and
   expected losses, Holm over all 180 p-values and the sample ratio check.
   - mlpulse: one ``analyse_experiment`` call;
   - scipy loop: per pair ``scipy.stats.ttest_ind_from_stats(equal_var=False)``, the
     interval from ``stats.t.ppf``, the mSPRT and the Bayesian closed forms with
     ``math`` and ``stats.norm``; then ``statsmodels`` ``multipletests(method="holm")``
     (when installed) and ``scipy.stats.chisquare`` for the split.
   Median of ``--analyses`` runs each (default 200), interleaved.
2. Aggregation from raw rows, 10,000,000 users × 20 metrics × 10 variants, 10% of the
   values missing (NaN): count, sum and sum of squares per (metric, variant).
   - mlpulse: ``aggregate(variant, values, 10)``;
   - pandas: ``df.groupby(variant).count()``, ``.sum()`` and ``(df * df).groupby(...)
     .sum()`` on a DataFrame over the same matrix (built before the clock starts).
   The matrix is generated once, as float32 (800 MB; float64 would be 1.6 GB and make
   the pandas side copy 1.6 GB for the squares); both read the same array. Median of
   ``--repeats`` runs each (default 5), alternating.
3. GrowthBook's gbstats on the sufficient statistics of 1 (when ``gbstats`` imports):
   per pair its ``TwoSidedTTest`` (absolute and relative differences: what our one call
   gives) and its ``EffectBayesianABTest`` (absolute, flat prior), plus ``check_srm``;
   timed beside ``analyse_experiment`` in the same run, interleaved, and checked for
   agreement where the methods are the same. gbstats 0.8.0 pins numpy<2 and pandas<2,
   which the project's environment (numpy 2, pandas 3) cannot hold, so this runs from
   a separate virtual environment (see bench/README.md).

    .venv/bin/python bench/experiments.py [--users 10000000] [--repeats 5] [--analyses 200]
                                          [--sections 1,2,3]
"""

from __future__ import annotations

import argparse
import math
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mlpulse.core.experiments.aggregate import aggregate
from mlpulse.core.experiments.analysis import analyse_experiment

try:
    from statsmodels.stats.multitest import multipletests
except ImportError:  # the loop then adjusts with mlpulse's holm, and says so
    multipletests = None

METRICS, VARIANTS, ALPHA, TAU2 = 20, 10, 0.05, 0.01


def _sufficient_statistics(seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    n = rng.integers(99_000, 101_000, VARIANTS)
    count = np.tile(n, (METRICS, 1)) - rng.integers(0, 5_000, (METRICS, VARIANTS))
    mean = rng.normal(10.0, 0.05, (METRICS, VARIANTS))
    variance = rng.uniform(1.0, 9.0, (METRICS, VARIANTS))
    total = mean * count
    return n, count, total, (variance * (count - 1) + total * total / count)


def scipy_loop(n: np.ndarray, count: np.ndarray, total: np.ndarray, sq: np.ndarray) -> Any:
    """The same analysis as one would write it with scipy, pair by pair."""
    mean = total / count
    var = (sq - total * total / count) / (count - 1)
    rows, p_values = [], []
    for m in range(METRICS):
        mc, vc, nc = float(mean[m, 0]), float(var[m, 0]), int(count[m, 0])
        for v in range(1, VARIANTS):
            mt, vt, nt = float(mean[m, v]), float(var[m, v]), int(count[m, v])
            test = stats.ttest_ind_from_stats(
                mt, math.sqrt(vt), nt, mc, math.sqrt(vc), nc, equal_var=False
            )
            a, b = vc / nc, vt / nt
            se = math.sqrt(a + b)
            dof = (a + b) ** 2 / (a * a / (nc - 1) + b * b / (nt - 1))
            q = float(stats.t.ppf(1 - ALPHA / 2, dof))
            d = mt - mc
            ci = (d - q * se, d + q * se)
            lift = mt / mc - 1
            se_rel = math.sqrt(b / mc**2 + mt**2 * a / mc**4)
            lift_ci = (lift - q * se_rel, lift + q * se_rel)
            w = a + b  # mSPRT, one look
            log_lr = 0.5 * math.log(w / (w + TAU2)) + TAU2 * d * d / (2 * w * (w + TAU2))
            msprt_p = min(1.0, math.exp(-log_lr))
            z = d / se  # Bayesian, normal approximation
            chance = float(stats.norm.cdf(z))
            density = float(stats.norm.pdf(z))
            loss = se * density - d * float(stats.norm.cdf(-z))
            rows.append((test.statistic, test.pvalue, ci, lift_ci, msprt_p, chance, loss))
            p_values.append(float(test.pvalue))
    if multipletests is not None:
        adjusted = multipletests(p_values, alpha=ALPHA, method="holm")[1]
    else:
        from mlpulse.core.experiments import holm

        adjusted = holm(p_values)
    srm = stats.chisquare(n)
    return rows, adjusted, srm


def _median_ms(fn: Callable[[], object], times: list[float]) -> None:
    start = time.perf_counter()
    fn()
    times.append((time.perf_counter() - start) * 1e3)


def bench_analysis(repeats: int) -> None:
    n, count, total, sq = _sufficient_statistics()
    ours: list[float] = []
    loop: list[float] = []
    for _ in range(repeats):
        _median_ms(lambda: analyse_experiment(n, count, total, sq, tau2=TAU2), ours)
        _median_ms(lambda: scipy_loop(n, count, total, sq), loop)
    result = analyse_experiment(n, count, total, sq, tau2=TAU2)
    rows, adjusted, srm = scipy_loop(n, count, total, sq)
    p_loop = np.array([r[1] for r in rows]).reshape(METRICS, VARIANTS - 1)
    chance_loop = np.array([r[5] for r in rows]).reshape(METRICS, VARIANTS - 1)
    msprt_loop = np.array([r[4] for r in rows]).reshape(METRICS, VARIANTS - 1)
    print(f"\n1. Analysis, {VARIANTS} variants × {METRICS} metrics, median of {repeats} runs")
    print(f"   {'contender':<34} {'median ms':>10} {'p90 ms':>8}")
    for name, times in (("mlpulse analyse_experiment", ours), ("scipy loop", loop)):
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"   {name:<34} {statistics.median(times):>10.3f} {p90:>8.3f}")
    print(
        f"   ratio (scipy loop / mlpulse): {statistics.median(loop) / statistics.median(ours):.0f}x"
    )
    print(
        "   largest differences: p-value "
        f"{np.max(np.abs(result.p_value - p_loop)):.1e}, mSPRT p "
        f"{np.max(np.abs(result.msprt_p_value - msprt_loop)):.1e}, chance to beat "
        f"{np.max(np.abs(result.chance_to_beat - chance_loop)):.1e}, Holm "
        f"{np.max(np.abs(result.adjusted_p_value.ravel() - adjusted)):.1e}, SRM p "
        f"{abs(result.srm.p_value - srm.pvalue):.1e}"
        + ("" if multipletests is not None else " (statsmodels missing: mlpulse's holm)")
    )


def _pandas(frame: pd.DataFrame, variant: np.ndarray) -> tuple[Any, Any, Any]:
    grouped = frame.groupby(variant)
    return grouped.count(), grouped.sum(), (frame * frame).groupby(variant).sum()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_aggregation(users: int, repeats: int) -> None:
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    variant = rng.integers(0, VARIANTS, users)
    values = np.empty((users, METRICS), dtype=np.float32)
    for lo in range(0, users, 1_000_000):  # in slices: no 1.6 GB float64 temporary
        block = values[lo : lo + 1_000_000]
        block[:] = rng.normal(10.0, 3.0, block.shape)
        block[rng.random(block.shape) < 0.1] = np.nan
    frame = pd.DataFrame(values, columns=[f"m{i}" for i in range(METRICS)], copy=False)
    print(
        f"\n2. Aggregation, {users:,} users × {METRICS} metrics × {VARIANTS} variants "
        f"(float32 values: {values.nbytes / 1e6:,.0f} MB, variant int64: "
        f"{variant.nbytes / 1e6:,.0f} MB; generated in {time.perf_counter() - start:.1f} s)"
    )
    base = _peak_mb()
    aggregate(variant, values, VARIANTS)  # a first call of each, for the memory peaks
    after_ours = _peak_mb()
    _pandas(frame, variant)
    after_theirs = _peak_mb()
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(repeats):
        _median_ms(lambda: aggregate(variant, values, VARIANTS), ours)
        _median_ms(lambda: _pandas(frame, variant), theirs)
    result = aggregate(variant, values, VARIANTS)
    count, total, squares = _pandas(frame, variant)
    print(f"   {'contender':<34} {'median s':>10} {'min s':>8} {'max s':>8}")
    for name, times in (("mlpulse aggregate", ours), ("pandas groupby", theirs)):
        row = [statistics.median(times) / 1e3, min(times) / 1e3, max(times) / 1e3]
        print(f"   {name:<34} {row[0]:>10.2f} {row[1]:>8.2f} {row[2]:>8.2f}")
    ratio = statistics.median(theirs) / statistics.median(ours)
    print(f"   ratio (pandas / mlpulse): {ratio:.1f}x")
    relative = np.abs(result.sum - total.to_numpy().T) / np.abs(result.sum)
    print(
        f"   same counts: {bool((result.count == count.to_numpy().T).all())}; largest relative "
        f"difference of sums {relative.max():.1e} (pandas returns {total.dtypes.iloc[0]}), of sums "
        f"of squares {np.max(np.abs(result.sum_sq - squares.to_numpy().T) / result.sum_sq):.1e}"
    )
    print(
        f"   peak resident memory: {base:,.0f} MB with the data; {after_ours:,.0f} MB after "
        f"mlpulse (+{after_ours - base:,.0f}), {after_theirs:,.0f} MB after pandas "
        f"(+{after_theirs - after_ours:,.0f})"
    )


def _gbstats_loop(n: np.ndarray, count: np.ndarray, total: np.ndarray, sq: np.ndarray) -> Any:
    """gbstats on every (metric, variant) pair: frequentist absolute and relative, and
    Bayesian absolute with its default flat prior; then its SRM check."""
    from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
    from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
    from gbstats.models.statistics import SampleMeanStatistic
    from gbstats.utils import check_srm

    absolute = FrequentistConfig(alpha=ALPHA, difference_type="absolute")
    relative = FrequentistConfig(alpha=ALPHA, difference_type="relative")
    bayes = EffectBayesianConfig(alpha=ALPHA, difference_type="absolute")
    rows = []
    for m in range(METRICS):
        a = SampleMeanStatistic(n=int(count[m, 0]), sum=float(total[m, 0]),
                                sum_squares=float(sq[m, 0]))  # fmt: skip
        for v in range(1, VARIANTS):
            b = SampleMeanStatistic(n=int(count[m, v]), sum=float(total[m, v]),
                                    sum_squares=float(sq[m, v]))  # fmt: skip
            rows.append((
                TwoSidedTTest(a, b, absolute).compute_result(),
                TwoSidedTTest(a, b, relative).compute_result(),
                EffectBayesianABTest(a, b, bayes).compute_result(),
            ))  # fmt: skip
    return rows, check_srm([int(x) for x in n], [1.0 / VARIANTS] * VARIANTS)


def bench_gbstats(repeats: int) -> None:
    print(
        f"\n3. gbstats, the same {VARIANTS} variants × {METRICS} metrics, median of {repeats} runs"
    )
    try:
        import gbstats  # noqa: F401 (only whether it imports)
    except ImportError as exc:
        print(f"   skipped: gbstats does not import ({exc}); see bench/README.md")
        return
    from importlib.metadata import version

    n, count, total, sq = _sufficient_statistics()
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(repeats):
        _median_ms(lambda: analyse_experiment(n, count, total, sq, tau2=TAU2), ours)
        _median_ms(lambda: _gbstats_loop(n, count, total, sq), theirs)
    print(f"   {'contender':<34} {'median ms':>10} {'p90 ms':>8}")
    for name, times in (("mlpulse analyse_experiment", ours),
                        (f"gbstats {version('gbstats')} loop", theirs)):  # fmt: skip
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"   {name:<34} {statistics.median(times):>10.3f} {p90:>8.3f}")
    ratio = statistics.median(theirs) / statistics.median(ours)
    print(f"   ratio (gbstats / mlpulse): {ratio:.0f}x")
    r = analyse_experiment(n, count, total, sq, tau2=TAU2)
    rows, srm_p = _gbstats_loop(n, count, total, sq)
    shape = (METRICS, VARIANTS - 1)

    def field(i: int, get: Callable[[Any], float]) -> np.ndarray:
        return np.array([get(row[i]) for row in rows], dtype=np.float64).reshape(shape)

    def ci(i: int) -> np.ndarray:
        return np.stack([field(i, lambda x: x.ci[0]), field(i, lambda x: x.ci[1])], axis=-1)

    def gap(a: np.ndarray, b: np.ndarray) -> float:  # relative, for estimates and intervals
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300)))

    def absolute(a: np.ndarray, b: np.ndarray) -> float:  # for probabilities and losses
        return float(np.max(np.abs(a - b)))

    relative = [
        ("difference", r.difference, field(0, lambda x: x.expected)),
        ("its CI", r.difference_ci, ci(0)),
        ("lift", r.relative_difference, field(1, lambda x: x.expected)),
        ("lift CI", r.relative_ci, ci(1)),
    ]
    plain = [
        ("p-value", r.p_value, field(0, lambda x: x.p_value)),
        ("chance to beat", r.chance_to_beat, field(2, lambda x: x.chance_to_win)),
        ("loss (treatment)", r.expected_loss, field(2, lambda x: x.risk[1])),
        ("loss (control)", r.expected_loss_control, field(2, lambda x: x.risk[0])),
    ]
    print("   largest relative differences: " + ", ".join(
        f"{name} {gap(a, b):.1e}" for name, a, b in relative))  # fmt: skip
    print("   largest absolute differences: " + ", ".join(
        f"{name} {absolute(a, b):.1e}" for name, a, b in plain
    ) + f", SRM p {abs(r.srm.p_value - srm_p):.1e}")  # fmt: skip
    tiny = int((r.p_value < 1e-15).sum())
    print(f"   p-values below 1e-15: {tiny} of {r.p_value.size} (gbstats' 1 - cdf gives 0 there)")
    # Where the conventions differ: gbstats' Bayesian interval is a normal credible
    # interval, our Welch interval takes the t quantile (the posterior mean is the same).
    credible = ci(2)
    print(f"   convention: gbstats' Bayesian CI (normal quantile) vs our Welch CI (t quantile): "
          f"{gap(r.difference_ci, credible):.1e}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--analyses", type=int, default=200)
    parser.add_argument("--sections", default="1,2,3", help="which sections to run, e.g. 1,3")
    args = parser.parse_args()
    sections = {int(s) for s in args.sections.split(",")}
    if 1 in sections:
        bench_analysis(args.analyses)
    if 2 in sections:
        bench_aggregation(args.users, args.repeats)
    if 3 in sections:
        bench_gbstats(args.analyses)


if __name__ == "__main__":
    main()
