"""Every applicable data-quality check over every column of a dataset, worst first.

>>> reference = {"age": [float(a) for a in range(20, 70)] * 2, "plan": list("ab") * 50}
>>> current = {"age": [None] * 40 + [250.0] * 20 + list(range(20, 60)), "plan": list("abzb") * 25}
>>> [(r.check, r.column, r.status.value) for r in quality_checks(
...     reference, current, kinds={"age": "numeric", "plan": "categorical"})][:3]
[('missing_values', 'age', 'critical'), ('out_of_range', 'age', 'critical'), ...]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from mlpulse.core.drift.check import Kind
from mlpulse.core.quality.cardinality import cardinality_from
from mlpulse.core.quality.columns import column_changes
from mlpulse.core.quality.constant import constant_from
from mlpulse.core.quality.duplicates import duplicate_rows
from mlpulse.core.quality.missing import missing_values_from
from mlpulse.core.quality.non_finite import non_finite_from
from mlpulse.core.quality.out_of_range import out_of_range_from
from mlpulse.core.quality.result import QualityResult, by_severity
from mlpulse.core.quality.summary import ColumnSummary, summarize
from mlpulse.core.quality.type_errors import KINDS, type_errors_from
from mlpulse.core.quality.unseen import unseen_share_from
from mlpulse.core.quality.values import Values, as_column
from mlpulse.errors import parameter_error

ColumnCheck = Callable[..., QualityResult]

# The checks beyond missing values and type errors (which every column gets), by kind;
# each reads the two columns' summaries, worked out once per column.
BY_KIND: Final[dict[str, tuple[ColumnCheck, ...]]] = {
    "numeric": (out_of_range_from, non_finite_from, constant_from),
    "categorical": (unseen_share_from, cardinality_from, constant_from),
    "boolean": (constant_from,),
}


def quality_checks(
    reference: Mapping[str, Values],
    current: Mapping[str, Values],
    *,
    kinds: Mapping[str, Kind],
    summaries: Mapping[str, tuple[ColumnSummary, ColumnSummary]] | None = None,
) -> list[QualityResult]:
    """Run every data-quality check that applies, with default thresholds.

    Every column in ``kinds`` present on both sides gets
    :func:`~mlpulse.core.quality.missing.missing_values` and
    :func:`~mlpulse.core.quality.type_errors.type_errors`; a numeric column also
    :func:`~mlpulse.core.quality.out_of_range.out_of_range`,
    :func:`~mlpulse.core.quality.non_finite.non_finite` and
    :func:`~mlpulse.core.quality.constant.constant`; a categorical one
    :func:`~mlpulse.core.quality.unseen.unseen_share`,
    :func:`~mlpulse.core.quality.cardinality.cardinality` and ``constant``; a boolean one
    ``constant``. The dataset gets
    :func:`~mlpulse.core.quality.columns.column_changes` (over all columns of both
    mappings) and :func:`~mlpulse.core.quality.duplicates.duplicate_rows`. A column in
    ``kinds`` missing from one side is reported by ``column_changes`` only.

    Each column is read once into a
    :class:`~mlpulse.core.quality.summary.ColumnSummary` that all its checks share, and
    the share checks judge their sampling error (see
    :mod:`~mlpulse.core.quality.sampling`): at 1M rows x 25 columns the suite costs
    less than the drift checks themselves.

    Parameters
    ----------
    reference, current : mapping of str to array_like
        Datasets as column → values.
    kinds : mapping of str to {'numeric', 'categorical', 'boolean'}
        The columns to check and what each holds.
    summaries : mapping of str to (ColumnSummary, ColumnSummary), optional
        The reference and current summaries of some columns, from
        :func:`column_summaries`, when they were made already (library mode shares their
        category counts with the drift checks).

    Returns
    -------
    list of QualityResult
        Worst status first (critical, warning, insufficient_data, ok), then by column
        (dataset-level results first) and check.

    Examples
    --------
    >>> results = quality_checks({"x": [1, 2, 3, 4, 5]}, {"x": [2, 3, 4, 5, 1]},
    ...                          kinds={"x": "numeric"})
    >>> sorted({r.status.value for r in results}), len(results)
    (['ok'], 7)
    """
    for name, kind in kinds.items():
        if kind not in KINDS:
            raise parameter_error(
                "kinds", "quality_checks", f"a mapping to one of {', '.join(KINDS)}", dict(kinds)
            )
        if name not in reference and name not in current:
            raise parameter_error(
                "kinds",
                "quality_checks",
                "a mapping of columns found in reference or current",
                name,
            )
    results = [column_changes(reference, current), duplicate_rows(reference, current)]
    for name, kind in kinds.items():
        if name not in reference or name not in current:
            continue
        known = (summaries or {}).get(name)
        ref, cur = known or column_summaries(reference, current, kinds={name: kind})[name]
        results.append(missing_values_from(ref, cur, column=name))
        results.append(type_errors_from(ref, cur, column=name))
        results.extend(check(ref, cur, column=name) for check in BY_KIND[kind])
    return by_severity(results)


def column_summaries(
    reference: Mapping[str, Values],
    current: Mapping[str, Values],
    *,
    kinds: Mapping[str, Kind],
) -> dict[str, tuple[ColumnSummary, ColumnSummary]]:
    """The reference and current :class:`~.summary.ColumnSummary` of each column in
    ``kinds`` found on both sides.

    Examples
    --------
    >>> ref, cur = column_summaries({"a": ["x", "y"]}, {"a": ["y", None]},
    ...                             kinds={"a": "categorical"})["a"]
    >>> ref.counts, cur.counts, cur.n_missing
    ({'x': 1, 'y': 1}, {'y': 1}, 1)
    """
    return {
        name: (
            summarize(as_column(reference[name], "quality_checks", "reference"), kind),
            summarize(as_column(current[name], "quality_checks", "current"), kind),
        )
        for name, kind in kinds.items()
        if name in reference and name in current
    }
