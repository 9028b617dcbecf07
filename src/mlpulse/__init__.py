"""mlpulse: self-hosted monitoring for machine-learning systems in production.

The top-level package is the SDK surface and library mode's entry point. ``import
mlpulse`` stays light inside a serving process (no server dependencies, no numpy,
nothing done at import); ``mlpulse.report`` loads the statistical core when first used::

    import mlpulse

    client = mlpulse.Client.from_env()  # MLPULSE_URL, MLPULSE_API_KEY
    request_id = client.log_prediction("fraud", "v3", {"amount": 12.5}, 0, score=0.12)

    mlpulse.report(reference_df, current_df).save_html("drift.html")
"""

from typing import TYPE_CHECKING, Any

from mlpulse.sdk.client import Client

if TYPE_CHECKING:
    from mlpulse.library.report import report

__version__ = "0.1.0"

__all__ = ["Client", "__version__", "report"]


def __getattr__(name: str) -> Any:
    # Library mode (numpy, scipy, scikit-learn) is loaded on first use, so that
    # `import mlpulse` in a serving process stays as light as the SDK.
    if name == "report":
        try:
            from mlpulse.library.report import report
        except ModuleNotFoundError as exc:  # an SDK-only install: the base has no numpy
            raise ImportError(
                f"mlpulse.report needs the analysis extra (no module named {exc.name!r}): "
                "pip install 'mlpulse[analysis]'",
                name=exc.name,
            ) from exc
        return report
    raise AttributeError(f"module 'mlpulse' has no attribute {name!r}")
