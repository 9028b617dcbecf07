"""Prediction rows and column blocks: one from the other, and the checks between columns.

msgspec checks every value of a block against :class:`Prediction`'s types; what it
cannot check is that the columns line up. That, and moving between the row form and
the block form, is here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from mlpulse.domain.events import BLOCK_COLUMNS, FeatureValue, Prediction, PredictionBlock


def blocks_from_rows(rows: Sequence[Prediction]) -> list[PredictionBlock]:
    """Group predictions by (model, version), in order of first appearance, as blocks.

    A feature missing from a row is null in that row.

    >>> rows = [Prediction("m", "v1", "a", {"x": 1.0}), Prediction("m", "v1", "b", {"y": "k"})]
    >>> (block,) = blocks_from_rows(rows)
    >>> block.request_id, block.features
    (['a', 'b'], {'x': [1.0, None], 'y': [None, 'k']})
    """
    groups: dict[tuple[str, str], list[Prediction]] = {}
    for row in rows:
        groups.setdefault((row.model, row.version), []).append(row)
    return [_block(model, version, group) for (model, version), group in groups.items()]


def _block(model: str, version: str, rows: list[Prediction]) -> PredictionBlock:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row.features))
    features: dict[str, list[FeatureValue]] = {
        name: [row.features.get(name) for row in rows] for name in names
    }
    columns: dict[str, list[Any] | None] = {}
    for column in BLOCK_COLUMNS:
        values = [getattr(row, column) for row in rows]
        columns[column] = None if all(v is None for v in values) else values
    return PredictionBlock(
        model=model,
        version=version,
        request_id=[row.request_id for row in rows],
        features=features,
        **columns,
    )


def misaligned_column(block: PredictionBlock) -> tuple[str, int] | None:
    """The first column whose length differs from ``request_id``'s, and that length.

    >>> misaligned_column(PredictionBlock("m", "v", ["a", "b"], latency_ms=[1.0]))
    ('latency_ms', 1)
    """
    n = len(block.request_id)
    for name in BLOCK_COLUMNS:
        values = getattr(block, name)
        if values is not None and len(values) != n:
            return name, len(values)
    for name, values in block.features.items():
        if len(values) != n:
            return f"features.{name}", len(values)
    return None


def block_rows(block: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The rows of an undecoded block (plain dicts), as prediction events.

    Used to validate a block row by row when it failed as a whole; a column that is
    too short gives nulls (the row is then judged on what it has).
    """
    request_ids = block.get("request_id")
    features = block.get("features")
    columns = {name: block.get(name) for name in BLOCK_COLUMNS}
    for i, request_id in enumerate(request_ids if isinstance(request_ids, list) else []):
        row: dict[str, Any] = {
            "kind": "prediction",
            "model": block.get("model"),
            "version": block.get("version"),
            "request_id": request_id,
        }
        if isinstance(features, dict):
            row["features"] = {name: _at(values, i) for name, values in features.items()}
        for name, values in columns.items():
            if values is not None:
                row[name] = _at(values, i)
        yield row


def _at(values: object, i: int) -> object:
    return values[i] if isinstance(values, list) and i < len(values) else None
