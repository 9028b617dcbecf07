from __future__ import annotations

from mlpulse.domain.schema import ColumnKind, effective_schema, infer_kind, infer_kinds


def test_infer_kind_treats_bool_as_boolean_not_numeric() -> None:
    assert infer_kind(True) is ColumnKind.BOOLEAN
    assert infer_kind(0.0) is ColumnKind.NUMERIC
    assert infer_kind("DE") is ColumnKind.CATEGORICAL
    assert infer_kind(None) is None


def test_infer_kinds_decides_from_first_non_null_value() -> None:
    rows = [{"a": None, "b": "x"}, {"a": 3.0, "b": 1.0}, {"a": "late"}]
    assert infer_kinds(rows) == {"a": ColumnKind.NUMERIC, "b": ColumnKind.CATEGORICAL}


def test_infer_kinds_skips_known_columns_and_all_null_columns() -> None:
    rows = [{"known": 1.0, "empty": None, "new": True}]
    assert infer_kinds(rows, known={"known"}) == {"new": ColumnKind.BOOLEAN}


def test_effective_schema_lets_overrides_win_and_keeps_declared_only_columns() -> None:
    inferred = {"zip": ColumnKind.NUMERIC, "age": ColumnKind.NUMERIC}
    overrides = {"zip": ColumnKind.CATEGORICAL, "notes": ColumnKind.TEXT}
    assert effective_schema(inferred, overrides) == {
        "zip": ColumnKind.CATEGORICAL,
        "age": ColumnKind.NUMERIC,
        "notes": ColumnKind.TEXT,
    }
