"""Classification performance on a window with labels: binary and multiclass.

Every metric is computed with numpy (no per-call scikit-learn validation, since the
evaluator runs this once per window and model) and matches scikit-learn's function of
the same name; the unit tests hold each one to its scikit-learn oracle.

>>> classification_performance([1, 0, 1, 1], [1, 0, 0, 1]).metrics["accuracy"]
0.75
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlpulse.core.drift.check import Status
from mlpulse.errors import InvalidInputError, parameter_error

__all__ = [
    "METRICS",
    "ClassificationPerformanceResult",
    "classification_performance",
    "roc_auc_weighted",
]

# The keys of ``metrics``, always all present; a value is None where it is undefined.
METRICS = (
    "accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "brier_score", "ece",
)  # fmt: skip
_OWNER = "classification_performance"
# Probabilities are clipped to [eps, 1 - eps] in the log loss, as scikit-learn does.
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True, slots=True)
class ClassificationPerformanceResult:
    """The performance of a classifier on ``n`` labelled rows.

    ``metrics`` maps each name of :data:`METRICS` to a float, or to None where the
    metric is undefined: score metrics without ``y_score``, a ROC AUC with one class
    present, ``pr_auc`` for multiclass, every metric when ``status`` is
    ``insufficient_data``.
    """

    n: int
    metrics: Mapping[str, float | None]
    status: Status


def classification_performance(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    y_score: ArrayLike | None = None,
    *,
    positive_label: object = 1,
    classes: Sequence[object] | None = None,
    n_bins: int = 10,
    min_rows: int = 1,
) -> ClassificationPerformanceResult:
    r"""Accuracy, precision, recall, F1, ROC AUC, PR AUC, log loss, Brier score and ECE.

    **Binary** (``classes=None``): ``y_score`` is the probability of ``positive_label``;
    precision, recall and F1 are those of the positive class. **Multiclass**
    (``classes`` given): ``y_score`` is ``(n, len(classes))``, columns in the order of
    ``classes``; precision, recall and F1 are macro averages over the classes present
    in ``y_true`` or ``y_pred`` (scikit-learn's default ``labels``), ROC AUC is the
    one-vs-rest macro average over the classes that have both positives and negatives
    in ``y_true`` (scikit-learn raises when a class is absent; we skip it), and
    ``pr_auc`` is None. A ratio with a zero denominator is 0.0 (scikit-learn's
    ``zero_division=0``).

    Labels may be str, int or bool. They are compared after one normalisation: bools
    are ints (``True == 1``, as in Python), floats with an integral value are ints, and
    if any label of the call (in ``y_true``, ``y_pred``, ``classes`` or
    ``positive_label``) is a string, every label is compared as ``str`` — so the JSON
    values ``1``, ``1.0``, ``true`` and ``"1"`` are one label. Missing labels (None,
    NaN) are rejected: drop unlabelled rows before.

    Log loss clips probabilities to :math:`[\epsilon, 1-\epsilon]` (float64 machine
    epsilon, as scikit-learn). The Brier score is :math:`\frac1n\sum_i (y_i - p_i)^2`
    in the binary case and :math:`\frac1n\sum_i\sum_c (y_{ic} - p_{ic})^2` (Brier,
    1950; no halving, as scikit-learn for three classes or more) in the multiclass one.
    The expected calibration error splits the confidences into ``n_bins`` equal-width
    bins :math:`B_m = (\frac{m-1}{M}, \frac{m}{M}]` (0 goes to the first, as in
    ``sklearn.calibration.calibration_curve``) and is

    .. math:: \mathrm{ECE} = \sum_{m=1}^{M} \frac{|B_m|}{n}\,
              \bigl|\mathrm{acc}(B_m) - \mathrm{conf}(B_m)\bigr|,

    where, in the binary case, the confidence is the probability of the positive class
    and acc the share of positives in the bin (Naeini et al., 2015), and in the
    multiclass case the confidence is the top probability and acc the share of rows
    whose top class is the true class (top-label ECE, Guo et al., 2017).

    Parameters
    ----------
    y_true, y_pred : array_like
        1-D labels of the same length.
    y_score : array_like, optional
        Probabilities in [0, 1]: 1-D (binary) or ``(n, len(classes))`` (multiclass).
    positive_label : object, default 1
        The positive class of a binary problem.
    classes : sequence, optional
        The classes of a multiclass problem (at least two, unique), in the order of the
        columns of ``y_score``. Giving them chooses multiclass.
    n_bins : int, default 10
        The number of equal-width bins of the ECE.
    min_rows : int, default 1
        Fewer rows than this give ``status="insufficient_data"`` and all metrics None.

    Returns
    -------
    ClassificationPerformanceResult

    Raises
    ------
    InvalidInputError
        Lengths or shapes differ, a label is missing or unknown, a probability is
        outside [0, 1], or a binary problem has more than two labels.

    References
    ----------
    Brier, G. W. (1950). Verification of forecasts expressed in terms of probability.
    *Monthly Weather Review* 78(1), 1–3.
    Naeini, M. P., Cooper, G. F. and Hauskrecht, M. (2015). Obtaining well calibrated
    probabilities using Bayesian binning. *AAAI 2015*, 2901–2907.
    Guo, C., Pleiss, G., Sun, Y. and Weinberger, K. Q. (2017). On calibration of
    modern neural networks. *ICML 2017*, 1321–1330.

    Examples
    --------
    >>> r = classification_performance(
    ...     ["yes", "no", "yes", "no"], ["yes", "no", "no", "no"], [0.9, 0.2, 0.4, 0.1],
    ...     positive_label="yes",
    ... )
    >>> r.metrics["recall"], r.metrics["roc_auc"], round(r.metrics["brier_score"], 4)
    (0.5, 1.0, 0.105)
    """
    if not isinstance(n_bins, int) or isinstance(n_bins, bool) or n_bins < 1:
        raise parameter_error("n_bins", _OWNER, "an int >= 1", n_bins)
    if not isinstance(min_rows, int) or isinstance(min_rows, bool) or min_rows < 1:
        raise parameter_error("min_rows", _OWNER, "an int >= 1", min_rows)
    extra = [positive_label] if classes is None else list(classes)
    true_keys, pred_keys, extra_keys = _same_kind(
        [_keys(y_true, "y_true"), _keys(y_pred, "y_pred"), _keys(extra, "classes")]
    )
    n = true_keys.size
    if pred_keys.size != n:
        raise InvalidInputError(
            f"'y_pred' must have the length of 'y_true' ({n}). Got {pred_keys.size}.",
            field="y_pred",
        )
    n_columns = None if classes is None else len(classes)
    score = None if y_score is None else _probabilities(y_score, n, n_columns)
    if classes is not None and (len(classes) < 2 or np.unique(extra_keys).size != len(classes)):
        raise parameter_error("classes", _OWNER, "at least two unique labels", classes)
    if n < min_rows:
        return ClassificationPerformanceResult(n, dict.fromkeys(METRICS), Status.INSUFFICIENT_DATA)
    if classes is None:
        labels = np.unique(np.concatenate([true_keys, pred_keys]))
        if labels.size > 2 or (labels.size == 2 and extra_keys[0] not in labels):
            raise InvalidInputError(
                f"A binary problem needs two labels, one of them the positive_label "
                f"{positive_label!r}. Got {labels.tolist()}; pass `classes` for multiclass.",
                field="y_true",
            )
        metrics = _binary(true_keys == extra_keys[0], pred_keys == extra_keys[0], score, n_bins)
    else:
        true_codes = _codes(true_keys, extra_keys)
        metrics = _multiclass(true_codes, _codes(pred_keys, extra_keys))
        metrics.update(_multiclass_scores(true_codes, score, n_bins))
    return ClassificationPerformanceResult(n, metrics, Status.OK)


def _keys(values: ArrayLike | Sequence[object], name: str) -> NDArray[Any]:
    """Labels as int64 (bools and integral floats included) or, failing that, str."""
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    if array.ndim != 1:
        raise InvalidInputError(f"{name!r} must be 1-D. Got shape {array.shape}.", field=name)
    if array.dtype.kind in "US" and not isinstance(values, np.ndarray):
        # numpy reads [True, "a"] as ["True", "a"]: read such lists one value at a time.
        # (ArrayLike includes scalars, which mypy cannot iterate; ndim == 1 rules them out.)
        array = np.fromiter(iter(values), dtype=object)  # type: ignore[arg-type]
    if array.dtype.kind in "biu":
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        if np.isnan(array).any():
            raise InvalidInputError(f"{name!r} must not hold missing labels.", field=name)
        if np.all(array == np.round(array)):
            return array.astype(np.int64)
        array = array.astype(object)  # 1.0 becomes "1" below, as in a mixed list
    elif array.dtype.kind in "US":
        return array.astype(str)
    keys = [_key(value, name) for value in array]
    if all(isinstance(key, int) for key in keys):
        return np.array(keys, dtype=np.int64)
    return np.array([str(key) for key in keys], dtype=str)


def _key(value: object, name: str) -> int | str:
    if isinstance(value, numbers.Integral):  # bool and numpy ints included
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            raise InvalidInputError(f"{name!r} must not hold missing labels.", field=name)
        return int(number) if number.is_integer() else str(value)
    if value is None:
        raise InvalidInputError(f"{name!r} must not hold missing labels.", field=name)
    return str(value)


def _same_kind(arrays: list[NDArray[Any]]) -> list[NDArray[Any]]:
    if all(array.dtype.kind == "i" for array in arrays):
        return arrays
    return [array.astype(str) for array in arrays]


def _codes(keys: NDArray[Any], classes: NDArray[Any]) -> NDArray[np.int64]:
    sorter = np.argsort(classes)
    where = np.minimum(np.searchsorted(classes, keys, sorter=sorter), classes.size - 1)
    codes = sorter[where]
    unknown = classes[codes] != keys
    if unknown.any():
        raise InvalidInputError(
            f"Labels not in 'classes': {sorted(set(keys[unknown].tolist()))[:5]}.", field="y_true"
        )
    return codes.astype(np.int64)


def _probabilities(y_score: ArrayLike, n: int, n_columns: int | None) -> NDArray[np.float64]:
    try:
        score = np.asarray(y_score, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"'y_score' must hold numbers: {exc}", field="y_score") from exc
    shape = (n,) if n_columns is None else (n, n_columns)
    if score.shape != shape:
        raise InvalidInputError(
            f"'y_score' must have shape {shape}. Got {score.shape}.", field="y_score"
        )
    if not np.all((score >= 0.0) & (score <= 1.0)):  # NaN fails too
        raise InvalidInputError("'y_score' must hold probabilities in [0, 1].", field="y_score")
    return score


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _binary(
    truth: NDArray[np.bool_], pred: NDArray[np.bool_], score: NDArray[np.float64] | None, bins: int
) -> dict[str, float | None]:
    tp = float(np.count_nonzero(truth & pred))
    n_true, n_pred, n = float(np.count_nonzero(truth)), float(np.count_nonzero(pred)), truth.size
    metrics: dict[str, float | None] = {
        "accuracy": float(np.count_nonzero(truth == pred)) / n,
        "precision": _ratio(tp, n_pred),
        "recall": _ratio(tp, n_true),
        "f1": _ratio(2 * tp, n_true + n_pred),
    }
    metrics.update(dict.fromkeys(METRICS[4:]))
    if score is not None:
        y = truth.astype(np.float64)
        clipped = np.clip(score, _EPS, 1 - _EPS)
        metrics["roc_auc"] = roc_auc_weighted(score, y, 1 - y)
        metrics["pr_auc"] = _average_precision(truth, score)
        metrics["log_loss"] = float(-np.mean(y * np.log(clipped) + (1 - y) * np.log1p(-clipped)))
        metrics["brier_score"] = float(np.mean((y - score) ** 2))
        metrics["ece"] = _ece(score, y, bins)
    return metrics


def _multiclass(truth: NDArray[np.int64], pred: NDArray[np.int64]) -> dict[str, float | None]:
    k = int(max(truth.max(), pred.max())) + 1
    matrix = np.bincount(truth * k + pred, minlength=k * k).reshape(k, k).astype(np.float64)
    tp, n_true, n_pred = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
    present = (n_true + n_pred) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = [
            np.where(d > 0, num / np.where(d > 0, d, 1.0), 0.0)[present]
            for num, d in ((tp, n_pred), (tp, n_true), (2 * tp, n_true + n_pred))
        ]
    precision, recall, f1 = (float(np.mean(values)) for values in per_class)
    accuracy = float(tp.sum()) / truth.size
    return {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1}


def _multiclass_scores(
    truth: NDArray[np.int64], score: NDArray[np.float64] | None, bins: int
) -> dict[str, float | None]:
    metrics: dict[str, float | None] = dict.fromkeys(METRICS[4:])
    if score is None:
        return metrics
    rows = np.arange(truth.size)
    onehot = np.zeros_like(score)
    onehot[rows, truth] = 1.0
    aucs = [
        roc_auc_weighted(score[:, c], onehot[:, c], 1 - onehot[:, c]) for c in range(score.shape[1])
    ]
    defined = [auc for auc in aucs if auc is not None]
    metrics["roc_auc"] = float(np.mean(defined)) if defined else None
    metrics["log_loss"] = float(-np.mean(np.log(np.clip(score[rows, truth], _EPS, 1 - _EPS))))
    metrics["brier_score"] = float(np.mean(np.sum((onehot - score) ** 2, axis=1)))
    top = np.argmax(score, axis=1)
    metrics["ece"] = _ece(score[rows, top], (top == truth).astype(np.float64), bins)
    return metrics


def roc_auc_weighted(
    score: NDArray[np.float64], positive: NDArray[np.float64], negative: NDArray[np.float64]
) -> float | None:
    """The area under the ROC curve where row i counts ``positive[i]`` times as a positive
    and ``negative[i]`` times as a negative; None without positive or negative weight.

    Tied scores form one point of the curve, so ties count one half (trapezoidal rule,
    as ``sklearn.metrics.roc_auc_score``). Labels 0/1 give the usual ROC AUC; expected
    labels (calibrated probabilities ``p`` and ``1 - p``) give CBPE's estimate.

    Examples
    --------
    >>> roc_auc_weighted(np.array([0.1, 0.4, 0.4, 0.8]), np.array([0., 0., 1., 1.]),
    ...                  np.array([1., 1., 0., 0.]))
    0.875
    """
    order = np.argsort(-score, kind="stable")
    ends = np.flatnonzero(np.diff(score[order]) != 0)
    ends = np.append(ends, score.size - 1)
    tps = np.concatenate([[0.0], np.cumsum(positive[order])[ends]])
    fps = np.concatenate([[0.0], np.cumsum(negative[order])[ends]])
    if tps[-1] <= 0 or fps[-1] <= 0:
        return None
    area = float(np.sum(np.diff(fps) * (tps[1:] + tps[:-1]))) / 2
    return area / float(tps[-1] * fps[-1])


def _average_precision(truth: NDArray[np.bool_], score: NDArray[np.float64]) -> float | None:
    """Σ (R_k − R_{k−1}) P_k over the distinct thresholds, as average_precision_score."""
    order = np.argsort(-score, kind="stable")
    ends = np.append(np.flatnonzero(np.diff(score[order]) != 0), score.size - 1)
    tps = np.cumsum(truth[order])[ends].astype(np.float64)
    if tps.size == 0 or tps[-1] == 0:
        return None
    precision = tps / (ends + 1)
    recall_steps = np.diff(tps, prepend=0.0) / tps[-1]
    return float(np.sum(recall_steps * precision))


def _ece(confidence: NDArray[np.float64], outcome: NDArray[np.float64], bins: int) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.searchsorted(edges[1:-1], confidence)  # bins (a, b], 0 in the first
    gaps = np.bincount(index, weights=outcome - confidence, minlength=bins)
    return float(np.sum(np.abs(gaps))) / confidence.size
