"""A model's columns and their kinds: inferred from traffic, overridable."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

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


def infer_kinds(
    rows: Iterable[Mapping[str, FeatureValue]], *, known: Iterable[str] = ()
) -> dict[str, ColumnKind]:
    """Kinds of the columns in ``rows`` not already in ``known``.

    A column's kind comes from its first non-null value; a column seen only as
    null is not decided yet and is left out.

    >>> infer_kinds([{"a": None, "b": 1}, {"a": "x", "b": 2.0}], known=["b"])
    {'a': <ColumnKind.CATEGORICAL: 'categorical'>}
    """
    decided = set(known)
    found: dict[str, ColumnKind] = {}
    for row in rows:
        if decided.issuperset(row):
            continue
        for name, value in row.items():
            if name in decided:
                continue
            kind = infer_kind(value)
            if kind is not None:
                found[name] = kind
                decided.add(name)
    return found


def effective_schema(
    inferred: Mapping[str, ColumnKind], overrides: Mapping[str, ColumnKind]
) -> dict[str, ColumnKind]:
    """Declared overrides win over inferred kinds; declared-only columns are kept.

    >>> effective_schema({"zip": ColumnKind.NUMERIC}, {"zip": ColumnKind.CATEGORICAL})
    {'zip': <ColumnKind.CATEGORICAL: 'categorical'>}
    """
    return {**inferred, **overrides}
