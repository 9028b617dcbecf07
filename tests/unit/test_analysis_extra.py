"""The base install is the SDK: without the `analysis` extra (numpy, scipy, ...)
``import mlpulse`` works and ``mlpulse.report`` says which extra to install."""

from __future__ import annotations

import subprocess
import sys

_WITHOUT_NUMPY = (
    "import sys\n"
    "sys.modules['numpy'] = None  # as if the analysis extra were not installed\n"
    "import mlpulse\n"
    "client = mlpulse.Client('http://127.0.0.1:9', 'mlp_x')\n"
    "client.close()\n"
    "try:\n"
    "    mlpulse.report\n"
    "except ImportError as exc:\n"
    "    print(type(exc).__name__, exc)\n"
)


def test_report_without_the_analysis_extra_names_the_install_line() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_NUMPY], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "ImportError mlpulse.report needs the analysis extra (no module named 'numpy'): "
        "pip install 'mlpulse[analysis]'"
    )
