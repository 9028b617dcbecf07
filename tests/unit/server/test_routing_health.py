"""Version health for the routing table: firing critical alerts of a version, read from
the alert engine at most once per ``max_age`` whatever the number of readers."""

from __future__ import annotations

from mlpulse.domain.alerts import Alert, AlertState, Severity, fingerprint
from mlpulse.domain.registry import RoutingEntry, RoutingTable, VersionHealth, health_tag
from mlpulse.server.routing_health import RoutingHealth, unhealthy_versions


def alert(
    rule: str,
    *,
    model: str = "recs",
    version: str | None = "v1",
    severity: Severity = Severity.CRITICAL,
    state: AlertState = AlertState.FIRING,
) -> Alert:
    labels = {"model": model} | ({} if version is None else {"version": version})
    return Alert(
        fingerprint=fingerprint(rule, labels), rule=rule, severity=severity, state=state,
        labels=labels, annotations={}, value=1.0, active_since=0.0,
    )  # fmt: skip


TABLE = RoutingTable(
    "recs", 7, [RoutingEntry("v1", "champion", 90), RoutingEntry("v2", "challenger", 10)], 0.0,
    "v1",
)  # fmt: skip


def test_unhealthy_versions_count_only_firing_critical_alerts_of_a_version() -> None:
    alerts = [
        alert("errors"),
        alert("latency"),
        alert("errors", version="v2", severity=Severity.WARNING),
        alert("drift", version="v2", state=AlertState.PENDING),
        alert("gone", version="v2", state=AlertState.RESOLVED),
        alert("model-wide", version=None),
        alert("errors", model="fraud", version="v2"),
    ]
    assert unhealthy_versions(alerts) == {
        ("recs", "v1"): ["errors", "latency"],
        ("fraud", "v2"): ["errors"],
    }


def test_routing_health_gives_every_version_of_the_table_its_health() -> None:
    health = RoutingHealth(lambda: [alert("errors"), alert("errors", model="fraud", version="v2")])
    table = health.attach(TABLE)
    assert table.health == {
        "v1": VersionHealth(healthy=False, alerts=["errors"]),
        "v2": VersionHealth(healthy=True, alerts=[]),
    }


def test_routing_health_without_an_alert_engine_holds_every_version_healthy() -> None:
    table = RoutingHealth(None).attach(TABLE)
    assert all(h.healthy for h in table.health.values()) and set(table.health) == {"v1", "v2"}


def test_routing_health_reads_the_engine_at_most_once_per_max_age() -> None:
    now = [0.0]
    firing: list[Alert] = []
    reads = []

    def alerts() -> list[Alert]:
        reads.append(now[0])
        return list(firing)

    health = RoutingHealth(alerts, max_age=0.5, clock=lambda: now[0])
    for _ in range(100):
        assert health.attach(TABLE).health["v1"].healthy
    firing.append(alert("errors"))
    now[0] = 0.4
    assert health.attach(TABLE).health["v1"].healthy  # the cached reading
    now[0] = 0.5
    assert not health.attach(TABLE).health["v1"].healthy
    assert reads == [0.0, 0.5]


def test_routing_health_reads_afresh_when_asked_with_max_age_zero() -> None:
    firing: list[Alert] = []
    health = RoutingHealth(lambda: list(firing), max_age=60.0, clock=lambda: 0.0)
    assert health.attach(TABLE).health["v1"].healthy
    firing.append(alert("errors"))
    assert health.attach(TABLE).health["v1"].healthy  # the shared reading, a minute old at most
    assert not health.attach(TABLE, max_age=0.0).health["v1"].healthy


def test_health_tag_changes_with_health_and_not_otherwise() -> None:
    health = RoutingHealth(lambda: [])
    healthy = health.attach(TABLE)
    assert health_tag(healthy) == '"7"'  # as before health existed, while all are healthy
    sick = RoutingHealth(lambda: [alert("errors")]).attach(TABLE)
    sicker = RoutingHealth(lambda: [alert("errors"), alert("latency")]).attach(TABLE)
    assert len({health_tag(healthy), health_tag(sick), health_tag(sicker)}) == 3
    assert health_tag(sick).startswith('"7-')
