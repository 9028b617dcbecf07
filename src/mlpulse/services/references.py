"""References: the baseline a model version is compared with.

Two sources: a training dataset (columns, as uploaded) or a pinned window of the model's
own traffic (a merge of its minute profiles). Either way the reference is stored as a
:class:`~mlpulse.core.profiles.window.WindowProfile`, so drift against it costs the same
as drift between two windows. An upload also keeps a sample of up to
:data:`SAMPLE_ROWS` (score, label) pairs, which confidence-based performance
estimation calibrates on.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    for field, name in (
        ("label_column", label_column),
        ("prediction_column", prediction_column),
        ("score_column", score_column),
    ):
        if name is not None and name not in columns:
            raise InvalidInputError(
                f"{field}: no column {name!r} in the data; it has {sorted(columns)}", field=field
            )
    rows = len(next(iter(columns.values()))) if columns else 0
    if rows == 0:
        raise InvalidInputError("the reference data has no rows", field="body")
    special = {label_column, prediction_column, score_column}
    features = {n: v for n, v in columns.items() if n not in special}
    feature_kinds = {n: kinds[n] for n in features}
    score = columns[score_column].astype(np.float64) if score_column else None
    profile = WindowProfile.from_columns(
        features,
        feature_kinds,
        prediction=columns[prediction_column] if prediction_column else None,
        score=score,
        rows=rows,
    )
    sample = b""
    if score is not None and label_column is not None:
        chosen = np.arange(rows)
        if rows > SAMPLE_ROWS:
            chosen = np.sort(np.random.default_rng(seed).choice(rows, SAMPLE_ROWS, replace=False))
        labels: list[Any] = columns[label_column][chosen].tolist()
        sample = msgspec.msgpack.encode({"score": score[chosen].tolist(), "label": labels})
    return StoredReference(
        model=model,
        version=version,
        created_at=now,
        source=source,
        profile=profile.to_bytes(),
        sample=sample,
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
