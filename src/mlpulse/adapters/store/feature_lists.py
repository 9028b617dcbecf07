"""A batch's feature columns as the list columns of ``prediction_rows``, vectorised.

Each block's features go, by the type of their values, to one of four lists per row
(:data:`GROUPS`); the names of those lists are the block's feature set. The lists of
every block of a batch are built together: one concatenation and one ``take`` per
group for the whole batch, so a batch of 1,000 one-row blocks (a model per customer)
costs a few Arrow calls, not a few thousand.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import msgspec
import numpy as np
import pyarrow as pa

from mlpulse.adapters.store.arrow_tables import BlockFeatures, PredictionArrays

# The feature lists: (column of prediction_rows and feature_sets, SQL type of a value).
GROUPS: Final = (
    ("numbers", "DOUBLE"),
    ("flags", "BOOLEAN"),
    ("strings", "VARCHAR"),
    ("others", "JSON"),
)
SQL_TYPE: Final = dict(GROUPS)
_GROUP_OF_TYPE: Final = {
    pa.float64(): "numbers",
    pa.bool_(): "flags",
    pa.string(): "strings",
}
_ITEM: Final = {
    "numbers": pa.float64(),
    "flags": pa.bool_(),
    "strings": pa.string(),
    "others": pa.string(),  # JSON text; DuckDB casts it to JSON on insert
}
_json = msgspec.json.Encoder()
Names = tuple[tuple[str, ...], ...]


def feature_set_id(names: Sequence[Sequence[str]]) -> int:
    """A stable 64-bit id for the name lists of a feature set (one list per group).

    >>> feature_set_id([["a"], [], [], []]) == feature_set_id([["a"], [], [], []])
    True
    >>> feature_set_id([["a"], [], [], []]) == feature_set_id([[], [], ["a"], []])
    False
    """
    digest = hashlib.blake2b(msgspec.msgpack.encode(names), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def sql_types(block: BlockFeatures) -> dict[str, str]:
    """The SQL type each feature of the block would record (all-null features have none)."""
    return {
        feature: SQL_TYPE[_GROUP_OF_TYPE.get(array.type, "others")]
        for feature, array in block.features.items()
        if not pa.types.is_null(array.type)
    }


@dataclass(frozen=True, slots=True)
class FeatureLists:
    """A batch's list columns (one per group, as GROUPS), each block's feature set id and
    names, and the ``type_errors`` column."""

    set_ids: list[int]
    names: list[Names]
    lists: tuple[pa.Array, ...]
    type_errors: pa.Array


TypesOf = Callable[[str], "dict[str, str] | None"]


def _no_types(model: str) -> None:
    return None


def feature_lists(arrays: PredictionArrays, types_of: TypesOf = _no_types) -> FeatureLists:
    """The batch's features as list columns.

    ``types_of(model)``: the model's recorded feature types (SQL type names). A feature
    recorded with another type than the block's goes to ``type_errors``; one recorded
    as JSON takes any value. A feature not recorded goes to the list of its own type.
    """
    counts = [block.rows for block in arrays.blocks]
    columns: dict[str, list[pa.Array]] = {name: [] for name, _ in GROUPS}
    widths: dict[str, list[int]] = {name: [] for name, _ in GROUPS}
    set_ids: list[int] = []
    names: list[Names] = []
    errors: list[pa.Array | None] = []
    for block in arrays.blocks:
        grouped, mismatched = _grouped(block, types_of(block.model))
        block_names = tuple(tuple(grouped[name]) for name, _ in GROUPS)
        names.append(block_names)
        set_ids.append(feature_set_id(block_names))
        for name, _ in GROUPS:
            columns[name].extend(grouped[name].values())
            widths[name].append(len(grouped[name]))
        errors.append(_type_errors(mismatched, block.rows) if mismatched else None)
    lists = tuple(
        _interleave(columns[name], widths[name], counts, _ITEM[name]) for name, _ in GROUPS
    )
    return FeatureLists(set_ids, names, lists, _errors_column(errors, counts))


def _grouped(
    block: BlockFeatures, types: dict[str, str] | None
) -> tuple[dict[str, dict[str, pa.Array]], list[tuple[str, pa.Array]]]:
    grouped: dict[str, dict[str, pa.Array]] = {name: {} for name, _ in GROUPS}
    mismatched: list[tuple[str, pa.Array]] = []
    for feature, array in block.features.items():
        if pa.types.is_null(array.type):
            continue  # all missing: nothing to store, no type to learn
        group = _GROUP_OF_TYPE.get(array.type, "others")
        recorded = types.get(feature) if types else None
        if recorded is not None and recorded != SQL_TYPE[group]:
            if recorded != "JSON":
                mismatched.append((feature, array))
                continue
            group = "others"
        grouped[group][feature] = _as_json(array) if group == "others" else array
    return grouped, mismatched


def _interleave(
    arrays: list[pa.Array], widths: list[int], counts: list[int], item: pa.DataType
) -> pa.Array:
    """Row ``i`` of block ``b`` gets the list of the ``i``-th value of each of the block's
    ``widths[b]`` arrays (the arrays come block after block); a block without any gets
    null lists."""
    total = sum(counts)
    if not arrays:
        return pa.nulls(total, pa.list_(item))
    if len(counts) == 1:  # one block, the usual batch: its row-major order is cached
        flat = arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)
        offsets, order = _one_block_order(len(arrays), total)
        return pa.ListArray.from_arrays(offsets, flat if order is None else flat.take(order))
    k = np.asarray(widths, dtype=np.int64)
    n = np.asarray(counts, dtype=np.int64)
    lengths = np.repeat(k, n)  # list length of each row
    offsets = np.zeros(total + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)
    if len(arrays) > 1:
        # The arrays hold block b's values column by column from starts[b]: value j of
        # row i of block b is at starts[b] + j * n[b] + i. Rows want them row by row.
        starts = np.concatenate(([0], np.cumsum(k * n)[:-1]))
        row_block = np.repeat(np.arange(len(n)), n)
        row_in_block = np.arange(total) - np.repeat(np.cumsum(n) - n, n)
        element_row = np.repeat(np.arange(total), lengths)
        j = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1].astype(np.int64), lengths)
        b = row_block[element_row]
        order = starts[b] + j * n[b] + row_in_block[element_row]
        flat = flat.take(pa.array(order))
    mask = None if k.all() else pa.array(lengths == 0)
    return pa.ListArray.from_arrays(pa.array(offsets), flat, mask=mask)


@functools.lru_cache(maxsize=16)
def _one_block_order(k: int, n: int) -> tuple[pa.Array, pa.Array | None]:
    """Offsets and take order of ``k`` columns of ``n`` rows into rows of ``k`` values.

    Batches of a steady client have the same shape again and again (5,000 rows of 20
    numbers): building these is half the cost of the lists, so they are kept.
    """
    offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))
    if k == 1:
        return offsets, None
    order = (np.arange(k, dtype=np.int64)[None, :] * n + np.arange(n)[:, None]).ravel()
    return offsets, pa.array(order)


def _as_json(array: pa.Array) -> pa.Array:
    if isinstance(array.type, pa.JsonType):
        return array.storage
    encode = _json.encode
    return pa.array(
        [None if v is None else encode(v).decode() for v in array.to_pylist()], pa.string()
    )


def _type_errors(mismatched: list[tuple[str, pa.Array]], n: int) -> pa.Array:
    columns = [(feature, array.to_pylist()) for feature, array in mismatched]
    rows: list[str | None] = []
    for i in range(n):
        found = {feature: values[i] for feature, values in columns if values[i] is not None}
        rows.append(_json.encode(found).decode() if found else None)
    return pa.array(rows, pa.string())


def _errors_column(errors: list[pa.Array | None], counts: list[int]) -> pa.Array:
    if all(e is None for e in errors):
        return pa.nulls(sum(counts), pa.string())
    return pa.concat_arrays(
        [pa.nulls(n, pa.string()) if e is None else e for e, n in zip(errors, counts, strict=True)]
    )
