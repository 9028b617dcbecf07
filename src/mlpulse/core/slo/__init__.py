"""Service level objectives: SLIs, error budgets, burn rates and burn-rate alerts, pure.

>>> from mlpulse.core.slo import burn_rate
>>> burn_rate(bad=5, total=1000, objective=0.999)
5.0
"""

from mlpulse.core.slo.budget import (
    MINUTE,
    MinuteCounts,
    budget_remaining,
    burn_rate,
    sli,
    time_to_exhaustion,
)
from mlpulse.core.slo.status import BurnAlertResult, BurnWindow, SloStatusResult, slo_status

__all__ = [
    "MINUTE",
    "BurnAlertResult",
    "BurnWindow",
    "MinuteCounts",
    "SloStatusResult",
    "budget_remaining",
    "burn_rate",
    "sli",
    "slo_status",
    "time_to_exhaustion",
]
