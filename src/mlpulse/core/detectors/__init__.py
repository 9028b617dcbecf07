"""Streaming change detectors for the collector's per-event fast path.

Each reads one number per event in pure-Python scalar arithmetic (a microsecond or
two) and says on that very update whether the stream has changed. All follow
:class:`~mlpulse.core.detectors.base.StreamingDetector`: parameters in ``__init__``,
``update(x) -> bool``, read-only ``drift_detected``, ``n`` and ``estimate``, ``reset()``.

=================  ============================================  ==================
detector           watches                                       after a change
=================  ============================================  ==================
``PageHinkley``    the mean, against the running mean            restarts
``ADWIN``          the mean, over an adaptive window             drops the old part
``DDM``            the error rate of a 0/1 stream (rises only)   restarts
``CUSUM``          the mean, against a warm-up target            restarts
=================  ============================================  ==================

For latency (and any stream whose upper tail matters), time-blocked and one-sided:
:class:`~mlpulse.core.detectors.ExceedanceCUSUM` tests, per second, the share of values
above the stream's own p90 with a :class:`~mlpulse.core.detectors.BinomialCUSUM`, whose
false alarms are bounded whatever the distribution; :class:`CanaryComparison` runs the
same test for new versions against the version serving beside them.

Examples
--------
>>> from mlpulse.core.detectors import CUSUM
>>> detector = CUSUM(target=0.0, warmup=10)
>>> any(detector.update(x) for x in [-1.0, 1.0] * 50)
False
"""

from __future__ import annotations

from mlpulse.core.detectors.adwin import ADWIN
from mlpulse.core.detectors.base import StreamingDetector
from mlpulse.core.detectors.binomial_cusum import BinomialCUSUM
from mlpulse.core.detectors.canary import CanaryChange, CanaryComparison
from mlpulse.core.detectors.cusum import CUSUM
from mlpulse.core.detectors.ddm import DDM
from mlpulse.core.detectors.exceedance import ExceedanceCUSUM
from mlpulse.core.detectors.page_hinkley import PageHinkley

__all__ = [
    "ADWIN",
    "CUSUM",
    "DDM",
    "BinomialCUSUM",
    "CanaryChange",
    "CanaryComparison",
    "ExceedanceCUSUM",
    "PageHinkley",
    "StreamingDetector",
]
