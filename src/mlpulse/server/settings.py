"""Collector settings, read from arguments and ``MLPULSE_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from mlpulse.domain.events import MAX_FEATURES, MAX_MODELS
from mlpulse.errors import ConfigurationError
from mlpulse.server.log_format import LOG_FORMATS, LOG_LEVELS, LogFormat

T = TypeVar("T", int, float)

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
# Reference uploads (training data) stream to a temporary file: a larger limit of their own.
DEFAULT_MAX_REFERENCE_BYTES = 1024**3
# Where `make` installs the dashboard's browser libraries (web/package.json) in a checkout.
CHECKOUT_WEB_ASSETS = Path(__file__).resolve().parents[3] / "web" / "node_modules"


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def default_web_assets() -> Path:
    """Where the dashboard's npm packages are: the copy a wheel carries (setup.py
    vendors them into ``mlpulse/server/dashboard/vendor``, in node_modules' layout),
    else a checkout's ``web/node_modules``."""
    vendored = resources.files("mlpulse.server") / "dashboard" / "vendor"
    # FileResponse needs a real file, so only a package on the file system counts.
    if isinstance(vendored, Path) and vendored.is_dir():
        return vendored
    return CHECKOUT_WEB_ASSETS


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    # MLPULSE_STORE: "" for the embedded store in `data_dir`, or a postgresql:// URL. (A
    # directory given as MLPULSE_STORE becomes `data_dir`: see from_env.)
    store: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_reference_bytes: int = DEFAULT_MAX_REFERENCE_BYTES
    # How long a key's look-up is cached: a revoked key stops working within this time.
    key_cache_seconds: float = 5.0
    # DuckDB write-ahead log size that triggers a checkpoint (see DuckDBEventStore).
    checkpoint_mb: int = 128
    # Seconds between evaluator ticks (each monitor still runs on its own `every`).
    evaluator_interval_s: float = 10.0
    # Days raw events are kept; minute profiles and metric points are kept regardless.
    retention_days: float = 30.0
    # Names this collector in the minute profiles it writes (default: host and pid).
    writer_id: str = ""
    # Where the other replicas reach this one (a cluster forwards leader requests there);
    # default http://host:port.
    advertise_url: str = ""
    # When set, rollbacks also move this MLflow registry's `champion` alias.
    mlflow_tracking_uri: str = ""
    # The npm packages the dashboard serves (ECharts, htmx): a node_modules directory.
    web_assets: Path = field(default_factory=default_web_assets)
    # mlpulse's address as people reach it (https://mlpulse.example.com): pages link back.
    external_url: str = ""
    # Signs dashboard sessions; the same on every replica of a cluster, so a session made
    # on one is valid on the others. "" = a secret made in the data directory.
    dashboard_secret: str = ""
    # Limits enforced at ingest (docs/production.md, "Limits").
    max_models: int = MAX_MODELS
    max_features_per_model: int = MAX_FEATURES
    # The collector's log lines: "text" or "json" (one object a line), and the least level.
    log_format: LogFormat = "text"
    log_level: str = "INFO"

    @property
    def uses_postgres(self) -> bool:
        return self.store.startswith(POSTGRES_SCHEMES)

    @property
    def events_path(self) -> Path:
        return self.data_dir / "events.duckdb"

    @property
    def profiles_path(self) -> Path:
        return self.data_dir / "profiles.sqlite"

    @property
    def metadata_path(self) -> Path:
        """The embedded metadata database: keys, models, alerts, incidents, registry,
        experiments, rollouts, bandits (see adapters/store/sqlite_migrations.py)."""
        return self.data_dir / "metadata.sqlite"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``MLPULSE_*`` variables; explicit ``overrides`` (not None) win.

        ``MLPULSE_STORE`` names where everything is stored: a ``postgresql://`` URL, or a
        directory for the embedded store, which then is the data directory (it wins over
        ``MLPULSE_DATA_DIR``; an explicit ``data_dir`` override, ``--data-dir``, wins
        over both).
        """
        env = os.environ if env is None else env
        store = _store(str(overrides.get("store") or env.get("MLPULSE_STORE", "")).strip())
        directory = "" if store.startswith(POSTGRES_SCHEMES) else store
        values: dict[str, object] = {
            "data_dir": directory or env.get("MLPULSE_DATA_DIR", "mlpulse-data"),
            "host": env.get("MLPULSE_HOST", "127.0.0.1"),
            "port": env.get("MLPULSE_PORT", "8080"),
            "max_body_bytes": env.get("MLPULSE_MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES)),
            "max_reference_bytes": env.get(
                "MLPULSE_MAX_REFERENCE_BYTES", str(DEFAULT_MAX_REFERENCE_BYTES)
            ),
            "key_cache_seconds": env.get("MLPULSE_KEY_CACHE_SECONDS", "5"),
            "checkpoint_mb": env.get("MLPULSE_CHECKPOINT_MB", "128"),
            "evaluator_interval_s": env.get("MLPULSE_EVALUATOR_INTERVAL", "10"),
            "retention_days": env.get("MLPULSE_RETENTION_DAYS", "30"),
            "writer_id": env.get("MLPULSE_WRITER_ID", ""),
            "advertise_url": env.get("MLPULSE_ADVERTISE_URL", ""),
            "mlflow_tracking_uri": env.get("MLPULSE_MLFLOW_TRACKING_URI", ""),
            "web_assets": env.get("MLPULSE_WEB_ASSETS") or str(default_web_assets()),
            "external_url": env.get("MLPULSE_EXTERNAL_URL", ""),
            "dashboard_secret": env.get("MLPULSE_DASHBOARD_SECRET", ""),
            "max_models": env.get("MLPULSE_MAX_MODELS", str(MAX_MODELS)),
            "max_features_per_model": env.get("MLPULSE_MAX_FEATURES_PER_MODEL", str(MAX_FEATURES)),
            "log_format": env.get("MLPULSE_LOG_FORMAT", "text"),
            "log_level": env.get("MLPULSE_LOG_LEVEL", "INFO"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(
            data_dir=Path(str(values["data_dir"])),
            store=store if store.startswith(POSTGRES_SCHEMES) else "",
            host=str(values["host"]),
            port=_number(int, "MLPULSE_PORT", values["port"], low=0, high=65535),
            max_body_bytes=_number(
                int, "MLPULSE_MAX_BODY_BYTES", values["max_body_bytes"], low=1024, high=2**31
            ),
            max_reference_bytes=_number(
                int,
                "MLPULSE_MAX_REFERENCE_BYTES",
                values["max_reference_bytes"],
                low=1024,
                high=2**40,
            ),
            key_cache_seconds=_number(
                float, "MLPULSE_KEY_CACHE_SECONDS", values["key_cache_seconds"], low=0, high=3600
            ),
            checkpoint_mb=_number(
                int, "MLPULSE_CHECKPOINT_MB", values["checkpoint_mb"], low=1, high=65536
            ),
            evaluator_interval_s=_number(
                float,
                "MLPULSE_EVALUATOR_INTERVAL",
                values["evaluator_interval_s"],
                low=0.05,
                high=86400,
            ),
            retention_days=_number(
                float, "MLPULSE_RETENTION_DAYS", values["retention_days"], low=0.001, high=36500
            ),
            writer_id=str(values["writer_id"]),
            advertise_url=str(values["advertise_url"]),
            mlflow_tracking_uri=str(values["mlflow_tracking_uri"]),
            web_assets=Path(str(values["web_assets"])),
            external_url=_external_url(str(values["external_url"])),
            dashboard_secret=_dashboard_secret(str(values["dashboard_secret"])),
            max_models=_number(int, "MLPULSE_MAX_MODELS", values["max_models"], low=1, high=10**6),
            max_features_per_model=_number(
                int,
                "MLPULSE_MAX_FEATURES_PER_MODEL",
                values["max_features_per_model"],
                low=1,
                high=MAX_FEATURES,
            ),
            log_format=_log_format(str(values["log_format"])),
            log_level=_choice("MLPULSE_LOG_LEVEL", str(values["log_level"]).upper(), LOG_LEVELS),
        )


def _store(raw: str) -> str:
    """MLPULSE_STORE checked: "", a directory, or a PostgreSQL URL (never echoed whole:
    it may hold a password)."""
    if "://" in raw and not raw.startswith(POSTGRES_SCHEMES):
        scheme = raw.split("://", 1)[0]
        raise ConfigurationError(
            f"MLPULSE_STORE must be a directory or a postgresql:// URL; got a {scheme}:// URL"
        )
    return raw


def _dashboard_secret(raw: str) -> str:
    """At least 32 characters, or "" (none set); never echoed."""
    if raw and len(raw) < 32:
        raise ConfigurationError(
            f"MLPULSE_DASHBOARD_SECRET must be at least 32 characters (e.g. `openssl rand "
            f"-hex 32`); got {len(raw)}"
        )
    return raw


def _external_url(raw: str) -> str:
    """An absolute http(s) URL without a trailing slash, or "" (none set)."""
    text = raw.strip().rstrip("/")
    parts = urlsplit(text)
    if text and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise ConfigurationError(
            f"MLPULSE_EXTERNAL_URL must be an http(s) URL like https://mlpulse.example.com; "
            f"got {raw!r}"
        )
    return text


def _log_format(raw: str) -> LogFormat:
    text = raw.strip().lower()
    for known in LOG_FORMATS:
        if text == known:
            return known
    raise ConfigurationError(f"MLPULSE_LOG_FORMAT must be text or json; got {raw!r}")


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    text = raw.strip()
    if text not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}; got {raw!r}")
    return text


def _number(kind: type[T], name: str, raw: object, *, low: T, high: T) -> T:
    try:
        value = kind(str(raw))
    except ValueError:
        raise ConfigurationError(f"{name} must be a number; got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be in [{low}, {high}]; got {raw!r}")
    return value
