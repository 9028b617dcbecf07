"""Data-quality checks: missing values, type errors, ranges, infinities, categories, rows,
columns.

Each check is a pure function ``(reference, current, *, ...) -> QualityResult`` with
documented default thresholds; :func:`quality_checks` runs all that apply.

>>> quality_checks({"x": [1, 2]}, {"y": [1, 2]}, kinds={})[0].status.value
'critical'
"""

from mlpulse.core.quality.cardinality import cardinality
from mlpulse.core.quality.columns import column_changes
from mlpulse.core.quality.constant import constant
from mlpulse.core.quality.duplicates import duplicate_rows, duplicated_share
from mlpulse.core.quality.missing import missing_values
from mlpulse.core.quality.non_finite import non_finite
from mlpulse.core.quality.out_of_range import out_of_range
from mlpulse.core.quality.result import QualityResult
from mlpulse.core.quality.suite import column_summaries, quality_checks
from mlpulse.core.quality.type_errors import type_errors
from mlpulse.core.quality.unseen import unseen_share

__all__ = [
    "QualityResult",
    "cardinality",
    "column_changes",
    "column_summaries",
    "constant",
    "duplicate_rows",
    "duplicated_share",
    "missing_values",
    "non_finite",
    "out_of_range",
    "quality_checks",
    "type_errors",
    "unseen_share",
]
