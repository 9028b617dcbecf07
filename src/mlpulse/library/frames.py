"""Data frames of any kind (pandas, polars, pyarrow, numpy, dicts) as numpy columns.

No frame library is imported here: each is recognised by what it offers, so library
mode works with whichever of them a user has installed, and with none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

import numpy as np

from mlpulse.core.drift.check import Kind
from mlpulse.errors import InvalidInputError


def columns_of(data: Any, *, name: str) -> dict[str, np.ndarray]:
    """The columns of ``data`` as 1-D numpy arrays, by column name.

    Accepts a pandas or polars DataFrame, a pyarrow Table, a mapping of column name to
    array-like, or a numpy structured array.

    >>> cols = columns_of({"a": [1, 2], "b": ["x", "y"]}, name="reference")
    >>> {k: v.tolist() for k, v in cols.items()}
    {'a': [1, 2], 'b': ['x', 'y']}
    """
    if isinstance(data, Mapping):
        return {str(k): _array(v) for k, v in data.items()}
    if isinstance(data, np.ndarray) and data.dtype.names:
        return {n: np.asarray(data[n]) for n in data.dtype.names}
    module = type(data).__module__.split(".")[0]
    if module == "pyarrow" and hasattr(data, "column_names"):
        return {n: _array(data.column(n).to_numpy(zero_copy_only=False)) for n in data.column_names}
    if module == "polars" and hasattr(data, "get_column"):
        return {n: _array(data.get_column(n).to_numpy()) for n in data.columns}
    if module == "pandas" and hasattr(data, "columns"):
        return {str(n): _array(data[n].to_numpy()) for n in data.columns}
    raise InvalidInputError(
        f"{name} must be a pandas or polars DataFrame, a pyarrow Table, a mapping of "
        f"columns or a numpy structured array; got {type(data).__name__}",
        field=name,
    )


def _array(values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidInputError(f"columns must be 1-D; got shape {array.shape}")
    return array


DATETIME_REASON: Final = (
    "datetime column: its values move with the calendar, so any later window differs "
    "from the reference by construction; not checked for drift (pass kinds={name: "
    "'numeric'} to compare it as seconds since the epoch)"
)
"""Why :func:`~mlpulse.library.report.report` leaves datetime columns out of drift."""


def is_datetime(values: np.ndarray) -> bool:
    """True for a column of dates or times: numpy datetime64, or Python/pandas datetimes.

    A timestamp column is the time of the row, not a feature whose distribution should
    stay put: reference data is older than current data, so its timestamps always
    "drift" (Evidently and NannyML likewise use such columns to order rows, not as
    features). Text that merely looks like a date stays categorical.

    >>> is_datetime(np.array(["2024-01-01"], dtype="datetime64[D]"))
    True
    >>> is_datetime(np.array([None, dt.date(2024, 1, 1)], dtype=object))
    True
    >>> is_datetime(np.array(["2024-01-01"])), is_datetime(np.array([1.0]))
    (False, False)
    """
    if values.dtype.kind == "M":
        return True
    if values.dtype != object:
        return False
    present = [v for v in values[:1000] if v is not None and v == v]
    return bool(present) and all(isinstance(v, dt.date | np.datetime64) for v in present)


def infer_kind(values: np.ndarray) -> Kind:
    """numeric, boolean or categorical, from the dtype (object arrays from their values).

    >>> infer_kind(np.array([1.5, 2.0])), infer_kind(np.array([True])), infer_kind(np.array(["a"]))
    ('numeric', 'boolean', 'categorical')
    """
    if values.dtype == np.bool_:
        return "boolean"
    if np.issubdtype(values.dtype, np.number):
        return "numeric"
    if values.dtype == object:
        present = [v for v in values[:1000] if v is not None and v == v]
        if present and all(isinstance(v, bool | np.bool_) for v in present):
            return "boolean"
        if present and all(
            isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in present
        ):
            return "numeric"
    return "categorical"


def as_kind(values: np.ndarray, kind: Kind) -> np.ndarray:
    """Numeric columns as float64 (None → NaN; datetimes as seconds since the epoch,
    NaT → NaN); others unchanged.

    >>> as_kind(np.array(["1970-01-02", "NaT"], dtype="datetime64[s]"), "numeric").tolist()
    [86400.0, nan]
    """
    if kind != "numeric" or values.dtype == np.float64:
        return values
    if is_datetime(values):
        return _epoch_seconds(values)
    if values.dtype == object:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return values.astype(np.float64)


def _epoch_seconds(values: np.ndarray) -> np.ndarray:
    if values.dtype == object:  # Python or pandas datetimes; aware ones are taken in UTC
        values = np.array(
            [
                np.datetime64("NaT")
                if v is None or v != v
                else np.datetime64(
                    v.astimezone(dt.UTC).replace(tzinfo=None)
                    if isinstance(v, dt.datetime) and v.tzinfo is not None
                    else v,
                    "us",
                )
                for v in values
            ],
            dtype="datetime64[us]",
        )
    microseconds = values.astype("datetime64[us]")
    seconds = microseconds.astype(np.int64).astype(np.float64) / 1e6
    seconds[np.isnat(microseconds)] = np.nan
    return seconds
