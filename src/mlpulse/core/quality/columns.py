"""Columns added to or removed from a dataset, against the reference.

>>> column_changes({"a": [1], "b": [2]}, {"a": [1], "c": [3]}).details
{'removed': ['b'], 'added': ['c']}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlpulse.core.drift.check import Status
from mlpulse.core.quality.result import QualityResult
from mlpulse.errors import parameter_error

_VERDICTS = (Status.OK, Status.WARNING, Status.CRITICAL)


def column_changes(
    reference: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    removed: Status = Status.CRITICAL,
    added: Status = Status.WARNING,
) -> QualityResult:
    """Which columns of ``reference`` are gone from ``current``, and which are new.

    A removed column usually breaks the model that reads it (``critical`` by default);
    an added one is usually harmless but unplanned (``warning``). ``value`` is the
    number of columns removed or added; the check is a rule, so ``thresholds`` is
    ``None``. A dataset-level check: ``column`` is ``None``.

    Parameters
    ----------
    reference, current : mapping of str to array_like
        Datasets as column → values (only the names are read).
    removed, added : Status
        The status when a column was removed, and when one was added (ok, warning or
        critical); with both, the worse wins.

    Returns
    -------
    QualityResult
        ``details``: sorted lists ``removed`` and ``added``.

    Examples
    --------
    >>> column_changes({"a": [1]}, {"a": [2], "b": [3]}).status.value
    'warning'
    """
    for name, status in (("removed", removed), ("added", added)):
        if status not in _VERDICTS:
            raise parameter_error(name, "column_changes", "ok, warning or critical", status)
    gone = sorted(set(reference) - set(current))
    new = sorted(set(current) - set(reference))
    statuses = [Status.OK] + ([removed] if gone else []) + ([added] if new else [])
    status = max(statuses, key=_VERDICTS.index)
    details = {"removed": gone, "added": new}
    return QualityResult("columns", None, float(len(gone) + len(new)), None, status, details)
