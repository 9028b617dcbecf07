"""CBPE's standard errors and intervals: their coverage of the realised metrics by
simulation, and where CBPE cannot see a drop (calibration no longer holds)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.stats import rankdata
from sklearn import metrics as skm

from mlpulse.core.drift.check import Status
from mlpulse.core.performance import CBPE
from mlpulse.core.performance.cbpe import METRICS, CBPEResult
from mlpulse.errors import ParameterError


def _realised(y: NDArray[np.bool_], score: NDArray[np.float64]) -> dict[str, float]:
    """The realised metrics of one window with numpy (scikit-learn's validation costs
    about 1 ms a call; test_cbpe_realised_metrics_match_scikit_learn holds them to it)."""
    yhat = score >= 0.5
    tp, fp = float(np.sum(y & yhat)), float(np.sum(~y & yhat))
    fn = float(np.sum(y & ~yhat))
    ranks = rankdata(score)
    positives = float(y.sum())
    negatives = y.size - positives
    return {
        "accuracy": float(np.mean(y == yhat)),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        "roc_auc": (float(ranks[y].sum()) - positives * (positives + 1) / 2)
        / (positives * negatives),
    }


def test_cbpe_realised_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(20)
    for _ in range(5):
        score = np.round(rng.beta(2.0, 3.0, 500), 2)  # ties
        y = rng.random(score.size) < score
        realised = _realised(y, score)
        yhat = score >= 0.5
        assert realised["accuracy"] == pytest.approx(skm.accuracy_score(y, yhat))
        assert realised["precision"] == pytest.approx(skm.precision_score(y, yhat))
        assert realised["recall"] == pytest.approx(skm.recall_score(y, yhat))
        assert realised["f1"] == pytest.approx(skm.f1_score(y, yhat))
        assert realised["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score))


def _coverage(
    cbpe: CBPE, windows: list[NDArray[np.float64]], truth: list[NDArray[np.bool_]]
) -> dict[str, float]:
    inside = dict.fromkeys(METRICS, 0)
    for seed, (score, y) in enumerate(zip(windows, truth, strict=True)):
        result = cbpe.estimate(score, seed=seed)
        realised = _realised(y, score)
        for metric in METRICS:
            interval = result.interval(metric)
            assert interval is not None
            inside[metric] += interval[0] <= realised[metric] <= interval[1]
    return {metric: count / len(windows) for metric, count in inside.items()}


def test_cbpe_95_percent_intervals_cover_the_realised_metrics_with_calibrated_scores() -> None:
    """Measured (seed 21, 400 windows of 1,000 rows): accuracy 0.940, precision 0.940,
    recall 0.938, f1 0.935, roc_auc 0.950; 400 windows put a true 95% within ± 2.2% (two
    standard deviations of a binomial share)."""
    rng = np.random.default_rng(21)
    cbpe = CBPE(calibrated=True).fit([0.2, 0.9], [0, 1])
    windows = [rng.beta(2.0, 3.0, 1000) for _ in range(400)]
    truth = [rng.random(p.size) < p for p in windows]
    coverage = _coverage(cbpe, windows, truth)
    for metric, share in coverage.items():
        assert 0.925 <= share <= 0.975, (metric, coverage)


def test_cbpe_intervals_still_cover_with_a_fitted_isotonic_calibrator() -> None:
    """The intervals leave out the calibrator's own error (fitted on 10,000 reference
    rows), so they cover a little less: measured (seed 22, 300 windows of 1,000 rows)
    accuracy 0.950, precision 0.897, recall 0.907, f1 0.903, roc_auc 0.927."""
    rng = np.random.default_rng(22)
    p = rng.beta(2.0, 2.0, 10_000)
    cbpe = CBPE().fit(p**2, rng.random(p.size) < p)  # scores are p**2: not calibrated
    windows = [rng.beta(2.0, 3.0, 1000) for _ in range(300)]
    truth = [rng.random(w.size) < w for w in windows]
    coverage = _coverage(cbpe, [w**2 for w in windows], truth)
    for metric, share in coverage.items():
        assert 0.85 <= share <= 0.98, (metric, coverage)


def test_cbpe_standard_errors_match_the_spread_of_the_realised_metrics() -> None:
    """For one window of fixed scores, the standard deviation of each realised metric
    over 2,000 draws of labels matches its standard error within 5% (roc_auc's, itself
    from 400 draws, within 10%)."""
    rng = np.random.default_rng(23)
    score = rng.beta(2.0, 3.0, 2000)
    result = CBPE(calibrated=True).fit([0.2, 0.9], [0, 1]).estimate(score, draws=400)
    y = rng.random((2000, score.size)) < score  # one row per draw
    yhat = score >= 0.5
    tp, fp, fn = (y & yhat).sum(1), (~y & yhat).sum(1), (y & ~yhat).sum(1)
    positives = y.sum(1)
    realised = {
        "accuracy": (y == yhat).mean(1),
        "precision": tp / (tp + fp),
        "recall": tp / (tp + fn),
        "f1": 2 * tp / (2 * tp + fp + fn),
        "roc_auc": (y @ rankdata(score) - positives * (positives + 1) / 2)
        / (positives * (score.size - positives)),
    }
    assert realised["roc_auc"][0] == pytest.approx(_realised(y[0], score)["roc_auc"])
    for metric in METRICS:
        se, estimate = result.standard_errors[metric], result.metrics[metric]
        assert se is not None and estimate is not None
        tolerance = 0.1 if metric == "roc_auc" else 0.05
        assert float(np.std(realised[metric])) == pytest.approx(se, rel=tolerance), metric
        assert float(np.mean(realised[metric])) == pytest.approx(estimate, abs=se / 3), metric


def test_cbpe_interval_is_none_where_the_estimate_is_undefined() -> None:
    cbpe = CBPE(calibrated=True, min_rows=10).fit([0.2, 0.9], [0, 1])
    empty = cbpe.estimate([0.5])
    assert empty.status is Status.INSUFFICIENT_DATA
    assert all(empty.interval(m) is None for m in METRICS)
    below = cbpe.estimate(np.full(20, 0.3))  # nothing predicted positive
    assert below.standard_errors["precision"] is None and below.interval("precision") is None
    assert below.interval("accuracy") is not None
    no_draws = cbpe.estimate(np.linspace(0.1, 0.9, 20), draws=0)
    assert no_draws.standard_errors["roc_auc"] is None


def test_cbpe_interval_names_a_bad_metric_or_confidence() -> None:
    result = CBPEResult(100, {"accuracy": 0.9}, {}, {"accuracy": 0.03}, Status.OK)
    with pytest.raises(ParameterError, match=r"'metric' parameter of CBPEResult\.interval"):
        result.interval("auc")
    with pytest.raises(ParameterError, match="'confidence'"):
        result.interval("accuracy", confidence=95.0)
    wide, narrow = result.interval("accuracy", confidence=0.99), result.interval("accuracy")
    assert wide is not None and narrow is not None and wide[0] < narrow[0]
    with pytest.raises(ParameterError, match="'draws'"):
        CBPE(calibrated=True).fit([0.2, 0.9], [0, 1]).estimate([0.5], draws=-1)


def _model(
    rng: np.random.Generator, n: int, scale: float, spread: float
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """A logistic model of two features, correct on the reference. ``spread`` scales
    the features themselves (covariate shift: the outcome follows); ``scale`` multiplies
    x2 on its way into the model only (a unit change upstream: the outcome does not)."""
    x1, x2 = rng.normal(0, spread, n), rng.normal(0, spread, n)
    truth = 1 / (1 + np.exp(-(2.0 * x1 + 2.0 * x2)))
    score = 1 / (1 + np.exp(-(2.0 * x1 + 2.0 * scale * x2)))
    return score, rng.random(n) < truth


def test_cbpe_sees_a_drop_from_covariate_shift_but_not_from_a_broken_calibration() -> None:
    """Measured (seed 24, 20,000 rows): covariate shift towards the decision boundary
    (both features at 0.4 of their spread) drops the realised accuracy 0.828 → 0.686 and
    CBPE follows (0.825 → 0.686, interval 0.679-0.692). A unit change of x2 (×5 into the
    model only) drops it to 0.750 while CBPE *rises* to 0.945 (interval 0.942-0.948):
    the model is confidently wrong, which a calibration fitted on the reference cannot
    know."""
    rng = np.random.default_rng(24)
    cbpe = CBPE().fit(*_model(rng, 20_000, scale=1.0, spread=1.0))

    def compare(scale: float, spread: float) -> tuple[float, float, tuple[float, float]]:
        score, y = _model(rng, 20_000, scale=scale, spread=spread)
        result = cbpe.estimate(score, draws=0)
        estimate, interval = result.metrics["accuracy"], result.interval("accuracy")
        assert estimate is not None and interval is not None
        return float(np.mean((score >= 0.5) == y)), estimate, interval

    realised, estimate, _ = compare(1.0, 1.0)
    assert abs(realised - estimate) < 0.01
    shifted, _, interval = compare(1.0, 0.4)
    assert realised - shifted > 0.05
    assert interval[0] <= shifted <= interval[1]
    broken, broken_estimate, interval = compare(5.0, 1.0)
    assert realised - broken > 0.03
    assert broken_estimate > estimate  # CBPE moves the wrong way
    assert broken < interval[0]


def test_cbpe_roc_auc_standard_error_of_a_large_window_from_a_subset_matches_all_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over AUC_ROWS rows the draws use a subset, scaled by √(subset / n): within 12% of
    the standard error drawn from every row (each has about 3.5% noise at 400 draws)."""
    from mlpulse.core.performance import cbpe as module

    rng = np.random.default_rng(25)
    score = rng.beta(2.0, 3.0, 3 * module.AUC_ROWS)
    cbpe = CBPE(calibrated=True).fit([0.2, 0.9], [0, 1])
    subset = cbpe.estimate(score, draws=400).standard_errors["roc_auc"]
    monkeypatch.setattr(module, "AUC_ROWS", score.size)
    every = cbpe.estimate(score, draws=400, seed=1).standard_errors["roc_auc"]
    assert subset is not None and every is not None
    assert subset == pytest.approx(every, rel=0.12)
