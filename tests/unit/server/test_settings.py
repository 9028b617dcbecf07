from __future__ import annotations

from pathlib import Path

import pytest

import mlpulse.server
from mlpulse.errors import ConfigurationError
from mlpulse.server.settings import CHECKOUT_WEB_ASSETS, Settings


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
     ("MLPULSE_MAX_FEATURES_PER_MODEL", "2001"), ("MLPULSE_LOG_FORMAT", "xml"),
     ("MLPULSE_LOG_LEVEL", "LOUD")],
)  # fmt: skip
def test_settings_from_env_names_the_variable_when_a_value_is_bad(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({name: value})


def test_settings_mlpulse_store_directory_is_the_data_directory() -> None:
    env = {"MLPULSE_STORE": "/srv/store", "MLPULSE_DATA_DIR": "/srv/other"}

    assert Settings.from_env(env).data_dir == Path("/srv/store")
    assert not Settings.from_env(env).uses_postgres
    assert Settings.from_env(env, data_dir="/cli/flag").data_dir == Path("/cli/flag")
    assert Settings.from_env({}).data_dir == Path("mlpulse-data")


@pytest.mark.parametrize("url", ["postgresql://127.0.0.1/test", "postgres://u@db/mlpulse"])
def test_settings_mlpulse_store_url_selects_postgres(url: str) -> None:
    settings = Settings.from_env({"MLPULSE_STORE": url, "MLPULSE_DATA_DIR": "/srv/d"})

    assert settings.uses_postgres and settings.store == url
    assert settings.data_dir == Path("/srv/d")


def test_settings_refuse_another_kind_of_store_url_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError, match=r"MLPULSE_STORE .* mysql:// URL") as caught:
        Settings.from_env({"MLPULSE_STORE": "mysql://root:hunter2@db/x"})

    assert "hunter2" not in str(caught.value)


def test_settings_external_url_is_read_without_its_trailing_slash_and_checked() -> None:
    env = {"MLPULSE_EXTERNAL_URL": "https://mlpulse.example.com/"}
    assert Settings.from_env(env).external_url == "https://mlpulse.example.com"
    assert Settings.from_env({}).external_url == ""
    with pytest.raises(ConfigurationError, match="MLPULSE_EXTERNAL_URL"):
        Settings.from_env({"MLPULSE_EXTERNAL_URL": "mlpulse.example.com"})


def test_settings_web_assets_default_to_the_checkouts_node_modules_when_not_vendored() -> None:
    # A checkout (and an editable install) has no vendor/ folder: setup.py writes it
    # only into build trees and sdists (the wheel-install test covers that side).
    assert not (Path(mlpulse.server.__file__).parent / "dashboard" / "vendor").exists()
    assert Settings.from_env({}).web_assets == CHECKOUT_WEB_ASSETS
    assert Settings(data_dir=Path("d")).web_assets == CHECKOUT_WEB_ASSETS


def test_settings_web_assets_follow_the_environment_variable_when_set() -> None:
    assert Settings.from_env({"MLPULSE_WEB_ASSETS": "/srv/npm"}).web_assets == Path("/srv/npm")
    assert Settings.from_env({"MLPULSE_WEB_ASSETS": ""}).web_assets == CHECKOUT_WEB_ASSETS


def test_settings_from_env_reads_the_ingest_limits() -> None:
    defaults = Settings.from_env({})
    assert (defaults.max_models, defaults.max_features_per_model) == (10_000, 2_000)
    env = {"MLPULSE_MAX_MODELS": "50", "MLPULSE_MAX_FEATURES_PER_MODEL": "300"}
    settings = Settings.from_env(env)
    assert (settings.max_models, settings.max_features_per_model) == (50, 300)


def test_settings_dashboard_secret_is_read_and_must_be_long_enough() -> None:
    secret = "s" * 32
    assert Settings.from_env({"MLPULSE_DASHBOARD_SECRET": secret}).dashboard_secret == secret
    assert Settings.from_env({}).dashboard_secret == ""
    with pytest.raises(ConfigurationError, match="at least 32 characters") as caught:
        Settings.from_env({"MLPULSE_DASHBOARD_SECRET": "short-secret"})
    assert "short-secret" not in str(caught.value)


def test_settings_log_format_and_level_default_to_text_info_and_ignore_case() -> None:
    assert (Settings.from_env({}).log_format, Settings.from_env({}).log_level) == ("text", "INFO")
    env = {"MLPULSE_LOG_FORMAT": " JSON ", "MLPULSE_LOG_LEVEL": "warning"}
    settings = Settings.from_env(env)
    assert (settings.log_format, settings.log_level) == ("json", "WARNING")
