"""Debian's promtool and prometheus for the tests that run them (``make test`` installs
them as root): a test skips without one, and fails instead under
``MLPULSE_REQUIRE_PROMTOOL=1``, as CI sets it."""

from __future__ import annotations

import os
import shutil

import pytest


def prometheus_tool(name: str = "promtool") -> str:
    """The path of ``name`` (``promtool`` or ``prometheus``), or skip (fail in CI)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("MLPULSE_REQUIRE_PROMTOOL") == "1":
            pytest.fail(f"{name} is not installed, and MLPULSE_REQUIRE_PROMTOOL=1 requires it")
        pytest.skip(f"{name} is not installed (set MLPULSE_REQUIRE_PROMTOOL=1 to fail instead)")
    return path
