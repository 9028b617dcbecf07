"""A model's columns and their kinds: inferred from traffic, overridable."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence

from mlpulse.domain.events import FeatureValue


class ColumnKind(enum.StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    TEXT = "text"
    EMBEDDING = "embedding"
    DATETIME = "datetime"


def infer_kind(value: FeatureValue) -> ColumnKind | None:
    """The kind a single non-null value suggests; None for null.

    ``bool`` is tested before numbers because ``True`` is also an ``int`` in Python.

    >>> infer_kind(True), infer_kind(3), infer_kind(2.5), infer_kind("DE"), infer_kind(None)
    (<ColumnKind.BOOLEAN: 'boolean'>, <ColumnKind.NUMERIC: 'numeric'>, \
<ColumnKind.NUMERIC: 'numeric'>, <ColumnKind.CATEGORICAL: 'categorical'>, None)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return ColumnKind.BOOLEAN
    if isinstance(value, int | float):
        return ColumnKind.NUMERIC
    return ColumnKind.CATEGORICAL


def column_kinds(
    columns: Mapping[str, Sequence[FeatureValue]], *, known: Iterable[str] = ()
) -> dict[str, ColumnKind]:
    """Kinds of the feature columns of a block not already in ``known``.

    >>> column_kinds({"a": [None, 2.0], "b": ["x"], "c": [None]}, known=["b"])
    {'a': <ColumnKind.NUMERIC: 'numeric'>}
    """
    decided = set(known)
    found: dict[str, ColumnKind] = {}
    for name, values in columns.items():
        if name in decided:
            continue
        kind = next((k for k in map(infer_kind, values) if k is not None), None)
        if kind is not None:
            found[name] = kind
    return found


def effective_schema(
    inferred: Mapping[str, ColumnKind], overrides: Mapping[str, ColumnKind]
) -> dict[str, ColumnKind]:
    """Declared overrides win over inferred kinds; declared-only columns are kept.

    >>> effective_schema({"zip": ColumnKind.NUMERIC}, {"zip": ColumnKind.CATEGORICAL})
    {'zip': <ColumnKind.CATEGORICAL: 'categorical'>}
    """
    return {**inferred, **overrides}
