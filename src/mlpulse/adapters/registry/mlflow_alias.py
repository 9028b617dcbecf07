"""Keep an MLflow registered model's alias (``champion``) on mlpulse's champion.

Teams that keep their models in MLflow's Model Registry load the champion by alias
(``models:/recs@champion``). When mlpulse changes a model's champion — a runbook rollback,
a rollout's promotion, ``mlpulse rollback`` — this adapter moves the alias too, so the
serving code that loads by alias follows.

Which MLflow version is mlpulse's version ``v``: the registered model's version whose tag
``mlpulse.version`` equals ``v``; failing that, the MLflow version number ``v`` (or ``v``
without a leading "v": ``v3`` → 3). MLflow names the registered model as mlpulse names the
model unless ``model_names`` maps it.

MLflow is an optional dependency (``pip install 'mlpulse[mlflow]'``: mlflow-skinny, with
SQLAlchemy and Alembic for a database-backed registry); it is imported on first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from mlpulse.errors import ConfigurationError, NotFoundError

log = logging.getLogger("mlpulse.mlflow")

VERSION_TAG = "mlpulse.version"


class MlflowAlias:
    def __init__(
        self,
        tracking_uri: str,
        *,
        registry_uri: str | None = None,
        alias: str = "champion",
        model_names: Mapping[str, str] | None = None,
    ) -> None:
        try:
            from mlflow import MlflowClient
        except ImportError as exc:
            raise ConfigurationError(
                "MLflow sync needs MLflow: pip install 'mlpulse[mlflow]'"
            ) from exc
        self._client: Any = MlflowClient(
            tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri
        )
        self._alias = alias
        self._names = dict(model_names or {})
        self._lock = threading.Lock()

    def _mlflow_version(self, name: str, version: str) -> str:
        for found in self._client.search_model_versions(f"name = '{name}'"):
            if found.tags.get(VERSION_TAG) == version:
                return str(found.version)
        number = version[1:] if version[:1] in ("v", "V") else version
        if number.isdigit():
            return number
        raise NotFoundError(
            f"MLflow model {name!r} has no version tagged {VERSION_TAG}={version!r} "
            f"and {version!r} is not a version number"
        )

    def set_champion(self, model: str, version: str) -> str:
        """Point the alias of ``model`` at ``version``; returns the MLflow version."""
        name = self._names.get(model, model)
        with self._lock:
            mlflow_version = self._mlflow_version(name, version)
            self._client.set_registered_model_alias(name, self._alias, mlflow_version)
        log.info("MLflow %s@%s → version %s (%s)", name, self._alias, mlflow_version, version)
        return mlflow_version

    def champion(self, model: str) -> str:
        """The MLflow version the alias points at."""
        name = self._names.get(model, model)
        return str(self._client.get_model_version_by_alias(name, self._alias).version)
