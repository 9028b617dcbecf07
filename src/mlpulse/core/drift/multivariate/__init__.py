"""Multivariate and embedding drift: shifts that no single column shows.

* :class:`PCAReconstruction` — a PCA fitted on the reference; drift when it reconstructs
  the current window worse (a changed correlation structure).
* :func:`domain_classifier_auc` — how well a classifier tells current rows from
  reference rows (cross-validated ROC AUC).
* :func:`mmd` — maximum mean discrepancy with a permutation test, for embedding vectors.
* :func:`score_drift`, :func:`label_drift` — model-level drift of outputs.

Inputs are 2-D arrays (rows × columns); see :mod:`.matrix`. ``domain_classifier_auc``
needs scikit-learn, which is slow to import, so its module is loaded on first use of
its names, not when this package is imported.

Example
-------
>>> import numpy as np
>>> from mlpulse.core.drift.multivariate import mmd
>>> rng = np.random.default_rng(0)
>>> mmd(rng.normal(size=(50, 4)), rng.normal(size=(50, 4)), n_permutations=49).status
<Status.OK: 'ok'>
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlpulse.core.drift.multivariate.mmd import MMDResult, mmd
from mlpulse.core.drift.multivariate.pca_reconstruction import (
    PCAReconstruction,
    PCAReconstructionDriftResult,
)
from mlpulse.core.drift.multivariate.prediction_drift import label_drift, score_drift

if TYPE_CHECKING:
    from mlpulse.core.drift.multivariate.domain_classifier import (
        DomainClassifierResult,
        domain_classifier_auc,
    )

__all__ = [
    "DomainClassifierResult",
    "MMDResult",
    "PCAReconstruction",
    "PCAReconstructionDriftResult",
    "domain_classifier_auc",
    "label_drift",
    "mmd",
    "score_drift",
]

_LAZY = {"DomainClassifierResult", "domain_classifier_auc"}


def __getattr__(name: str) -> Any:
    # PEP 562: import scikit-learn only when the domain classifier is first asked for.
    if name in _LAZY:
        module = importlib.import_module("mlpulse.core.drift.multivariate.domain_classifier")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
