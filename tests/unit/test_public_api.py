"""The public surface of ``import mlpulse``: pinned, light, and free of import side effects."""

from __future__ import annotations

import subprocess
import sys

import mlpulse
import mlpulse.sdk


def test_public_api_is_pinned() -> None:
    assert mlpulse.__all__ == ["Client", "__version__", "report"]
    assert mlpulse.__version__ == "0.1.0"
    assert mlpulse.Client is mlpulse.sdk.Client


def test_sdk_public_api_is_pinned() -> None:
    assert mlpulse.sdk.__all__ == [
        "Client",
        "ClientOptions",
        "ClientStats",
        "ResourceSampler",
        "Tracking",
    ]


def test_client_public_methods_are_pinned() -> None:
    public = sorted(name for name in vars(mlpulse.Client) if not name.startswith("_"))
    assert public == [
        "close",
        "flush",
        "from_env",
        "log_label",
        "log_outcome",
        "log_prediction",
        "log_resource",
        "router",
        "start_resource_sampler",
        "stats",
        "track",
    ]


def test_import_mlpulse_is_light_and_starts_nothing() -> None:
    code = (
        "import sys, threading, mlpulse\n"
        "heavy = [m for m in ('fastapi', 'duckdb', 'pyarrow', 'numpy', 'pandas', 'uvicorn',"
        " 'psutil', 'pynvml')"
        " if m in sys.modules]\n"
        "print(heavy, threading.active_count())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.split() == ["[]", "1"]
