"""Data frames of any kind (pandas, polars, pyarrow, numpy, dicts) as numpy columns.

No frame library is imported here: each is recognised by what it offers, so library
mode works with whichever of them a user has installed, and with none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    """Numeric columns as float64 (None → NaN); others unchanged."""
    if kind != "numeric" or values.dtype == np.float64:
        return values
    if values.dtype == object:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return values.astype(np.float64)
