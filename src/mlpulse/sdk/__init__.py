"""The Python SDK: log predictions, labels, outcomes and resources to a collector.

:class:`Client` is also exported as ``mlpulse.Client``.
"""

from mlpulse.sdk.client import Client
from mlpulse.sdk.options import ClientOptions
from mlpulse.sdk.resources import ResourceSampler
from mlpulse.sdk.stats import ClientStats
from mlpulse.sdk.track import Tracking

__all__ = ["Client", "ClientOptions", "ClientStats", "ResourceSampler", "Tracking"]
