"""Monitors as code: the declarative document ``mlpulse.yaml``, as frozen Structs.

::

    version: 1
    models:
      fraud:
        task: binary_classification
        schema: {amount: numeric, country: categorical}
        segments: [country]
        reference: {file: data/train.parquet, label_column: is_fraud}
    monitors:
      fraud-accuracy:
        model: fraud
        check: performance
        metric: accuracy
        window: 1d
        warning: 0.9
        critical: 0.8

Every Struct forbids unknown fields, so a typo is an error rather than a setting
silently ignored. :func:`~mlpulse.domain.config_validation.decode_config` checks types
and :func:`~mlpulse.domain.config_validation.validate` what only makes sense in
combination (a metric that belongs to another check, thresholds in the wrong order); both
report every problem with its dotted path (``monitors.fraud-accuracy.warning``).

Thresholds: with ``direction: below`` a value *below* ``warning`` is a warning and below
``critical`` is critical (so ``warning > critical``); with ``above`` the reverse. Latency
thresholds are in milliseconds, throughput in predictions per second, the error rate a
fraction in [0, 1]. A monitor without thresholds only records its metric series, for
dashboards and for rules (relative to a baseline, absent data) to alert on.

A monitor's thresholds do not alert by themselves: they give each point a status, shown
on the dashboard. Rules alert. ``page: true`` on a monitor with ``critical`` writes the
rule that alerts (severity critical) whenever the monitor's status is critical.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, TypeAlias, get_args

import msgspec

from mlpulse.domain.events import AwareDatetime, FiniteFloat, Name
from mlpulse.domain.incidents import RunbookConfig
from mlpulse.domain.probes import ProbeConfig
from mlpulse.domain.rules import (
    InhibitRule,
    ReceiverConfig,
    RouteConfig,
    RuleConfig,
    UserConfig,
)
from mlpulse.domain.slos import SloConfig

Task: TypeAlias = Literal[
    "binary_classification", "multiclass_classification", "regression", "ranking"
]
Check: TypeAlias = Literal[
    "drift",
    "quality",
    "performance",
    "estimated_performance",
    "latency",
    "throughput",
    "errors",
    "prediction_drift",
]
Direction: TypeAlias = Literal["below", "above"]
CompareTo: TypeAlias = Literal["reference", "previous_window"]
# The kinds a schema override may declare: the ones drift and quality checks know.
OverrideKind: TypeAlias = Literal["numeric", "categorical", "boolean"]
Duration = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1, le=100_000)]

FORMAT_VERSION: Final = 1
DEFAULT_POSITIVE_CLASS: Final = "1"
DEFAULT_WINDOW: Final = "1h"
DEFAULT_EVERY: Final = "1m"
TASKS: Final[tuple[str, ...]] = get_args(Task)
CHECKS: Final[tuple[str, ...]] = get_args(Check)

CLASSIFICATION_METRICS: Final = (
    "accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "brier",
    "calibration_error",
)  # fmt: skip
REGRESSION_METRICS: Final = ("mae", "rmse", "mape", "r2")
RANKING_METRICS: Final = ("precision_at_k", "recall_at_k", "ndcg_at_k", "mrr", "hit_rate")
METRICS_BY_TASK: Final[dict[str, tuple[str, ...]]] = {
    "binary_classification": CLASSIFICATION_METRICS,
    "multiclass_classification": CLASSIFICATION_METRICS,
    "regression": REGRESSION_METRICS,
    "ranking": RANKING_METRICS,
}
# The metrics each check can emit; an empty tuple means the check takes no `metric`.
METRICS: Final[dict[str, tuple[str, ...]]] = {
    "drift": (),
    "quality": (),
    "prediction_drift": (),
    "performance": CLASSIFICATION_METRICS + REGRESSION_METRICS + RANKING_METRICS,
    # Estimated from scores without labels (confidence-based, as NannyML's CBPE).
    "estimated_performance": ("accuracy", "precision", "recall", "f1", "roc_auc"),
    "latency": ("p50", "p95", "p99"),
    "throughput": ("per_second",),
    "errors": ("rate",),
}
# For a check with one obvious metric, `metric` may be left out.
DEFAULT_METRIC: Final[dict[str, str]] = {
    "latency": "p99",
    "throughput": "per_second",
    "errors": "rate",
}
LOWER_IS_BETTER: Final = frozenset(
    {"log_loss", "brier", "calibration_error", "mae", "rmse", "mape", "p50", "p95", "p99", "rate"}
)
AT_K_METRICS: Final = frozenset({"precision_at_k", "recall_at_k", "ndcg_at_k"})

# Drift methods and whether each is a p-value (worse when smaller) or a distance (worse
# when larger), by the column kinds it applies to. Mirrors mlpulse.core.drift.methods
# (a test keeps them equal) so that reading a config does not import numpy and scipy.
P_VALUE_METHODS: Final = frozenset(
    {"ks", "anderson_darling", "cramer_von_mises", "mann_whitney", "welch_t", "chi_square",
     "proportion_z", "fisher"}
)  # fmt: skip
NUMERIC_METHODS: Final = frozenset(
    {"ks", "wasserstein", "psi", "jensen_shannon", "hellinger", "kl_divergence",
     "anderson_darling", "cramer_von_mises", "mann_whitney", "welch_t"}
)  # fmt: skip
CATEGORICAL_METHODS: Final = frozenset(
    {"chi_square", "proportion_z", "fisher", "jensen_shannon", "psi", "hellinger",
     "total_variation"}
)  # fmt: skip
DRIFT_METHODS: Final = NUMERIC_METHODS | CATEGORICAL_METHODS
# Each method's default (warning, critical), the same for both column kinds.
DRIFT_THRESHOLDS: Final[dict[str, tuple[float, float]]] = {
    **dict.fromkeys(P_VALUE_METHODS, (0.05, 0.01)),
    **dict.fromkeys(("wasserstein", "jensen_shannon", "hellinger", "total_variation"), (0.1, 0.2)),
    **dict.fromkeys(("psi", "kl_divergence"), (0.1, 0.25)),
}


class PinnedWindow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A reference taken from the model's own traffic between ``start`` and ``end``."""

    start: AwareDatetime
    end: AwareDatetime


class ReferenceConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """The baseline: a CSV or Parquet ``file`` (training data) or a pinned ``window``.

    ``file`` is relative to the folder of the YAML file until loaded, absolute after.
    The ``*_column`` names apply to a file only; ``version`` says which model version the
    reference describes.
    """

    file: str | None = None
    window: PinnedWindow | None = None
    label_column: Name | None = None
    prediction_column: Name | None = None
    score_column: Name | None = None
    version: Name | None = None


class ModelConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """What the file declares about a model.

    ``task`` unset means unknown: monitors of the model are then not checked against it.
    ``positive_class`` applies to binary classification only (default ``"1"``).

    >>> ModelConfig(task="regression", schema={"zip": "categorical"}).schema
    {'zip': 'categorical'}
    """

    task: Task | None = None
    positive_class: Name | None = None
    schema: dict[Name, OverrideKind] = msgspec.field(default_factory=dict)
    segments: list[Name] = msgspec.field(default_factory=list)
    reference: ReferenceConfig | None = None


class ColumnConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Drift settings for one column; thresholds need a ``method`` to have a direction."""

    method: str | None = None
    warning: FiniteFloat | None = None
    critical: FiniteFloat | None = None


class MonitorConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A check on one model's windows, run every ``every`` over the last ``window``.

    ``version`` unset checks every version separately. Which of the other fields apply
    depends on ``check`` (see :data:`APPLIES_TO`). ``compare_to`` unset means the
    reference when the model has one, else the previous window. For drift, ``method``,
    ``warning`` and ``critical`` apply to every column and ``columns_config`` overrides
    them per column; unset, each column gets the method and thresholds its kind and
    sample size call for (:func:`mlpulse.core.drift.methods.choose_method`).

    >>> MonitorConfig(model="fraud", check="latency", metric="p99", warning=250.0).window
    '1h'
    """

    model: Name
    check: Check
    version: Name | None = None
    window: Duration = DEFAULT_WINDOW
    every: Duration = DEFAULT_EVERY
    compare_to: CompareTo | None = None
    columns: list[Name] | None = None
    method: str | None = None
    columns_config: dict[Name, ColumnConfig] = msgspec.field(default_factory=dict)
    metric: str | None = None
    warning: FiniteFloat | None = None
    critical: FiniteFloat | None = None
    direction: Direction | None = None
    segment_by: list[Name] = msgspec.field(default_factory=list)
    k: PositiveInt | None = None
    # warning and critical only grade the points (a badge, a colour); with page, a
    # critical point also fires the rule ``<monitor>-page`` (mlpulse.domain.paging_rules).
    page: bool = False


class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The whole document: models and monitors by name.

    >>> Config(version=1).monitors
    {}
    """

    version: Literal[1]
    models: dict[Name, ModelConfig] = msgspec.field(default_factory=dict)
    monitors: dict[Name, MonitorConfig] = msgspec.field(default_factory=dict)
    # Alerting (mlpulse.domain.rules): rules over the monitors' series, where their
    # notifications go, and who is paged when (schedules, escalation policies: read by
    # mlpulse.domain.schedules and mlpulse.domain.escalation).
    rules: dict[Name, RuleConfig] = msgspec.field(default_factory=dict)
    receivers: dict[Name, ReceiverConfig] = msgspec.field(default_factory=dict)
    route: RouteConfig | None = None
    inhibit_rules: list[InhibitRule] = msgspec.field(default_factory=list)
    schedules: dict[Name, Any] = msgspec.field(default_factory=dict)
    escalation_policies: dict[Name, Any] = msgspec.field(default_factory=dict)
    users: dict[Name, UserConfig] = msgspec.field(default_factory=dict)
    # Incident response (mlpulse.domain.incidents): automated actions for matching alerts.
    runbooks: dict[Name, RunbookConfig] = msgspec.field(default_factory=dict)
    # Service level objectives (mlpulse.domain.slos): error budgets and burn-rate alerts.
    slos: dict[Name, SloConfig] = msgspec.field(default_factory=dict)
    # Synthetic probes (mlpulse.domain.probes): HTTP checks of model endpoints.
    probes: dict[Name, ProbeConfig] = msgspec.field(default_factory=dict)


# The optional monitor fields each check reads; setting another is a problem.
APPLIES_TO: Final[dict[str, frozenset[str]]] = {
    "drift": frozenset(
        {"compare_to", "columns", "method", "columns_config", "warning", "critical"}
    ),
    "prediction_drift": frozenset({"compare_to", "method", "warning", "critical"}),
    "quality": frozenset({"compare_to", "columns"}),
    "performance": frozenset({"metric", "warning", "critical", "direction", "k"}),
    "estimated_performance": frozenset({"metric", "warning", "critical", "direction"}),
    "latency": frozenset({"metric", "warning", "critical", "direction"}),
    "throughput": frozenset({"metric", "warning", "critical", "direction"}),
    "errors": frozenset({"metric", "warning", "critical", "direction"}),
}


def default_direction(metric: str) -> Direction:
    """Which side of the thresholds is bad for ``metric`` when ``direction`` is unset.

    >>> default_direction("accuracy"), default_direction("p99"), default_direction("rate")
    ('below', 'above', 'above')
    """
    return "above" if metric in LOWER_IS_BETTER else "below"


def drift_direction(method: str) -> Direction:
    """A p-value is bad below its thresholds; a distance above them.

    >>> drift_direction("ks"), drift_direction("wasserstein")
    ('below', 'above')
    """
    return "below" if method in P_VALUE_METHODS else "above"
