from __future__ import annotations

from pathlib import Path

import pytest

from mlpulse.errors import ConfigurationError
from mlpulse.server.settings import Settings


def test_settings_from_env_reads_mlpulse_variables_and_overrides_win() -> None:
    env = {"MLPULSE_DATA_DIR": "/srv/mlpulse", "MLPULSE_PORT": "9000", "MLPULSE_HOST": "0.0.0.0"}
    settings = Settings.from_env(env, port=9100, host=None)
    assert settings.data_dir == Path("/srv/mlpulse")
    assert settings.port == 9100
    assert settings.host == "0.0.0.0"
    assert settings.events_path == Path("/srv/mlpulse/events.duckdb")


@pytest.mark.parametrize(
    ("name", "value"),
    [("MLPULSE_PORT", "http"), ("MLPULSE_PORT", "70000"), ("MLPULSE_MAX_BODY_BYTES", "12"),
     ("MLPULSE_KEY_CACHE_SECONDS", "-1"), ("MLPULSE_MAX_MODELS", "0"),
     ("MLPULSE_MAX_FEATURES_PER_MODEL", "2001")],
)  # fmt: skip
def test_settings_from_env_names_the_variable_when_a_value_is_bad(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({name: value})


def test_settings_from_env_reads_the_ingest_limits() -> None:
    defaults = Settings.from_env({})
    assert (defaults.max_models, defaults.max_features_per_model) == (10_000, 2_000)
    env = {"MLPULSE_MAX_MODELS": "50", "MLPULSE_MAX_FEATURES_PER_MODEL": "300"}
    settings = Settings.from_env(env)
    assert (settings.max_models, settings.max_features_per_model) == (50, 300)
