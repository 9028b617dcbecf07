"""The dashboard's SLO page and the overview's budget badges, over a real collector.

An SLO of the performance kind counts ``mlpulse_performance`` points, so the seeded
points give exact good and total counts: the page's SLI, budget, burn rates and alerts
are checked against counts made here, the burn-rate chart against the series the SLO
service wrote at three ticks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlpulse.demo.collector_thread import CollectorThread
from mlpulse.domain.auth import Scope
from mlpulse.domain.series import MetricPoint
from mlpulse.server.settings import Settings
from tests.integration.test_dashboard import FixedClock, csrf_of

NOW = 1_767_225_600.0  # 2026-01-01 00:00 UTC
MINUTE = 60.0
HOUR = 3600.0
OBJECTIVE = 0.9
SLO = "shop-auc"
BAD_LAST = 30  # the last 30 of 180 minutes miss the target
TICKS = (NOW - 2 * HOUR, NOW - HOUR, NOW)
CONFIG = {
    "version": 1,
    "slos": {
        SLO: {
            "model": "shop",
            "objective": OBJECTIVE,
            "period": "30d",
            "sli": {"kind": "performance", "metric": "roc_auc", "target": 0.8},
        },
        "shop-auc-loose": {
            "model": "shop",
            "objective": 0.5,
            "sli": {"kind": "performance", "metric": "roc_auc", "target": 0.8},
        },
        "quiet-auc": {
            "model": "quiet",
            "objective": 0.99,
            "sli": {"kind": "performance", "metric": "roc_auc", "target": 0.8},
        },
    },
}


@dataclass
class Seeded:
    client: httpx.Client
    app: Any


def _bad(i: int) -> bool:
    return i >= 180 - BAD_LAST


def _seed(app: Any) -> None:
    points = []
    for i in range(180):  # one point a minute over the three hours before NOW
        ts = NOW - (180 - i) * MINUTE
        labels = {"model": "shop", "version": "v1", "metric": "roc_auc", "monitor": "perf"}
        points.append(MetricPoint(ts, "mlpulse_performance", labels, 0.7 if _bad(i) else 0.9))
        quiet = {**labels, "model": "quiet"}
        points.append(MetricPoint(ts, "mlpulse_performance", quiet, 0.9))
    app.state.series.append_points(points)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    data_dir: Path = tmp_path_factory.mktemp("dashboard-slos")
    clock = FixedClock(NOW)
    settings = Settings(data_dir=data_dir, port=0, key_cache_seconds=0.0)
    thread = CollectorThread(settings, clock=clock)
    app = thread.app
    with thread as url, httpx.Client(base_url=url, follow_redirects=False) as client:
        admin = app.state.metadata.create_key([Scope.ADMIN], name="admin", now=NOW)[1]
        read = app.state.metadata.create_key([Scope.READ], name="read", now=NOW)[1]
        applied = client.put(
            "/v1/config", json=CONFIG, headers={"Authorization": f"Bearer {admin}"}
        )
        assert applied.status_code == 200, applied.text
        _seed(app)
        for at in TICKS:  # the SLO service's series at three moments
            report = app.state.slos.tick(at)
            assert not report.failures
        token = csrf_of(client.get("/login").text)
        response = client.post("/login", data={"api_key": read, "csrf_token": token, "next": "/"})
        assert response.status_code == 303, response.text
        yield Seeded(client, app)


def _burn(window_s: float, at: float) -> float:
    """The burn rate over the minutes in [at - window_s, at), counted here."""
    minutes = [i for i in range(180) if at - window_s <= NOW - (180 - i) * MINUTE < at]
    if not minutes:
        return 0.0
    return sum(_bad(i) for i in minutes) / len(minutes) / (1 - OBJECTIVE)


def _section(html: str, name: str) -> str:
    found = re.search(rf'<section class="slo" data-slo="{name}"[^>]*>(.*?)</section>', html, re.S)
    assert found, html
    return found.group(0)


def test_slo_page_shows_objective_sli_budget_and_exhaustion(seeded: Seeded) -> None:
    html = seeded.client.get("/slos?range=6h").text
    section = _section(html, SLO)

    good, total = 180 - BAD_LAST, 180
    sli = good / total
    budget = 1 - (1 - sli) / (1 - OBJECTIVE)  # 1 - (30/180) / 0.1 = -2/3: overspent
    assert 'data-status="critical"' in section
    assert re.search(r'class="objective">Objective <strong>90%</strong> over 30d', section)
    assert f'title="{good} good of {total} events">SLI now <strong>{100 * sli:.3g}%' in section
    assert f">{100 * budget:.3g}% budget<" in section
    assert 'aria-valuenow="0.0"' in section  # the bar is empty once overspent
    assert 'class="exhaustion">Budget <strong>spent</strong>' in section  # overspent
    assert re.search(r"Burn rate, last hour <strong>5<", section)  # 30 of 60 bad / 0.1
    assert 'data-nav="slos"' in html and 'aria-current="page">SLOs<' in html
    (listed,) = [s for s in seeded.app.state.slos.states(NOW) if s.name == SLO]
    assert listed.status.good == good and listed.status.total == total


def test_slo_page_shows_time_to_exhaustion_at_the_last_hours_burn_rate(seeded: Seeded) -> None:
    html = seeded.client.get("/slos").text

    loose = _section(html, "shop-auc-loose")
    # budget 1 - (30/180) / 0.5 = 2/3 left; the last hour burns at (30/60) / 0.5 = 1, so
    # what is left lasts 2/3 of the 30-day period: 480 hours.
    assert 'data-status="ok"' in loose and ">66.7% budget<" in loose
    assert 'aria-valuenow="66.7"' in loose
    assert 'class="exhaustion">Budget spent in <strong>480.0 h</strong>' in loose
    quiet = _section(html, "quiet-auc")  # every point good: nothing burns
    assert ">100% budget<" in quiet and 'aria-valuenow="100.0"' in quiet
    assert "Budget spent in <strong>— (not burning)</strong>" in quiet


def test_slo_page_lists_each_alert_firing_or_not(seeded: Seeded) -> None:
    section = _section(seeded.client.get("/slos").text, SLO)

    rows = dict(re.findall(r'data-windows="([^"]+)" data-firing="(true|false)"', section))
    # Workbook defaults: 1h/5m at 14.4, 6h/30m at 6, 1d/2h at 3, 3d/6h at 1; the SLO has
    # three hours of data, the last 30 minutes all bad.
    expected = {}
    for long, short, threshold in (
        (HOUR, 5 * MINUTE, 14.4), (6 * HOUR, 30 * MINUTE, 6.0),
        (24 * HOUR, 2 * HOUR, 3.0), (72 * HOUR, 6 * HOUR, 1.0),
    ):  # fmt: skip
        firing = min(_burn(long, NOW), _burn(short, NOW)) >= threshold
        expected[f"{_text(long)}/{_text(short)}"] = "true" if firing else "false"
    assert rows == expected
    assert rows["3d/6h"] == "true" and rows["1h/5m"] == "false"


def _text(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    raise AssertionError(seconds)


def test_burn_chart_draws_each_window_at_each_tick_over_the_range(seeded: Seeded) -> None:
    response = seeded.client.get(f"/ui/data/slos/{SLO}/burn?range=6h")
    assert response.status_code == 200, response.text
    body = response.json()

    lines = {s["name"]: s["data"] for s in body["series"]}
    assert {"1h", "5m", "6h", "30m", "1d", "2h", "3d"} <= set(lines)
    for window, seconds in (("1h", HOUR), ("5m", 5 * MINUTE), ("6h", 6 * HOUR)):
        # 6h range: 2-minute buckets, each tick in its own
        assert [(ms / 1000, round(v, 9)) for ms, v in lines[window]] == [
            (at, round(_burn(seconds, at), 9)) for at in TICKS
        ], window
    assert body["x_range"] == [round((NOW - 6 * HOUR) * 1000), round(NOW * 1000)]
    assert "5m" in body["hidden"] and "1h" not in body["hidden"]


def test_burn_chart_of_an_unknown_slo_is_404(seeded: Seeded) -> None:
    assert seeded.client.get("/ui/data/slos/nope/burn").status_code == 404


def test_overview_badge_is_the_lowest_budget_of_the_models_slos(seeded: Seeded) -> None:
    html = seeded.client.get("/").text

    shop = re.search(r'<tr data-model="shop">(.*?)</tr>', html, re.S)
    quiet = re.search(r'<tr data-model="quiet">(.*?)</tr>', html, re.S)
    assert shop and quiet, html
    budget = 1 - (BAD_LAST / 180) / (1 - OBJECTIVE)
    assert re.search(
        rf'class="budget"><a href="/slos" class="badge critical" title="{SLO}:[^"]*">'
        rf"{100 * budget:.3g}%<",
        shop.group(1),
    )
    assert re.search(r'class="budget"><a href="/slos" class="badge ok" [^>]*>100%<', quiet.group(1))
