"""Classification performance against scikit-learn, label normalisation and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from mlpulse.core.drift.check import Status
from mlpulse.core.performance import classification_performance
from mlpulse.core.performance.classification import METRICS
from mlpulse.errors import InvalidInputError, ParameterError

SEEDS = range(8)


def _binary_case(seed: int, n: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    rng = np.random.default_rng(seed)
    # Scores rounded to one decimal: many ties, and values on the ECE bin edges.
    score = np.round(rng.beta(2, 2, n), 1)
    y_true = (rng.random(n) < score).astype(np.int64)
    y_true[:2] = [0, 1]  # both classes present
    return y_true, score


@pytest.mark.parametrize("n", [5, 40, 1000])
@pytest.mark.parametrize("seed", SEEDS)
def test_classification_performance_matches_sklearn_when_binary(seed: int, n: int) -> None:
    y_true, score = _binary_case(seed, n)
    y_pred = (score >= 0.5).astype(np.int64)
    got = classification_performance(y_true, y_pred, score).metrics
    expected = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred, zero_division=0),
        "recall": skm.recall_score(y_true, y_pred, zero_division=0),
        "f1": skm.f1_score(y_true, y_pred, zero_division=0),
        "roc_auc": skm.roc_auc_score(y_true, score),
        "pr_auc": skm.average_precision_score(y_true, score),
        "log_loss": skm.log_loss(y_true, y_proba=score, labels=[0, 1]),
        "brier_score": skm.brier_score_loss(y_true, score),
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def _ece_oracle(outcome: NDArray[np.float64], confidence: NDArray[np.float64], bins: int) -> float:
    """ECE from sklearn's calibration_curve (same (a, b] bins) and the bin counts."""
    prob_true, prob_pred = calibration_curve(outcome, confidence, n_bins=bins)
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], confidence), minlength=bins)
    weights = counts[counts > 0] / confidence.size
    return float(np.sum(weights * np.abs(prob_true - prob_pred)))


@pytest.mark.parametrize("bins", [1, 5, 10, 15])
@pytest.mark.parametrize("seed", SEEDS)
def test_classification_performance_ece_matches_calibration_curve(seed: int, bins: int) -> None:
    y_true, score = _binary_case(seed, 500)
    result = classification_performance(y_true, score >= 0.5, score, n_bins=bins)
    expected = _ece_oracle(y_true.astype(float), score, bins)
    assert result.metrics["ece"] == pytest.approx(expected, abs=1e-12)


def test_classification_performance_ece_of_a_known_case() -> None:
    # Bin (0.1, 0.2]: p=0.2, 0.2, positives 1 of 2 -> |0.5-0.2|·2/4; bin (0.8, 0.9]: p=0.9,
    # 0.9, positives 2 of 2 -> |1-0.9|·2/4. ECE = 0.15 + 0.05.
    result = classification_performance([0, 1, 1, 1], [0, 0, 1, 1], [0.2, 0.2, 0.9, 0.9])
    assert result.metrics["ece"] == pytest.approx(0.2)


def _multiclass_case(
    seed: int, n: int, classes: list[str]
) -> tuple[NDArray[np.str_], NDArray[np.str_], NDArray[np.float64]]:
    rng = np.random.default_rng(seed)
    weights = rng.integers(1, 4, size=(n, len(classes))).astype(np.float64)
    score = weights / weights.sum(axis=1, keepdims=True)  # few distinct rows: ties
    names = np.array(classes)
    y_true = names[[rng.choice(len(classes), p=row) for row in score]]
    y_true[: len(classes)] = names  # every class present
    y_pred = names[rng.integers(0, len(classes), n)]
    return y_true, y_pred, score


@pytest.mark.parametrize("seed", SEEDS)
def test_classification_performance_matches_sklearn_when_multiclass(seed: int) -> None:
    classes = ["bird", "cat", "dog", "fish"]  # sorted, as sklearn's `labels` must be
    y_true, y_pred, score = _multiclass_case(seed, 300, classes)
    # Ours takes the columns in any order: give them shuffled, with `classes` to match.
    order = [2, 0, 3, 1]
    got = classification_performance(
        y_true, y_pred, score[:, order], classes=[classes[i] for i in order]
    ).metrics
    expected = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred, average="macro", zero_division=0),
        "recall": skm.recall_score(y_true, y_pred, average="macro", zero_division=0),
        "f1": skm.f1_score(y_true, y_pred, average="macro", zero_division=0),
        "roc_auc": skm.roc_auc_score(y_true, score, multi_class="ovr", labels=classes),
        "log_loss": skm.log_loss(y_true, y_proba=score, labels=classes),
        "brier_score": skm.brier_score_loss(y_true, score, labels=classes),
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
    assert got["pr_auc"] is None


def test_classification_performance_macro_skips_classes_absent_from_both_sides() -> None:
    classes = [0, 1, 2, 3]
    y_true, y_pred = [0, 1, 1, 2, 0], [0, 1, 2, 2, 1]
    got = classification_performance(y_true, y_pred, classes=classes).metrics
    assert got["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))


def test_classification_performance_top_label_ece_when_multiclass() -> None:
    score = np.array([[0.7, 0.2, 0.1], [0.1, 0.85, 0.05], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]])
    y_true = [0, 2, 2, 0]
    # Confidences 0.7 (right), 0.85 (wrong), 0.4 (right), 0.6 (right): bins
    # (0.6, 0.7] -> |1-0.7|, (0.8, 0.9] -> |0-0.85|, (0.3, 0.4] -> |1-0.4|, (0.5, 0.6] -> 0.4.
    result = classification_performance(y_true, y_true, score, classes=[0, 1, 2])
    assert result.metrics["ece"] == pytest.approx((0.3 + 0.85 + 0.6 + 0.4) / 4)


def test_classification_performance_roc_auc_skips_a_class_absent_from_y_true() -> None:
    score = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.1, 0.8, 0.1]])
    y_true = np.array([0, 1, 0, 1])
    got = classification_performance(y_true, y_true, score, classes=[0, 1, 2]).metrics
    expected = np.mean([skm.roc_auc_score(y_true == c, score[:, c]) for c in (0, 1)])
    assert got["roc_auc"] == pytest.approx(expected)


def test_classification_performance_normalises_bool_int_and_json_labels() -> None:
    truth = [True, False, True, True]
    as_ints = classification_performance(truth, [1, 0, 0, 1], [0.9, 0.1, 0.4, 0.8]).metrics
    as_json = classification_performance(
        ["1", 0, 1.0, True], np.array([1, 0, 0, 1]), [0.9, 0.1, 0.4, 0.8]
    ).metrics
    as_bools = classification_performance(truth, [True, False, False, True]).metrics
    assert as_ints == as_json
    assert as_ints["recall"] == as_bools["recall"] == pytest.approx(2 / 3)


def test_classification_performance_uses_positive_label_when_labels_are_strings() -> None:
    got = classification_performance(
        ["spam", "ham", "spam"], ["spam", "spam", "ham"], positive_label="spam"
    ).metrics
    assert got["precision"] == 0.5
    assert got["recall"] == 0.5


def test_classification_performance_gives_none_for_undefined_score_metrics() -> None:
    got = classification_performance([0, 0, 0], [0, 1, 0], [0.1, 0.6, 0.3]).metrics
    assert got["roc_auc"] is None
    assert got["pr_auc"] is None
    assert got["precision"] == 0.0  # zero_division=0
    assert got["log_loss"] == pytest.approx(
        skm.log_loss([0, 0, 0], y_proba=[0.1, 0.6, 0.3], labels=[0, 1])
    )
    without_scores = classification_performance([0, 1], [0, 1]).metrics
    assert all(without_scores[name] is None for name in METRICS[4:])


@pytest.mark.parametrize("min_rows", [1, 5])
def test_classification_performance_reports_insufficient_data_when_few_rows(min_rows: int) -> None:
    y = [1, 0, 1][: min_rows - 1] if min_rows > 1 else []
    result = classification_performance(y, y, min_rows=min_rows)
    assert result.status == Status.INSUFFICIENT_DATA
    assert result.n == len(y)
    assert set(result.metrics) == set(METRICS)
    assert all(value is None for value in result.metrics.values())


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"y_true": [0, 1], "y_pred": [0]}, InvalidInputError),
        ({"y_true": [0, 1, 2], "y_pred": [0, 1, 2]}, InvalidInputError),
        ({"y_true": ["a", "b"], "y_pred": ["a", "b"]}, InvalidInputError),
        ({"y_true": [0, 1], "y_pred": [0, 1], "y_score": [0.2, 1.5]}, InvalidInputError),
        ({"y_true": [0, 1], "y_pred": [0, 1], "y_score": [0.2, float("nan")]}, InvalidInputError),
        ({"y_true": [0, None], "y_pred": [0, 1]}, InvalidInputError),
        ({"y_true": [0, 3], "y_pred": [0, 1], "classes": [0, 1, 2]}, InvalidInputError),
        ({"y_true": [0, 1], "y_pred": [0, 1], "classes": [0, 1, 1]}, ParameterError),
        ({"y_true": [0, 1], "y_pred": [0, 1], "n_bins": 0}, ParameterError),
        ({"y_true": [0, 1], "y_pred": [0, 1], "min_rows": 0}, ParameterError),
    ],
)
def test_classification_performance_rejects_bad_input(
    kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        classification_performance(**kwargs)  # type: ignore[arg-type]


def test_classification_performance_rejects_a_score_matrix_of_the_wrong_shape() -> None:
    with pytest.raises(InvalidInputError):
        classification_performance([0, 1], [0, 1], [[0.5, 0.5], [0.4, 0.6]], classes=[0, 1, 2])


_LABELS = st.lists(
    st.tuples(st.booleans(), st.booleans(), st.floats(0, 1)), min_size=1, max_size=60
)


@settings(max_examples=60, deadline=None)
@given(_LABELS)
def test_classification_performance_metrics_are_in_unit_interval(
    rows: list[tuple[bool, bool, float]],
) -> None:
    y_true, y_pred, score = (list(column) for column in zip(*rows, strict=True))
    got = classification_performance(y_true, y_pred, score).metrics
    for name in METRICS:
        value = got[name]
        if value is not None and name != "log_loss":
            assert 0.0 <= value <= 1.0 + 1e-12, name
    assert got["log_loss"] is not None and got["log_loss"] >= 0.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.booleans(), min_size=2, max_size=60).filter(lambda y: len(set(y)) == 2))
def test_classification_performance_is_perfect_when_predictions_are_right(y: list[bool]) -> None:
    score = [float(v) for v in y]
    got = classification_performance(y, y, score).metrics
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc"):
        assert got[name] == 1.0, name
    assert got["brier_score"] == 0.0
    assert got["ece"] == 0.0
    assert got["log_loss"] == pytest.approx(0.0, abs=1e-12)
