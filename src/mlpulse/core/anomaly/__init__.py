"""Anomaly detection on metric series: the statistics behind the *anomaly* alert rule.

:func:`detect` judges a whole series, :class:`AnomalyDetector` one point at a time (the
rule engine keeps one per series); both give the same decisions, computed causally.
See :mod:`mlpulse.core.anomaly.seasonal` for the method and its measured accuracy.

Examples
--------
>>> from mlpulse.core.anomaly import detect
>>> result = detect([300.0 * i for i in range(30)], [1.0] * 30)
>>> bool(result.is_anomaly.any())
False
"""

from __future__ import annotations

from mlpulse.core.anomaly.seasonal import AnomalyDetector, AnomalyPoint, AnomalyResult, detect

__all__ = ["AnomalyDetector", "AnomalyPoint", "AnomalyResult", "detect"]
