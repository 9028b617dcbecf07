"""mlpulse: self-hosted monitoring for machine-learning systems in production.

The top-level package is the SDK surface only, so ``import mlpulse`` stays light
inside a serving process (no server dependencies, nothing done at import)::

    import mlpulse

    client = mlpulse.Client.from_env()  # MLPULSE_URL, MLPULSE_API_KEY
    request_id = client.log_prediction("fraud", "v3", {"amount": 12.5}, 0, score=0.12)
"""

from mlpulse.sdk.client import Client

__version__ = "0.1.0"

__all__ = ["Client", "__version__"]
