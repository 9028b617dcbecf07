"""The Python SDK: log predictions, labels and outcomes to a collector, in the background.

:class:`Client` is also exported as ``mlpulse.Client``.
"""

from mlpulse.sdk.client import Client
from mlpulse.sdk.options import ClientOptions
from mlpulse.sdk.stats import ClientStats
from mlpulse.sdk.track import Tracking

__all__ = ["Client", "ClientOptions", "ClientStats", "Tracking"]
