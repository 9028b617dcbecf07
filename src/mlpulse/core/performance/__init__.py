"""Model performance: measured on labelled windows, or estimated without labels (CBPE).

Classification, regression and ranking metrics match their scikit-learn oracles;
:class:`CBPE` estimates a binary classifier's performance from calibrated scores.
"""

from __future__ import annotations

from mlpulse.core.performance.cbpe import CBPE, CBPEResult
from mlpulse.core.performance.classification import (
    ClassificationPerformanceResult,
    classification_performance,
)
from mlpulse.core.performance.ranking import RankingPerformanceResult, ranking_performance
from mlpulse.core.performance.regression import (
    RegressionPerformanceResult,
    regression_performance,
)

__all__ = [
    "CBPE",
    "CBPEResult",
    "ClassificationPerformanceResult",
    "RankingPerformanceResult",
    "RegressionPerformanceResult",
    "classification_performance",
    "ranking_performance",
    "regression_performance",
]
