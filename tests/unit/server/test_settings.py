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
     ("MLPULSE_KEY_CACHE_SECONDS", "-1")],
)  # fmt: skip
def test_settings_from_env_names_the_variable_when_a_value_is_bad(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({name: value})


def test_settings_external_url_is_read_without_its_trailing_slash_and_checked() -> None:
    env = {"MLPULSE_EXTERNAL_URL": "https://mlpulse.example.com/"}
    assert Settings.from_env(env).external_url == "https://mlpulse.example.com"
    assert Settings.from_env({}).external_url == ""
    with pytest.raises(ConfigurationError, match="MLPULSE_EXTERNAL_URL"):
        Settings.from_env({"MLPULSE_EXTERNAL_URL": "mlpulse.example.com"})
