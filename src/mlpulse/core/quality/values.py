"""What a column's values are: missing, of the right type, numbers, category codes.

The checks share these so that they agree on what "missing" means: ``None``, float NaN
(also inside object arrays) and NaT.

>>> missing_mask(np.array([1.0, None, float("nan"), "a"], dtype=object)).tolist()
[False, True, True, False]
"""

from __future__ import annotations

import numbers
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlpulse.core.drift.check import Kind
from mlpulse.errors import parameter_error

# What a column may be given as: an array, or any sequence (lists with None included).
Values = ArrayLike | Sequence[Any]
Mask = NDArray[np.bool_]
Codes = NDArray[np.int64]


def _objects(values: Any) -> NDArray[Any]:
    return np.fromiter(iter(values), dtype=object)


def as_column(values: Values, owner: str, name: str = "current") -> NDArray[Any]:
    """``values`` as a one-dimensional array; a :class:`ParameterError` otherwise.

    Examples
    --------
    >>> as_column([1, 2], "missing_values").shape
    (2,)
    >>> as_column([1.5, "2"], "missing_values").tolist()
    [1.5, '2']
    """
    if isinstance(values, np.ndarray):
        array: NDArray[Any] = values
    else:
        # A list mixing numbers and strings would become all strings, and one holding
        # containers would not be an array at all: keep such values as objects.
        try:
            array = np.asarray(values)
        except ValueError:
            array = _objects(values)
        else:
            if array.ndim == 1 and array.dtype.kind in "US":
                array = _objects(values)
    if array.ndim != 1:
        raise parameter_error(name, owner, "a one-dimensional array", f"shape {array.shape}")
    return array


# The type of each value of an object array, in numpy's C loop.
_type_of = np.frompyfunc(type, 1, 1)


def is_missing(value: Any) -> bool:
    """Whether one value is missing: ``None``, or NaN-like (``x != x``), as :func:`missing_mask`.

    Examples
    --------
    >>> is_missing(None), is_missing(float("nan")), is_missing("nan")
    (True, True, False)
    """
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return False


def missing_mask(values: NDArray[Any]) -> Mask:
    """Which of ``values`` are missing: ``None``, NaN (float or in an object array), NaT.

    Parameters
    ----------
    values : ndarray
        One column, of any dtype.

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> missing_mask(np.array([1.0, np.nan])).tolist()
    [False, True]
    """
    kind = values.dtype.kind
    if kind in "fc":
        return np.asarray(np.isnan(values), dtype=bool)
    if kind in "mM":
        return np.asarray(np.isnat(values), dtype=bool)
    if kind == "O":
        # Elementwise ufuncs over objects: `x != x` is True only for NaN-like values.
        try:
            is_none = values == None  # noqa: E711 (elementwise, not an identity test)
            is_nan = np.not_equal(values, values)
            return np.asarray(is_none | is_nan, dtype=bool)
        except (TypeError, ValueError):
            # Some value compares to an array (an array or similar inside the column).
            return np.asarray(np.frompyfunc(is_missing, 1, 1)(values), dtype=bool)
    return np.zeros(values.shape, dtype=bool)


def _is_number(kind_of: type) -> bool:
    return issubclass(kind_of, numbers.Real) and not issubclass(kind_of, (bool, np.bool_))


def _is_container(kind_of: type) -> bool:
    return issubclass(kind_of, (Collection, np.ndarray)) and not issubclass(kind_of, (str, bytes))


def fits_kind(kind_of: type, kind: Kind) -> bool:
    """Whether a value of type ``kind_of`` fits a column of ``kind`` (see :func:`type_mask`).

    Examples
    --------
    >>> fits_kind(int, "numeric"), fits_kind(bool, "numeric"), fits_kind(list, "categorical")
    (True, False, False)
    """
    if kind == "numeric":
        return _is_number(kind_of)
    if kind == "boolean":
        return issubclass(kind_of, (bool, np.bool_))
    return not _is_container(kind_of)


def type_mask(values: NDArray[Any], kind: Kind) -> Mask:
    """Which of ``values`` fit a column of ``kind`` (missing values count as fitting).

    A numeric column takes real numbers but not booleans or strings; a boolean column
    takes booleans (and, in a typed integer or float array, 0 and 1); a categorical
    column takes anything but containers (lists, dicts, arrays...).

    Examples
    --------
    >>> type_mask(np.array([1, 2.5, "3", True, None], dtype=object), "numeric").tolist()
    [True, True, False, False, True]
    """
    dtype_kind = values.dtype.kind
    if dtype_kind != "O":
        if kind == "numeric":
            fits = dtype_kind in "iuf"
            return np.full(values.shape, fits) | missing_mask(values)
        if kind == "boolean":
            if dtype_kind == "b":
                return np.ones(values.shape, dtype=bool)
            if dtype_kind in "iuf":
                return np.isin(values, (0, 1)) | missing_mask(values)
            return missing_mask(values)
        return np.ones(values.shape, dtype=bool)
    # Object arrays: one Python call per value is unavoidable to learn its type, done in
    # numpy's C loop (frompyfunc); the verdict is then worked out once per distinct type.
    types = np.asarray(_type_of(values))
    verdict = {t: fits_kind(t, kind) for t in set(types.tolist())}
    fits_array = np.frompyfunc(verdict.__getitem__, 1, 1)(types).astype(bool)
    return np.asarray(fits_array, dtype=bool) | missing_mask(values)


def numeric_values(values: NDArray[Any]) -> NDArray[np.float64]:
    """The numbers among ``values`` as floats: missing and ill-typed values left out.

    Examples
    --------
    >>> numeric_values(np.array([1, "x", None, 2.5], dtype=object)).tolist()
    [1.0, 2.5]
    """
    keep = ~missing_mask(values)
    if values.dtype.kind == "O":
        keep &= type_mask(values, "numeric")
    elif values.dtype.kind not in "iufb":
        return np.empty(0, dtype=np.float64)
    return np.asarray(values[keep], dtype=np.float64)


def factorize(*columns: NDArray[Any]) -> tuple[list[Codes], NDArray[Any]]:
    """Shared integer codes for the values of several columns, and the categories.

    Equal values get equal codes across ``columns``; missing values get code ``-1`` (so
    NaN equals NaN). Values that do not sort together (e.g. ``1`` and ``"1"`` in an
    object array) are coded by a dictionary instead of :func:`numpy.unique`.

    Examples
    --------
    >>> codes, categories = factorize(np.array(["b", "a", None], dtype=object))
    >>> codes[0].tolist(), categories.tolist()
    ([1, 0, -1], ['a', 'b'])
    """
    masks = [missing_mask(c) for c in columns]
    present = [c[~m] for c, m in zip(columns, masks, strict=True)]
    joined = np.concatenate(present) if present else np.empty(0)
    # Sorting Python strings one comparison at a time is slow: when every value is a
    # str, sort them as a numpy string array instead (same order, same categories).
    if joined.dtype.kind == "O" and set(np.asarray(_type_of(joined)).tolist()) == {str}:
        joined = joined.astype(str)
    try:
        categories, inverse = np.unique(joined, return_inverse=True)
    except TypeError:
        # Values of types that do not order: code them in order of first appearance.
        table: dict[Any, int] = {}
        inverse = np.fromiter(
            (table.setdefault(v, len(table)) for v in joined.tolist()),
            dtype=np.int64,
            count=len(joined),
        )
        categories = np.empty(len(table), dtype=object)
        categories[:] = list(table)
    inverse = np.asarray(inverse, dtype=np.int64).reshape(-1)
    codes: list[Codes] = []
    start = 0
    for column, mask in zip(columns, masks, strict=True):
        code = np.full(column.shape, -1, dtype=np.int64)
        stop = start + int((~mask).sum())
        code[~mask] = inverse[start:stop]
        codes.append(code)
        start = stop
    return codes, categories


def python_scalar(value: Any) -> Any:
    """A numpy scalar as the Python value it holds; anything else unchanged.

    Examples
    --------
    >>> python_scalar(np.str_("a")), python_scalar(np.int64(3))
    ('a', 3)
    """
    return value.item() if isinstance(value, np.generic) else value
