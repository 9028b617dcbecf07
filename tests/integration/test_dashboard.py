"""The web dashboard over HTTP: login and sessions, every page with seeded data, the
charts' JSON against what was seeded, CSRF and scope checks on actions.

The collector is served by uvicorn in a thread of the test process (so the test holds
its app and can fix its clock), with real stores in a temporary data directory; the data
is written through the stores' and services' own methods, and read back over HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from scipy import stats

from mlpulse.demo.collector_thread import CollectorThread
from mlpulse.domain.alerts import Alert, AlertState, Severity
from mlpulse.domain.auth import Scope
from mlpulse.domain.experiments import ExperimentSpec, MetricSpec
from mlpulse.domain.schema import ColumnKind
from mlpulse.domain.series import MetricPoint
from mlpulse.server.dashboard.model_health import model_health
from mlpulse.server.settings import Settings

NOW = 1_767_225_600.0  # 2026-01-01 00:00 UTC
MINUTE = 60.0
HOUR = 3600.0
MODEL = "fraud"
FINGERPRINT_LABELS = {"model": MODEL, "alertname": "high_error_rate"}


class FixedClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


@dataclass
class Dashboard:
    client: httpx.Client
    app: Any
    keys: dict[str, str]
    alert: Alert
    incident_id: str
    promoted_at: float

    def login(self, scope: str = "read") -> None:
        token = csrf_of(self.client.get("/login").text)
        response = self.client.post(
            "/login", data={"api_key": self.keys[scope], "csrf_token": token, "next": "/"}
        )
        assert response.status_code == 303, response.text

    def page_csrf(self) -> str:
        html = self.client.get("/alerts").text
        found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
        assert found
        return found.group(1)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _points(now: float) -> list[MetricPoint]:
    """Three hours of minute points of two versions, drift, quality, performance and two
    segments; value formulas the tests below check the charts against."""
    points = []
    base = {"model": MODEL, "monitor": "m"}
    for i in range(180):
        ts = now - (180 - i) * MINUTE
        for version, rps, errors in (("v1", 10.0, 0.01), ("v2", 2.0, 0.05)):
            labels = {**base, "version": version}
            points += [
                MetricPoint(ts, "mlpulse_throughput_per_second", labels, rps),
                MetricPoint(ts, "mlpulse_error_rate", labels, errors, "ok"),
            ]
            for quantile, ms in (("p50", 10.0), ("p95", 30.0), ("p99", 50.0 + i % 2)):
                points.append(
                    MetricPoint(
                        ts, "mlpulse_latency_seconds", {**labels, "percentile": quantile}, ms / 1000
                    )
                )
        v1 = {**base, "version": "v1"}
        points += [
            # drift severities: 1 = the column's warning threshold, 2 = its critical one
            MetricPoint(
                ts,
                "mlpulse_drift_score",
                {**v1, "column": "amount", "method": "psi"},
                2.5,
                "critical",
            ),
            MetricPoint(
                ts, "mlpulse_drift_score", {**v1, "column": "age", "method": "ks"}, 0.4, "ok"
            ),
            MetricPoint(ts, "mlpulse_drift_share", v1, 0.5, "critical"),
            MetricPoint(ts, "mlpulse_missing_rate", {**v1, "column": "amount"}, 0.12, "warning"),
            MetricPoint(ts, "mlpulse_label_coverage", v1, 0.4),
            MetricPoint(ts, "mlpulse_performance", {**v1, "metric": "auc"}, 0.8),
            MetricPoint(ts, "mlpulse_estimated_performance", {**v1, "metric": "auc"}, 0.78),
            MetricPoint(ts, "mlpulse_error_rate", {**v1, "country": "DE"}, 0.2, "critical"),
            MetricPoint(ts, "mlpulse_error_rate", {**v1, "country": "FR"}, 0.01, "ok"),
        ]
    return points


# Revenue per hour over the last 6 hours, and p99 latency that moves with it.
REVENUE = [100.0, 80.0, 120.0, 60.0, 140.0, 90.0]


def _seed(app: Any, clock: FixedClock) -> tuple[Alert, str, float]:
    state = app.state
    state.metadata.upsert_models(
        {(MODEL, "v1"): {"amount": ColumnKind.NUMERIC}, (MODEL, "v2"): {}}, now=NOW - 6 * HOUR
    )
    state.series.append_points(_points(NOW))
    registry = state.registry
    clock.t = NOW - 5 * HOUR
    registry.register(MODEL, "v1", "s3://models/fraud/v1", actor="ci")
    registry.register(MODEL, "v2", "s3://models/fraud/v2", actor="ci")
    clock.t = promoted_at = NOW - HOUR
    registry.promote(MODEL, "v2", actor="alice", reason="better auc")
    clock.t = NOW
    alert = Alert(
        fingerprint="fp-high-errors",
        rule="alertmanager:high_error_rate",
        severity=Severity.CRITICAL,
        state=AlertState.FIRING,
        labels=FINGERPRINT_LABELS,
        annotations={"summary": "error rate above 5%"},
        value=0.2,
        active_since=NOW - 30 * MINUTE,
        starts_at=NOW - 25 * MINUTE,
        updated_at=NOW - 25 * MINUTE,
    )
    state.alerts.external([alert])
    state.incidents.on_alerts([alert], NOW - 20 * MINUTE)
    incident_id = state.incidents.incidents(model=MODEL)[0].id
    # Hourly p99 for the business view (on top of the minute points above, 6 h back).
    for h, revenue in enumerate(REVENUE):
        hour = NOW - (6 - h) * HOUR
        state.series.append_points(
            [
                MetricPoint(
                    hour + 5 * MINUTE,
                    "mlpulse_latency_seconds",
                    {"model": MODEL, "monitor": "b", "version": "v1", "percentile": "p99"},
                    (200.0 - revenue) / 1000,
                )
            ]
        )
    spec = ExperimentSpec(
        name="new-ranker",
        model=MODEL,
        variants={"control": "v1", "treatment": "v2"},
        allocation={"control": 1.0, "treatment": 1.0},
        control="control",
        primary=MetricSpec(name="purchase"),
        method="sequential",
        exposure="exposure",
    )
    clock.t = NOW - 3 * HOUR
    state.experiments.create(spec)
    state.experiments.start("new-ranker")
    clock.t = NOW
    return alert, incident_id, promoted_at


def _ingest_outcomes(client: httpx.Client, ingest_key: str) -> None:
    events: list[dict[str, Any]] = []
    for h, revenue in enumerate(REVENUE):
        hour = NOW - (6 - h) * HOUR
        events += [
            {"kind": "outcome", "name": "revenue", "value": revenue / 2, "model": MODEL,
             "timestamp": hour + 10 * MINUTE},
            {"kind": "outcome", "name": "revenue", "value": revenue / 2, "model": MODEL,
             "timestamp": hour + 40 * MINUTE},
        ]  # fmt: skip
    for unit in range(200):
        events.append(
            {
                "kind": "outcome",
                "name": "exposure",
                "model": MODEL,
                "unit_id": f"u{unit}",
                "timestamp": NOW - 2.5 * HOUR + unit,
            }
        )
        if unit % 3 == 0:
            events.append(
                {
                    "kind": "outcome",
                    "name": "purchase",
                    "model": MODEL,
                    "unit_id": f"u{unit}",
                    "timestamp": NOW - 2 * HOUR + unit,
                }
            )
    # Predictions: six of fraud in the last five minutes (0.02/s), one of "quiet" seven
    # minutes ago (0/s now, whatever its throughput monitor said last).
    for i in range(6):
        events.append(
            {"kind": "prediction", "model": MODEL, "version": "v1", "request_id": f"p{i}",
             "features": {"amount": 1.0}, "timestamp": NOW - 120 - i}
        )  # fmt: skip
    events.append(
        {"kind": "prediction", "model": "quiet", "version": "v1", "request_id": "q1",
         "features": {"amount": 1.0}, "timestamp": NOW - 7 * MINUTE}
    )  # fmt: skip
    response = client.post(
        "/v1/ingest",
        json={"events": events},
        headers={"Authorization": f"Bearer {ingest_key}"},
    )
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    data_dir: Path = tmp_path_factory.mktemp("dashboard")
    clock = FixedClock(NOW)
    settings = Settings(data_dir=data_dir, port=0, key_cache_seconds=0.0)
    thread = CollectorThread(settings, clock=clock)
    app = thread.app
    with thread as url, httpx.Client(base_url=url, follow_redirects=False) as client:
        keys = {
            scope.value: app.state.metadata.create_key([scope], name=scope.value, now=NOW)[1]
            for scope in (Scope.ADMIN, Scope.READ, Scope.INGEST)
        }
        alert, incident_id, promoted_at = _seed(app, clock)
        _ingest_outcomes(client, keys["ingest"])
        yield Dashboard(client, app, keys, alert, incident_id, promoted_at)


@pytest.fixture
def reader(dashboard: Dashboard) -> Iterator[Dashboard]:
    dashboard.client.cookies.clear()
    dashboard.login("read")
    yield dashboard
    dashboard.client.cookies.clear()


@pytest.fixture
def admin(dashboard: Dashboard) -> Iterator[Dashboard]:
    dashboard.client.cookies.clear()
    dashboard.login("admin")
    yield dashboard
    dashboard.client.cookies.clear()


# -- login and sessions ---------------------------------------------------------------


def test_login_form_has_the_fields_the_browser_tests_use(dashboard: Dashboard) -> None:
    dashboard.client.cookies.clear()
    html = dashboard.client.get("/login").text

    assert '<form method="post" action="/login">' in html
    assert re.search(r'<input name="api_key" type="password"', html)
    assert 'name="csrf_token"' in html and '<button type="submit">' in html


def test_login_with_a_read_key_redirects_to_next_and_sets_a_strict_httponly_cookie(
    dashboard: Dashboard,
) -> None:
    client = dashboard.client
    client.cookies.clear()
    token = csrf_of(client.get("/login").text)

    response = client.post(
        "/login",
        data={"api_key": dashboard.keys["read"], "csrf_token": token, "next": "/alerts"},
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/alerts"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("mlpulse_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=" in cookie
    assert client.get("/alerts").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_login_never_redirects_off_site(dashboard: Dashboard, target: str) -> None:
    client = dashboard.client
    client.cookies.clear()
    token = csrf_of(client.get("/login").text)

    response = client.post(
        "/login", data={"api_key": dashboard.keys["read"], "csrf_token": token, "next": target}
    )

    assert response.headers["location"] == "/"


def test_login_with_a_bad_key_answers_401_with_an_error(dashboard: Dashboard) -> None:
    client = dashboard.client
    client.cookies.clear()
    token = csrf_of(client.get("/login").text)

    response = client.post("/login", data={"api_key": "mlp_nope", "csrf_token": token})

    assert response.status_code == 401
    assert re.search(r'class="error"[^>]*>That API key is invalid', response.text)
    assert "mlpulse_session" not in response.headers.get("set-cookie", "")


def test_login_with_an_ingest_key_is_refused(dashboard: Dashboard) -> None:
    client = dashboard.client
    client.cookies.clear()
    token = csrf_of(client.get("/login").text)

    response = client.post(
        "/login", data={"api_key": dashboard.keys["ingest"], "csrf_token": token}
    )

    assert response.status_code == 403
    assert 'class="error"' in response.text


def test_login_without_the_form_csrf_token_is_refused(dashboard: Dashboard) -> None:
    client = dashboard.client
    client.cookies.clear()
    client.get("/login")

    response = client.post("/login", data={"api_key": dashboard.keys["read"], "csrf_token": "x"})

    assert response.status_code == 403


@pytest.mark.parametrize(
    "path",
    ["/", f"/models/{MODEL}", "/alerts", "/incidents", "/incidents/x", "/experiments",
     "/experiments/new-ranker", "/business?range=7d"],
)  # fmt: skip
def test_page_without_a_session_redirects_to_login_with_next(
    dashboard: Dashboard, path: str
) -> None:
    dashboard.client.cookies.clear()

    response = dashboard.client.get(path)

    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/login?next=")
    assert dashboard.client.get(location).status_code == 200


@pytest.mark.parametrize(
    "path",
    [f"/ui/data/models/{MODEL}/traffic", "/ui/data/experiments/new-ranker/estimates",
     f"/ui/data/business/kpis?model={MODEL}", "/ui/partials/models"],
)  # fmt: skip
def test_data_endpoint_without_a_session_answers_401(dashboard: Dashboard, path: str) -> None:
    dashboard.client.cookies.clear()

    assert dashboard.client.get(path).status_code == 401


def test_tampered_session_cookie_is_refused(reader: Dashboard) -> None:
    client = reader.client
    value = client.cookies["mlpulse_session"]
    client.cookies.clear()
    client.cookies.set("mlpulse_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))

    assert client.get("/").status_code == 303


def test_session_ends_when_its_key_is_revoked(dashboard: Dashboard) -> None:
    client = dashboard.client
    client.cookies.clear()
    key, token = dashboard.app.state.metadata.create_key([Scope.READ], name="temp", now=NOW)
    login = csrf_of(client.get("/login").text)
    client.post("/login", data={"api_key": token, "csrf_token": login})
    assert client.get("/").status_code == 200

    dashboard.app.state.metadata.revoke_key(key.key_id, now=NOW)

    assert client.get("/").status_code == 303


def test_logout_ends_the_session(reader: Dashboard) -> None:
    client = reader.client
    token = reader.page_csrf()

    response = client.post("/logout", data={"csrf_token": token})

    assert response.status_code == 303
    assert client.get("/").status_code == 303


def test_signing_secret_is_kept_in_the_data_dir(reader: Dashboard) -> None:
    secret = reader.app.state.settings.data_dir / "dashboard.secret"

    assert secret.stat().st_mode & 0o777 == 0o600
    assert len(secret.read_bytes()) >= 32


# -- pages --------------------------------------------------------------------------------


def test_overview_shows_each_model_with_its_health(reader: Dashboard) -> None:
    html = reader.client.get("/").text

    row = re.search(rf'<tr data-model="{MODEL}">(.*?)</tr>', html, re.S)
    assert 'id="models"' in html and row
    cells = row.group(1)
    assert "critical" in cells  # a critical drift point and a firing critical alert
    # predictions/s over the last five minutes, counted from the events: 6 / 300 s
    assert re.search(r'class="num traffic">0.02<', cells)
    assert "Predictions/s (last 5 min)" in html
    # ... and 0 for a model whose last prediction came seven minutes ago
    quiet = re.search(r'<tr data-model="quiet">(.*?)</tr>', html, re.S)
    assert quiet and re.search(r'class="num traffic">0<', quiet.group(1))
    assert re.search(r'class="spark"><span class="hint no-data">no data yet<', quiet.group(1))
    assert re.search(r'class="num p99">51<', cells)  # the newest p99 of v1
    assert "amount (2.5)" in cells  # the highest drift severity
    assert re.search(r'class="num alerts"><a href="/alerts">1<', cells)
    assert re.search(r'class="num incidents"><a href="/incidents">1<', cells)
    # the traffic of the last day as an inline SVG, the status with what it is based on
    # (the sparkline is the throughput monitor's: 10/s of v1 and 2/s of v2)
    assert re.search(r'<td class="spark"><svg class="sparkline"[^>]*><title>[^<]*newest 12<', cells)
    assert re.search(r'<span class="badge critical" title="Worst of [^"]*v1, v2', cells)
    for nav in ("overview", "alerts", "incidents", "experiments", "slos", "business"):
        assert f'data-nav="{nav}"' in html


def _point(ago: float, version: str, value: float, status: str, **extra: str) -> MetricPoint:
    labels = {"model": "recs", "version": version, "monitor": "recs-errors", **extra}
    return MetricPoint(NOW - ago, "mlpulse_error_rate", labels, value, status)


def test_model_status_comes_from_the_live_versions_only() -> None:
    live = _point(MINUTE, "v3", 0.01, "ok")
    stale = _point(5 * HOUR, "v1", 0.3, "critical")  # no point for five hours
    archived = _point(MINUTE, "v2", 0.4, "critical")  # fresh, but archived in the registry

    health = model_health("recs", [live, stale, archived], [], [], now=NOW, archived={"v2"})

    assert health.status == "ok" and health.error_rate == 0.01
    assert health.last_point_at == NOW - MINUTE
    assert "(v3;" in health.basis
    assert "v2 (archived in the registry)" in health.basis
    assert "v1 (no point in the last 2 h)" in health.basis
    # without the registry's word, the fresh critical point of v2 counts
    assert model_health("recs", [live, stale, archived], [], [], now=NOW).status == "critical"
    # a monitor that runs daily keeps its verdict for two of its runs
    daily = _point(5 * HOUR, "v3", 0.3, "critical", monitor="recs-daily")
    assert model_health("recs", [live, daily], [], [], now=NOW).status == "ok"
    slow = model_health("recs", [live, daily], [], [], now=NOW, every={"recs-daily": 86400.0})
    assert slow.status == "critical"
    # points, but none live: stale, not ok
    assert model_health("recs", [stale], [], [], now=NOW).status == "stale"
    assert model_health("recs", [], [], [], now=NOW).status == "no data"


def test_model_page_has_every_chart_and_the_tables(reader: Dashboard) -> None:
    response = reader.client.get(f"/models/{MODEL}?range=6h")

    html = response.text
    assert response.status_code == 200
    for chart in ("traffic", "latency", "errors", "drift-heatmap", "performance", "label-coverage"):
        assert re.search(
            rf'data-chart="{chart}" data-src="/ui/data/models/{MODEL}/{chart}\?range=6h"', html
        )
    assert re.search(r'<option value="6h" selected>', html)
    # versions with their routing weights after the promotion
    assert re.search(r'data-version="v2">.*?champion.*?class="num weight">100%', html, re.S)
    assert re.search(r'data-version="v1">.*?challenger.*?class="num weight">0%', html, re.S)
    # segments, worst first
    assert html.index('data-segment="country=DE"') < html.index('data-segment="country=FR"')
    assert re.search(r'data-column="amount">.*?warning.*?12%', html, re.S)
    assert "promote" in html  # the deployment in range
    # ... with the model's traffic before and after it (none was logged here)
    assert re.search(r'data-kind="promote">.*?class="num impact-errors"[^>]*>— → —<', html, re.S)


def test_model_page_of_a_name_with_a_slash_links_and_answers(reader: Dashboard) -> None:
    sent = reader.client.post(
        "/v1/ingest",
        json={"events": [{"kind": "prediction", "model": "team/fraud", "version": "v1",
                          "request_id": "slash-1", "features": {"amount": 1.0}}]},
        headers={"Authorization": f"Bearer {reader.keys['ingest']}"},
    )  # fmt: skip
    assert sent.status_code == 200, sent.text
    overview = reader.client.get("/ui/partials/models").text
    assert 'href="/models/team/fraud"' in overview
    page = reader.client.get("/models/team/fraud")
    assert page.status_code == 200
    assert 'data-src="/ui/data/models/team/fraud/traffic' in page.text
    assert reader.client.get("/ui/data/models/team/fraud/traffic").status_code == 200
    assert reader.client.get("/models/team%2Ffraud").status_code == 200


def test_page_has_a_content_security_policy_without_inline_scripts(reader: Dashboard) -> None:
    response = reader.client.get(f"/models/{MODEL}")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text)


@pytest.mark.parametrize("path", ["/models/nope", "/incidents/nope", "/experiments/nope"])
def test_unknown_thing_is_a_404_page(reader: Dashboard, path: str) -> None:
    response = reader.client.get(path)

    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]


def test_incident_page_shows_timeline_and_postmortem(reader: Dashboard) -> None:
    listing = reader.client.get("/incidents").text
    assert f'data-incident="{reader.incident_id}"' in listing

    html = reader.client.get(f"/incidents/{reader.incident_id}").text

    assert 'id="timeline"' in html and "incident opened" in html
    assert "promote" in html  # the deployment an hour before, from the post-mortem draft
    assert "# Post-mortem:" in html


def test_experiment_pages_show_the_verdict_and_charts(reader: Dashboard) -> None:
    assert 'data-experiment="new-ranker"' in reader.client.get("/experiments").text

    html = reader.client.get("/experiments/new-ranker").text

    assert 'data-chart="estimates"' in html and 'data-chart="sequential"' in html
    results = reader.app.state.experiments.results("new-ranker")
    assert results.units == 200
    assert f"{results.units}</strong>" in html


# -- charts' JSON against the seeded data -----------------------------------------------


def _chart(client: httpx.Client, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_traffic_chart_is_bucketed_per_version_with_the_deployment_marker(
    reader: Dashboard,
) -> None:
    body = _chart(reader.client, f"/ui/data/models/{MODEL}/traffic?range=6h")

    series = {s["name"]: s["data"] for s in body["series"]}
    assert set(series) == {"v1", "v2"}
    assert {v for _, v in series["v1"]} == {10.0}
    assert {v for _, v in series["v2"]} == {2.0}
    assert len(series["v1"]) == 90  # 180 minutes in 2-minute buckets
    assert body["points"] == sum(len(d) for d in series.values())
    assert body["markers"] == [{"at": round(reader.promoted_at * 1000), "label": "promote v2"}]


def test_latency_chart_draws_each_quantile_with_the_bucket_max(reader: Dashboard) -> None:
    body = _chart(reader.client, f"/ui/data/models/{MODEL}/latency?range=1h")

    series = {s["name"]: s["data"] for s in body["series"]}
    assert {"v1 p50", "v1 p95", "v1 p99", "v2 p99"} <= set(series)
    assert {v for _, v in series["v1 p50"]} == {10.0 / 1000}  # seconds
    assert {v for _, v in series["v2 p99"]} <= {50.0 / 1000, 51.0 / 1000}
    # p99 shows; p50 and p95 start switched off in the legend
    assert set(body["hidden"]) == {"v1 p50", "v1 p95", "v2 p50", "v2 p95"}
    assert body["color_of"]["v1 p50"] == body["color_of"]["v1 p99"] == "v1"


def test_drift_heatmap_has_a_row_per_feature_worst_first_with_its_method(
    reader: Dashboard,
) -> None:
    body = _chart(reader.client, f"/ui/data/models/{MODEL}/drift-heatmap?range=6h")

    assert body["kind"] == "heatmap"
    assert body["y"] == ["amount", "age"]  # the highest severity first, not alphabetical
    assert body["methods"] == ["psi", "ks"]
    assert body["unit"] == "drift severity"
    assert body["legend"] == "drift severity: 1 = warning threshold, 2 = critical"
    assert {c[2] for c in body["cells"] if c[1] == 0} == {2.5}
    assert body["points"] == 2 * 90  # two rows of 180 minutes in 2-minute buckets
    # each cell spans its bucket (minute points: the cadence is the bucket) on the time axis
    assert {c[3] - c[0] for c in body["cells"]} == {120_000}
    assert all(body["x_range"][0] <= c[0] < c[3] <= body["x_range"][1] + 120_000
               for c in body["cells"])  # fmt: skip


def test_every_chart_of_the_model_page_spans_the_selected_range(reader: Dashboard) -> None:
    for chart in ("traffic", "latency", "errors", "drift-heatmap", "performance",
                  "label-coverage"):  # fmt: skip
        body = _chart(reader.client, f"/ui/data/models/{MODEL}/{chart}?range=1h")
        assert body["x_range"] == [round((NOW - HOUR) * 1000), round(NOW * 1000)], chart
        # the page names its moment, so that all its charts end together; never the future
        at = _chart(reader.client, f"/ui/data/models/{MODEL}/{chart}?range=1h&end={NOW - 1.5}")
        assert at["x_range"] == [round((NOW - HOUR - 1.5) * 1000), round((NOW - 1.5) * 1000)]
        later = _chart(reader.client, f"/ui/data/models/{MODEL}/{chart}?range=1h&end={NOW + 60}")
        assert later["x_range"] == body["x_range"]


def test_performance_point_of_a_daily_window_is_dated_at_the_first_event(
    reader: Dashboard,
) -> None:
    """A 1-day window's point is dated at the window's start (midnight): the window the
    version began in shows its point at the first event, never before the version
    existed; a window wholly before (events sent late) keeps its date."""
    midnight = NOW - 86400.0  # NOW is a midnight: the day before it, which ends at NOW
    labels = {"model": "daily", "version": "v1", "monitor": "perf", "metric": "auc",
              "window": "1d"}  # fmt: skip
    state = reader.app.state
    state.metadata.upsert_models({("daily", "v1"): {}}, now=NOW - 3 * HOUR)
    state.series.append_points(
        [
            MetricPoint(midnight - 86400.0, "mlpulse_performance", labels, 0.85, "ok"),
            MetricPoint(midnight, "mlpulse_performance", labels, 0.9, "ok"),
        ]
    )

    body = _chart(reader.client, "/ui/data/models/daily/performance?range=7d")

    (series,) = body["series"]
    (info,) = [m for m in state.metadata.list_models() if m.model == "daily"]
    (version,) = info.versions
    assert midnight < version.first_seen < NOW
    assert series["data"] == [
        [round((midnight - 86400.0) * 1000), 0.85],
        [round(version.first_seen * 1000), 0.9],
    ]


def test_performance_chart_has_realised_and_estimated_and_coverage_its_own(
    reader: Dashboard,
) -> None:
    body = _chart(reader.client, f"/ui/data/models/{MODEL}/performance?range=6h")
    coverage = _chart(reader.client, f"/ui/data/models/{MODEL}/label-coverage?range=6h")

    names = {s["name"] for s in body["series"]}
    assert names == {"v1 auc (realised)", "v1 auc (estimated)"}
    assert body["second_axis"] == []
    assert body["line_type"] == {"v1 auc (estimated)": "dashed"}
    assert set(body["color_of"].values()) == {"v1"}  # a version's lines share a colour
    assert [s["name"] for s in coverage["series"]] == ["v1"]
    assert {v for _, v in coverage["series"][0]["data"]} == {0.4}


def test_chart_of_an_empty_range_has_no_points(reader: Dashboard) -> None:
    body = _chart(reader.client, "/ui/data/models/no-such-model/errors?range=1h")

    assert body["points"] == 0 and body["series"] == []


def test_unknown_chart_is_404(reader: Dashboard) -> None:
    assert reader.client.get(f"/ui/data/models/{MODEL}/pie").status_code == 404


def test_experiment_charts_show_estimates_and_boundaries_over_time(reader: Dashboard) -> None:
    estimates = _chart(reader.client, "/ui/data/experiments/new-ranker/estimates")
    sequential = _chart(reader.client, "/ui/data/experiments/new-ranker/sequential")

    assert estimates["categories"] == ["purchase (primary): treatment"]
    assert estimates["points"] == 1
    names = {s["name"] for s in sequential["series"]}
    assert names == {"treatment difference", "treatment lower bound", "treatment upper bound"}
    lower = {s["name"]: s["data"] for s in sequential["series"]}["treatment lower bound"]
    upper = {s["name"]: s["data"] for s in sequential["series"]}["treatment upper bound"]
    bounded = [
        (lo[1], hi[1])
        for lo, hi in zip(lower, upper, strict=True)
        if lo[1] is not None and hi[1] is not None  # unbounded while units are few
    ]
    assert bounded and all(lo <= hi for lo, hi in bounded)


def test_business_kpis_are_the_hourly_sums_of_the_outcomes(reader: Dashboard) -> None:
    body = _chart(reader.client, f"/ui/data/business/kpis?model={MODEL}&range=24h")

    series = {s["name"]: s["data"] for s in body["series"]}
    assert [v for _, v in series["revenue (sum)"]] == REVENUE
    assert series["revenue (sum)"][0][0] == round((NOW - 6 * HOUR) * 1000)


def test_business_charts_give_each_unit_an_axis_of_its_own(reader: Dashboard) -> None:
    kpis = _chart(reader.client, f"/ui/data/business/kpis?model={MODEL}&range=24h")
    technical = _chart(reader.client, f"/ui/data/business/technical?model={MODEL}&range=24h")

    panels = {p["title"]: p for p in kpis["panels"]}
    assert panels["revenue"] == {
        "title": "revenue",
        "unit": "sum per hour",
        "series": ["revenue (sum)"],
    }
    assert [p["series"] for p in kpis["panels"]] == [[s["name"]] for s in kpis["series"]]
    units = {p["unit"]: p["series"] for p in technical["panels"]}
    assert units["s"] == ["p99 latency (s)"]
    assert units["share of predictions"] == ["error rate"]
    assert units["share of features"] == ["drift share"]
    assert units["predictions/s"] == ["throughput (/s)"]


def test_business_page_measures_correlations_as_scipy_does(reader: Dashboard) -> None:
    html = reader.client.get(f"/business?model={MODEL}&range=24h").text

    assert 'data-chart="kpis"' in html and 'id="correlations"' in html
    row = re.search(
        r'data-kpi="revenue \(sum\)" data-metric="p99 latency \(s\)" data-status="ok">(.*?)</tr>',
        html,
        re.S,
    )
    assert row, html
    # p99 per hour is the max of the hour's points: 200 - revenue in the first 3 hours,
    # then max(200 - revenue, 51) where the minute points overlap.
    p99 = [max(200.0 - r, 51.0) if h >= 3 else 200.0 - r for h, r in enumerate(REVENUE)]
    expected = stats.pearsonr(p99, REVENUE).statistic
    shown = re.search(r'class="num pearson-r">([^<]+)<', row.group(1))
    assert shown and float(shown.group(1)) == pytest.approx(expected, abs=1e-3)
    # error rate is constant per hour: "not enough data", never NaN
    constant = re.search(
        r'data-kpi="revenue \(sum\)" data-metric="error rate" data-status="insufficient_data">'
        r"(.*?)</tr>",
        html,
        re.S,
    )
    assert constant and "not enough data" in constant.group(1)
    assert "nan" not in html.lower().replace("nannyml", "")


# -- actions --------------------------------------------------------------------------------


def test_alerts_page_lists_the_alert_with_its_state(reader: Dashboard) -> None:
    html = reader.client.get("/alerts").text

    row = re.search(r'<tr data-alert="fp-high-errors"[^>]*>(.*?)</tr>', html, re.S)
    assert row and re.search(r'<td class="state">firing', row.group(1))
    assert re.search(r'<a class="model" href="/models/[^"]+">', row.group(1))  # its model page
    assert '<form id="silence"' in html


def test_read_only_session_sees_disabled_buttons_and_gets_403(reader: Dashboard) -> None:
    html = reader.client.get("/alerts").text
    assert re.search(r'data-action="ack" disabled title="[^"]*admin', html)

    response = reader.client.post(
        "/alerts/fp-high-errors/ack", headers={"X-CSRF-Token": reader.page_csrf()}
    )

    assert response.status_code == 403
    assert "admin" in response.json()["error"]["message"]


def test_ack_without_a_csrf_token_is_403(admin: Dashboard) -> None:
    assert admin.client.post("/alerts/fp-high-errors/ack").status_code == 403
    assert (
        admin.client.post(
            "/alerts/fp-high-errors/ack", headers={"X-CSRF-Token": "wrong"}
        ).status_code
        == 403
    )


def test_ack_without_a_session_is_401(dashboard: Dashboard) -> None:
    dashboard.client.cookies.clear()

    assert dashboard.client.post("/alerts/fp-high-errors/ack").status_code == 401


def test_admin_acknowledges_an_alert_and_gets_the_row_back(admin: Dashboard) -> None:
    html = admin.client.get("/alerts").text
    assert re.search(r'<button type="button" data-action="ack" hx-post=', html)

    response = admin.client.post(
        "/alerts/fp-high-errors/ack", headers={"X-CSRF-Token": admin.page_csrf()}
    )

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<tr data-alert="fp-high-errors"')
    assert re.search(
        r'<td class="state">firing <span class="ack"[^>]*>acknowledged by admin<', response.text
    )
    stored = {a.fingerprint: a for a in admin.app.state.alerts.alerts()}["fp-high-errors"]
    assert stored.acknowledged_by == "admin"


def test_admin_adds_a_silence_with_the_form(admin: Dashboard) -> None:
    response = admin.client.post(
        "/alerts/silences",
        data={
            "csrf_token": admin.page_csrf(),
            "matchers": "model=fraud, alertname=high_error_rate",
            "duration": "2h",
            "comment": "deploying a fix",
        },
    )

    assert response.status_code == 201
    assert 'id="silences"' in response.text and "deploying a fix" in response.text
    silence = admin.app.state.alert_store.silences()[-1]
    assert silence.matchers == {"model": "fraud", "alertname": "high_error_rate"}
    assert silence.ends_at == pytest.approx(NOW + 2 * HOUR)
    assert silence.created_by == "admin"


def test_silence_with_bad_matchers_is_422(admin: Dashboard) -> None:
    response = admin.client.post(
        "/alerts/silences",
        data={"csrf_token": admin.page_csrf(), "matchers": "oops", "duration": "2h",
              "comment": "x"},
    )  # fmt: skip

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "matchers"


# -- assets ---------------------------------------------------------------------------------


def test_vendor_assets_and_favicon_are_served(dashboard: Dashboard) -> None:
    client = dashboard.client
    for path in ("/ui/vendor/echarts.min.js", "/ui/vendor/htmx.min.js", "/ui/static/dashboard.js"):
        response = client.get(path)
        assert response.status_code == 200 and "javascript" in response.headers["content-type"]
    assert client.get("/favicon.ico").status_code == 200
    assert client.get("/ui/static/../app.py").status_code == 404


def test_pages_render_with_a_banner_when_the_assets_are_missing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, port=0, web_assets=tmp_path / "no-node-modules")
    thread = CollectorThread(settings, clock=FixedClock(NOW))
    app = thread.app
    with thread as url, httpx.Client(base_url=url, follow_redirects=False) as client:
        token = app.state.metadata.create_key([Scope.READ], name="r", now=NOW)[1]
        login = csrf_of(client.get("/login").text)
        client.post("/login", data={"api_key": token, "csrf_token": login})

        html = client.get("/").text

        assert "npm ci --prefix web" in html and "/ui/vendor/echarts.min.js" not in html
        assert client.get("/ui/vendor/echarts.min.js").status_code == 404


# -- every dashboard route says who may call it --------------------------------------------

# (method, route) → (a concrete path, the answer without a session). Public: assets and
# the login form; pages: 303 to /login; data, partials and actions: 401.
DASHBOARD_ROUTES = {
    ("GET", "/ui/vendor/{name}"): ("/ui/vendor/htmx.min.js", 200),
    ("GET", "/ui/static/{name}"): ("/ui/static/dashboard.css", 200),
    ("GET", "/favicon.ico"): ("/favicon.ico", 200),
    ("GET", "/login"): ("/login", 200),
    ("POST", "/login"): ("/login", 403),  # no form token: refused before any key check
    ("POST", "/logout"): ("/logout", 303),
    ("GET", "/"): ("/", 303),
    ("GET", "/models/{model:path}"): (f"/models/{MODEL}", 303),
    ("GET", "/alerts"): ("/alerts", 303),
    ("GET", "/incidents"): ("/incidents", 303),
    ("GET", "/incidents/{incident_id}"): ("/incidents/x", 303),
    ("GET", "/experiments"): ("/experiments", 303),
    ("GET", "/experiments/{name}"): ("/experiments/x", 303),
    ("GET", "/business"): ("/business", 303),
    ("GET", "/slos"): ("/slos", 303),
    ("GET", "/ui/partials/models"): ("/ui/partials/models", 401),
    ("GET", "/ui/partials/alerts"): ("/ui/partials/alerts", 401),
    ("GET", "/ui/data/models/{model:path}/{chart}"): (f"/ui/data/models/{MODEL}/traffic", 401),
    ("GET", "/ui/data/experiments/{name}/{chart}"): ("/ui/data/experiments/x/estimates", 401),
    ("GET", "/ui/data/business/{chart}"): (f"/ui/data/business/kpis?model={MODEL}", 401),
    ("GET", "/ui/data/slos/{name}/burn"): ("/ui/data/slos/x/burn", 401),
    ("POST", "/alerts/{fingerprint}/ack"): ("/alerts/fp-high-errors/ack", 401),
    ("POST", "/alerts/silences"): ("/alerts/silences", 401),
}


def test_dashboard_route_table_covers_every_dashboard_route() -> None:
    from fastapi import FastAPI
    from fastapi.routing import iter_route_contexts

    from mlpulse.server import dashboard

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(dashboard.router)
    defined = {
        (method, str(context.path))
        for context in iter_route_contexts(app.routes)
        for method in context.methods or {"*"}
    }

    assert defined == set(DASHBOARD_ROUTES)


@pytest.mark.parametrize(("route", "call"), sorted(DASHBOARD_ROUTES.items()), ids=str)
def test_dashboard_route_answers_a_caller_without_a_session(
    dashboard: Dashboard, route: tuple[str, str], call: tuple[str, int]
) -> None:
    dashboard.client.cookies.clear()
    path, status = call

    response = dashboard.client.request(route[0], path)

    assert response.status_code == status
    if status == 303 and route[0] == "GET":
        assert response.headers["location"].startswith("/login?next=")
