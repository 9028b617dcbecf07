"""`mlpulse sample-size` answers what statsmodels' power analysis answers."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

statsmodels_power = pytest.importorskip("statsmodels.stats.power")
proportion = pytest.importorskip("statsmodels.stats.proportion")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlpulse", "sample-size", *args], capture_output=True, text=True
    )


def test_sample_size_for_a_conversion_rate_matches_statsmodels() -> None:
    done = _cli("--baseline", "0.1", "--mde", "0.02")
    assert done.returncode == 0, done.stderr
    effect = proportion.proportion_effectsize(0.12, 0.10)
    n = statsmodels_power.NormalIndPower().solve_power(effect, alpha=0.05, power=0.8)
    expected = math.ceil(n)
    assert done.stdout.startswith(f"{expected:,} control, {expected:,} treatment")


def test_sample_size_refuses_a_rate_outside_zero_one() -> None:
    done = _cli("--baseline", "1.5", "--mde", "0.1")
    assert done.returncode == 2 and "'baseline' parameter" in done.stderr
