"""References: the baseline a model version is compared with.

Two sources: a training dataset (columns, as uploaded) or a pinned window of the model's
own traffic (a merge of its minute profiles). Either way the reference is stored as a
:class:`~mlpulse.core.profiles.window.WindowProfile`, so drift against it costs the same
as drift between two windows. An upload also keeps a sample of up to
:data:`SAMPLE_ROWS` (score, label) pairs, which confidence-based performance
estimation calibrates on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import msgspec
import numpy as np

from mlpulse.core.profiles.window import WindowProfile
from mlpulse.domain.series import StoredReference
from mlpulse.errors import InvalidInputError, NotFoundError
from mlpulse.ports import SeriesStore
from mlpulse.services.windows import merge_profiles

SAMPLE_ROWS: Final = 100_000


def reference_from_columns(
    model: str,
    columns: Mapping[str, np.ndarray],
    kinds: Mapping[str, str],
    *,
    version: str = "",
    source: str,
    now: float,
    label_column: str | None = None,
    prediction_column: str | None = None,
    score_column: str | None = None,
    seed: int = 0,
) -> StoredReference:
    """A reference from training data: every other column is a feature.

    Raises
    ------
    InvalidInputError
        If a named column is not in the data (``field`` names the parameter), or the
        data has no rows.
    """
    return reference_from_batches(
        model, [columns], kinds, version=version, source=source, now=now,
        label_column=label_column, prediction_column=prediction_column,
        score_column=score_column, seed=seed,
    )  # fmt: skip


def reference_from_batches(
    model: str,
    batches: Iterable[Mapping[str, np.ndarray]],
    kinds: Mapping[str, str],
    *,
    version: str = "",
    source: str,
    now: float,
    label_column: str | None = None,
    prediction_column: str | None = None,
    score_column: str | None = None,
    seed: int = 0,
) -> StoredReference:
    """:func:`reference_from_columns` of data read a batch of rows at a time.

    Each batch is profiled and the profiles merged, so memory holds one batch (and the
    score and label columns, for the sample), not the whole dataset. Every batch has
    the same columns, those of the first.

    Raises
    ------
    InvalidInputError
        As :func:`reference_from_columns`.
    """
    special = {label_column, prediction_column, score_column}
    profiles: list[WindowProfile] = []
    sample = _Sample(seed) if score_column and label_column else None
    for index, columns in enumerate(batches):
        if index == 0:
            _check_named(columns, label_column, prediction_column, score_column)
        rows = len(next(iter(columns.values()))) if columns else 0
        if rows == 0:
            continue
        features = {n: v for n, v in columns.items() if n not in special}
        score = columns[score_column].astype(np.float64) if score_column else None
        profiles.append(
            WindowProfile.from_columns(
                features,
                {n: kinds[n] for n in features},
                prediction=columns[prediction_column] if prediction_column else None,
                score=score,
                rows=rows,
            )
        )
        if sample is not None and score is not None and label_column is not None:
            sample.update(score, columns[label_column])
    if not profiles:
        raise InvalidInputError("the reference data has no rows", field="body")
    profile = profiles[0] if len(profiles) == 1 else WindowProfile.merge_all(profiles)
    return StoredReference(
        model=model,
        version=version,
        created_at=now,
        source=source,
        profile=profile.to_bytes(),
        sample=sample.to_bytes() if sample is not None else b"",
    )


class _Sample:
    """A uniform sample of up to :data:`SAMPLE_ROWS` (score, label) pairs of a stream of
    batches, in their original order: the rows with the smallest random keys (bottom-k
    sampling), so memory holds the sample and one batch, never every row."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._rows = 0
        self._keys = np.empty(0)
        self._index = np.empty(0, dtype=np.int64)
        self._score = np.empty(0)
        self._label: np.ndarray = np.empty(0)

    def update(self, score: np.ndarray, label: np.ndarray) -> None:
        keys = np.concatenate([self._keys, self._rng.random(score.size)])
        index = np.concatenate([self._index, np.arange(self._rows, self._rows + score.size)])
        scores = np.concatenate([self._score, score])
        labels = np.concatenate([self._label, label]) if self._label.size else label
        self._rows += score.size
        if keys.size > SAMPLE_ROWS:
            kept = np.argpartition(keys, SAMPLE_ROWS)[:SAMPLE_ROWS]
            keys, index, scores, labels = keys[kept], index[kept], scores[kept], labels[kept]
        self._keys, self._index, self._score, self._label = keys, index, scores, labels

    def to_bytes(self) -> bytes:
        order = np.argsort(self._index)
        labels: list[Any] = self._label[order].tolist()
        return msgspec.msgpack.encode({"score": self._score[order].tolist(), "label": labels})


def _check_named(columns: Mapping[str, np.ndarray], *named: str | None) -> None:
    for field, name in zip(
        ("label_column", "prediction_column", "score_column"), named, strict=True
    ):
        if name is not None and name not in columns:
            raise InvalidInputError(
                f"{field}: no column {name!r} in the data; it has {sorted(columns)}", field=field
            )


def reference_from_window(
    series: SeriesStore, model: str, *, start: float, end: float, version: str, now: float
) -> StoredReference:
    """A reference pinned to the model's traffic in [start, end).

    Raises
    ------
    NotFoundError
        If the model has no profiled traffic in that window.
    """
    if not start < end:
        raise InvalidInputError("start must be before end", field="start")
    rows = series.read_profiles(model, start=start, end=end, version=version or None)
    merged = merge_profiles(rows)
    if merged.requests == 0:
        raise NotFoundError(f"model {model!r} has no profiled predictions in that window")
    return StoredReference(
        model=model,
        version=version,
        created_at=now,
        source=f"window:{start:.0f}-{end:.0f}",
        profile=merged.to_bytes(),
    )
