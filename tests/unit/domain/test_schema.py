from __future__ import annotations

from mlpulse.domain.schema import ColumnKind, column_kinds, effective_schema, infer_kind


def test_infer_kind_treats_bool_as_boolean_not_numeric() -> None:
    assert infer_kind(True) is ColumnKind.BOOLEAN
    assert infer_kind(0.0) is ColumnKind.NUMERIC
    assert infer_kind("DE") is ColumnKind.CATEGORICAL
    assert infer_kind(None) is None


def test_column_kinds_decides_from_first_non_null_value() -> None:
    columns = {"a": [None, 3.0, "late"], "b": ["x", 1.0]}
    assert column_kinds(columns) == {"a": ColumnKind.NUMERIC, "b": ColumnKind.CATEGORICAL}


def test_column_kinds_skips_known_columns_and_all_null_columns() -> None:
    columns = {"known": [1.0], "empty": [None, None], "new": [True]}
    assert column_kinds(columns, known={"known"}) == {"new": ColumnKind.BOOLEAN}


def test_effective_schema_lets_overrides_win_and_keeps_declared_only_columns() -> None:
    inferred = {"zip": ColumnKind.NUMERIC, "age": ColumnKind.NUMERIC}
    overrides = {"zip": ColumnKind.CATEGORICAL, "notes": ColumnKind.TEXT}
    assert effective_schema(inferred, overrides) == {
        "zip": ColumnKind.CATEGORICAL,
        "age": ColumnKind.NUMERIC,
        "notes": ColumnKind.TEXT,
    }
