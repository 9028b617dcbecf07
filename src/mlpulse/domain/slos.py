"""Service level objectives in ``mlpulse.yaml``: an objective over a ratio of good events.

::

    slos:
      fraud-availability:
        model: fraud
        objective: 0.999            # 99.9% of predictions good
        period: 30d                 # rolling 30d or 28d, or calendar_month
        sli: {kind: availability}   # good = a prediction without error
      fraud-latency:
        model: fraud
        objective: 0.99
        sli: {kind: latency, threshold_ms: 250}
      fraud-auc:
        model: fraud
        objective: 0.95
        sli: {kind: performance, metric: roc_auc, target: 0.8}

SLI kinds and what one good event is:

* ``availability`` — a prediction that did not fail (the minute profiles' error counts).
* ``latency`` — a prediction answered within ``threshold_ms`` (the minute latency
  sketches; the count under the threshold is exact for a minute of up to 200 latencies
  and within the sketch's rank error, 1.33% of the minute's count, above that).
* ``drift_free`` — a minute without a critical drift point of the model.
* ``performance`` — a ``mlpulse_performance`` point of ``metric`` that meets ``target``
  (at least it; at most it for a metric where lower is better, like ``mae``).

Alerts are the multi-window multi-burn-rate alerts of the SRE workbook (ch. 5): each
fires while the burn rate over both its ``long`` and its ``short`` window reaches
``burn_rate``. Left out, ``alerts`` are the workbook's: page on 1h/5m at 14.4× and 6h/30m
at 6×, ticket on 1d/2h at 3× and 3d/6h at 1×. With ``page: true`` (the default) each alert
derives a rule (:mod:`mlpulse.domain.slo_rules`), routed like any other.

A budget policy acts while the SLO's error budget is spent (remaining at most 0)::

    policy: {freeze_rollouts: true}

refuses what moves traffic onto a new version of the SLO's model: promotions, weight
increases of a version that is not the champion (rollout steps, bandits, routing
changes) and starting its experiments. Rollbacks and retirements stay allowed
(:mod:`mlpulse.services.budget_policy`).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Annotated, Final, Literal, TypeAlias, get_args

import msgspec

from mlpulse.domain.events import MAX_NAME_LENGTH, FiniteFloat, Name
from mlpulse.domain.window import parse_duration
from mlpulse.errors import ConfigProblem, InvalidInputError

__all__ = [
    "DEFAULT_ALERTS",
    "SLI_KINDS",
    "BurnAlertConfig",
    "SliConfig",
    "SloConfig",
    "SloPolicy",
    "period_bounds",
    "slo_problems",
]

SliKind: TypeAlias = Literal["availability", "latency", "drift_free", "performance"]
AlertSeverity: TypeAlias = Literal["page", "ticket"]
Duration = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
SLI_KINDS: Final[tuple[str, ...]] = get_args(SliKind)
CALENDAR_MONTH: Final = "calendar_month"
MAX_PERIOD_DAYS: Final = 90
# The metric names a performance SLI may use; kept here as text so the domain does not
# import the monitors module (which imports this one).
_SLI_FIELDS: Final[dict[str, frozenset[str]]] = {
    "availability": frozenset(),
    "latency": frozenset({"threshold_ms"}),
    "drift_free": frozenset(),
    "performance": frozenset({"metric", "target"}),
}


class SliConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """What a good event is (see the module docstring); fields by ``kind``."""

    kind: SliKind
    threshold_ms: FiniteFloat | None = None
    metric: str | None = None
    target: FiniteFloat | None = None


class BurnAlertConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Fires while the burn rate over ``long`` and over ``short`` both reach ``burn_rate``."""

    long: Duration
    short: Duration
    burn_rate: FiniteFloat
    severity: AlertSeverity = "page"


class SloPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """What mlpulse does while the SLO's error budget is spent (remaining at most 0).

    ``freeze_rollouts``: refuse promotions, weight increases of a version that is not the
    champion and experiment starts of the SLO's model; rollbacks stay allowed.
    """

    freeze_rollouts: bool = False


DEFAULT_ALERTS: Final = (
    BurnAlertConfig(long="1h", short="5m", burn_rate=14.4, severity="page"),
    BurnAlertConfig(long="6h", short="30m", burn_rate=6.0, severity="page"),
    BurnAlertConfig(long="1d", short="2h", burn_rate=3.0, severity="ticket"),
    BurnAlertConfig(long="3d", short="6h", burn_rate=1.0, severity="ticket"),
)


class SloConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """An objective (0 < objective < 1) for one model's SLI over a period.

    ``version`` unset counts every version of the model. ``alerts`` unset means
    :data:`DEFAULT_ALERTS`; ``page: false`` keeps the series but derives no rules.

    >>> SloConfig(model="fraud", objective=0.999, sli=SliConfig(kind="availability")).period
    '30d'
    """

    model: Name
    objective: FiniteFloat
    sli: SliConfig
    version: Name | None = None
    period: Duration = "30d"
    alerts: list[BurnAlertConfig] | None = None
    page: bool = True
    policy: SloPolicy | None = None

    @property
    def freezes_rollouts(self) -> bool:
        """Whether a spent budget freezes the model's rollouts (``policy.freeze_rollouts``)."""
        return self.policy is not None and self.policy.freeze_rollouts

    @property
    def burn_alerts(self) -> tuple[BurnAlertConfig, ...]:
        return DEFAULT_ALERTS if self.alerts is None else tuple(self.alerts)


def period_bounds(period: str, now: float) -> tuple[float, float]:
    """The [start, end) of the period that holds ``now`` (epoch seconds).

    A rolling period ends at ``now``; a calendar month is the UTC month of ``now``.

    >>> period_bounds("30d", 86400.0 * 40)
    (864000.0, 3456000.0)
    >>> start, end = period_bounds("calendar_month", 86400.0 * 40)  # 1970-02-10
    >>> dt.datetime.fromtimestamp(start, dt.UTC).date(), (end - start) / 86400
    (datetime.date(1970, 2, 1), 28.0)
    """
    if period != CALENDAR_MONTH:
        return now - parse_duration(period, field="period"), now
    day = dt.datetime.fromtimestamp(now, dt.UTC)
    first = day.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = calendar.monthrange(first.year, first.month)[1]
    return first.timestamp(), first.timestamp() + days * 86400.0


def _minutes(path: str, text: str) -> Iterator[ConfigProblem]:
    field = path.rsplit(".", 1)[-1]
    try:
        seconds = parse_duration(text, field=field)
    except InvalidInputError as exc:
        yield ConfigProblem(path, exc.message.removeprefix(f"{field} "))
        return
    if seconds % 60:
        yield ConfigProblem(path, f"must be a whole number of minutes; got {text!r}")


def slo_problems(
    slos: Mapping[str, SloConfig], *, performance_metrics: tuple[str, ...]
) -> Iterator[ConfigProblem]:
    """What cannot work in ``slos``, each problem with its dotted path.

    >>> slo = SloConfig(model="m", objective=1.0, period="2w",
    ...                 sli=SliConfig(kind="latency", target=0.5))
    >>> for p in slo_problems({"s": slo}, performance_metrics=("mae",)): print(p)
    slos.s.objective: must be between 0 and 1 (exclusive), like 0.999; got 1.0
    slos.s.period: must be a whole number of days like 30d or 28d, or calendar_month; got '2w'
    slos.s.sli.target: does not apply to a latency SLI; it applies to performance
    slos.s.sli.threshold_ms: a latency SLI needs threshold_ms, a good prediction's latency at most
    """
    for name, slo in slos.items():
        path = f"slos.{name}"
        if not 0.0 < slo.objective < 1.0:
            yield ConfigProblem(
                f"{path}.objective",
                f"must be between 0 and 1 (exclusive), like 0.999; got {slo.objective}",
            )
        yield from _period(f"{path}.period", slo.period)
        yield from _sli(f"{path}.sli", slo.sli, performance_metrics)
        if slo.alerts is not None and not slo.alerts:
            yield ConfigProblem(
                f"{path}.alerts", "must list an alert; leave it out for the defaults"
            )
        seen: set[tuple[str, str]] = set()
        for i, alert in enumerate(slo.alerts or ()):
            yield from _alert(f"{path}.alerts[{i}]", alert)
            if (alert.long, alert.short) in seen:
                yield ConfigProblem(
                    f"{path}.alerts[{i}]",
                    f"another alert has the windows {alert.long}/{alert.short}; "
                    f"one rule per pair of windows",
                )
            seen.add((alert.long, alert.short))
        longest = max(len(f"{name}-burn-{a.long}-{a.short}") for a in slo.burn_alerts)
        if slo.page and longest > MAX_NAME_LENGTH:
            yield ConfigProblem(
                path,
                f"the name is too long for the rules its alerts write "
                f"(<name>-burn-<long>-<short>, at most {MAX_NAME_LENGTH} characters)",
            )


def _period(path: str, period: str) -> Iterator[ConfigProblem]:
    if period == CALENDAR_MONTH:
        return
    days = period[:-1]
    if not (period.endswith("d") and days.isdigit() and 1 <= int(days) <= MAX_PERIOD_DAYS):
        yield ConfigProblem(
            path,
            f"must be a whole number of days like 30d or 28d, or {CALENDAR_MONTH}; got {period!r}",
        )


def _sli(path: str, sli: SliConfig, metrics: tuple[str, ...]) -> Iterator[ConfigProblem]:
    for field in ("threshold_ms", "metric", "target"):
        if getattr(sli, field) is not None and field not in _SLI_FIELDS[sli.kind]:
            where = ", ".join(k for k, fields in _SLI_FIELDS.items() if field in fields)
            yield ConfigProblem(
                f"{path}.{field}", f"does not apply to a {sli.kind} SLI; it applies to {where}"
            )
    if sli.kind == "latency":
        if sli.threshold_ms is None:
            yield ConfigProblem(
                f"{path}.threshold_ms",
                "a latency SLI needs threshold_ms, a good prediction's latency at most",
            )
        elif sli.threshold_ms <= 0:
            yield ConfigProblem(f"{path}.threshold_ms", f"must be above 0; got {sli.threshold_ms}")
    if sli.kind == "performance":
        if sli.metric is None:
            yield ConfigProblem(f"{path}.metric", f"a performance SLI needs a metric: one of "
                                f"{', '.join(metrics)}")  # fmt: skip
        elif sli.metric not in metrics:
            yield ConfigProblem(
                f"{path}.metric", f"{sli.metric!r} is not a performance metric; one of "
                f"{', '.join(metrics)}",
            )  # fmt: skip
        if sli.target is None:
            yield ConfigProblem(
                f"{path}.target", "a performance SLI needs the target a window meets"
            )


def _alert(path: str, alert: BurnAlertConfig) -> Iterator[ConfigProblem]:
    long = list(_minutes(f"{path}.long", alert.long))
    short = list(_minutes(f"{path}.short", alert.short))
    yield from long
    yield from short
    if not long and not short and parse_duration(alert.short) >= parse_duration(alert.long):
        yield ConfigProblem(
            f"{path}.short", f"must be shorter than long ({alert.long}); got {alert.short!r}"
        )
    if alert.burn_rate <= 0:
        yield ConfigProblem(f"{path}.burn_rate", f"must be above 0; got {alert.burn_rate}")
